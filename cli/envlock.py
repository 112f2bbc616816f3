"""One hclforge command at a time plans, applies or destroys an environment of a project.

terraform locks the state only while it runs. ``deploy`` plans, then applies: in the
gap, a second deploy of another service planned over the saved plan and applied it
(its own), and the first then planned again unseen, or was refused for a plan that
was not its own. So plan, apply, deploy and destroy hold this lock from their first
look at the saved plan until their apply ends (a deploy's rollout wait is not under
it: it changes nothing). A second command fails at once, naming the holder.

The lock is an ``flock`` on a file beside the saved plan (``Root.command_lock``): it
ends with its process, however that ends (``kill -9`` too), so it is never left
behind; the file names its holder while it is held. A workspace holds it through
:meth:`~hclforge.cli.ops.Workspace.holding`.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

from hclforge.cli.private import private_dir
from hclforge.cli.procs import process_start_time
from hclforge.errors import StateLocked, printable

NOTE_BYTES = 4096  # a holder's note is a few hundred bytes


@contextlib.contextmanager
def holding(path: Path, env: str, command: str) -> Iterator[None]:
    """Hold ``path``'s lock while the block runs, for ``command`` on ``env``.

    Raises:
        StateLocked: another process holds it (exit 1); names it, its command and since when.
    """
    private_dir(path.parent)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise StateLocked(_held_message(os.pread(fd, NOTE_BYTES, 0), env)) from None
        note = {
            "command": command,
            "pid": os.getpid(),
            "start_time": process_start_time(os.getpid()),
            "since": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(note).encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)  # nobody holds it once it is unlocked
    finally:
        os.close(fd)  # releases the flock


def _held_message(raw: bytes, env: str) -> str:
    """Who holds the lock, from its note (a holder that has not written it yet is 'another hclforge')."""
    try:
        note = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        note = None
    if isinstance(note, dict):
        who = f"hclforge pid {printable(str(note.get('pid', '?')))} ({printable(str(note.get('command', '?')))})"
        since = printable(str(note.get("since", "an unknown time")))
    else:
        who, since = "another hclforge", "a moment ago"
    return (
        f"the state is locked by {who}, since {since}: another hclforge command is planning or applying "
        f"{env} in this project; try again when it is done"
    )
