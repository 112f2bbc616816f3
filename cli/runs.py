"""Apply and destroy run detached from hclforge, and are accounted for if hclforge dies.

terraform runs in its own session with its output in a log hclforge tails
(:class:`~hclforge.cli.terraform.Detached`), so killing hclforge never cuts it off
mid-apply. While it runs, ``running.json`` records it; the next command that finds a
record whose hclforge is gone waits for that terraform, says how it ended, and
throws away the plan it spent.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hclforge.cli import emulator
from hclforge.cli.binding import discard_plan, read_json
from hclforge.cli.private import write_private
from hclforge.cli.root import Root
from hclforge.cli.terraform import Detached, Result, Terraform

RUNNING_NOTE = "running.json"


def owner_alive(note: dict[str, Any]) -> bool:
    """Whether the hclforge that recorded a running apply is still alive (and so watching it)."""
    owner, start = note.get("hclforge_pid"), note.get("hclforge_start_time")
    return isinstance(owner, int) and isinstance(start, int) and emulator.same_process(owner, start)


def run_outcome(log: Path) -> str:
    """How a terraform run ended, read from its log: ``finished``, ``failed`` or ``interrupted``."""
    try:
        text = log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "interrupted"
    events = [e for e in (_json_line(line) for line in text.splitlines()) if e is not None]
    if any(e.get("type") == "diagnostic" and e.get("diagnostic", {}).get("severity") == "error" for e in events):
        return "failed"
    if any(e.get("type") == "change_summary" for e in events) or re.search(
        r"^(Apply|Destroy) complete!", text, flags=re.M
    ):
        return "finished"
    if re.search(r"^Error: ", text, flags=re.M):
        return "failed"
    return "interrupted"


def _json_line(line: str) -> dict[str, Any] | None:
    try:
        value = json.loads(line)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def running_note(root: Root) -> Path:
    """The record of a running apply or destroy on this root's state."""
    return root.files_dir / (f"emulator-{RUNNING_NOTE}" if root.emulator_copy else RUNNING_NOTE)


def settle_interrupted_run(root: Root, info: Callable[[str], None]) -> dict[str, Any] | None:
    """Report, and wait for, an apply or destroy that an earlier hclforge started and did not see end.

    If it still runs, this waits for it; then it says how it ended, from its log,
    and forgets the record. A run whose hclforge is still alive is left to it (the
    state lock refuses a second run). Returns the record (None when there was none,
    or it is still watched).
    """
    path = running_note(root)
    note = read_json(path)
    if note is None:
        path.unlink(missing_ok=True)
        return None
    if owner_alive(note):
        return None
    pid = int(note.get("pid", 0))
    start = note.get("start_time")
    start_time = int(start) if start is not None else None
    command = str(note.get("command", "apply"))
    article = "an" if command[:1] in ("a", "e", "i", "o", "u") else "a"
    what = f"{article} {command} of {root.label} started at {note.get('started', '?')} by pid {pid}"
    log = note.get("log", "?")
    if emulator.same_process(pid, start_time):
        info(f"{what} is still running (hclforge pid {note.get('hclforge_pid')} stopped); its log is {log}")
        info("waiting for it to finish before going on")
        while emulator.same_process(pid, start_time):
            time.sleep(1)
    told = {
        "finished": "finished after hclforge stopped watching it",
        "failed": "failed after hclforge stopped watching it",
        "interrupted": "was interrupted before it finished",
    }[run_outcome(Path(log))]
    info(f"{what} {told}; its log is {log}")
    plan_sha = note.get("plan_sha256")
    meta = read_json(root.plan_meta_file)
    if plan_sha and meta is not None and meta.get("plan_sha256") == plan_sha:
        # That plan was (partly) applied: it is spent, and a new one starts from the state it left.
        discard_plan(root)
        info("its saved plan is spent; planning again from the state it left")
    if note.get("plan"):
        Path(note["plan"]).unlink(missing_ok=True)
    path.unlink(missing_ok=True)
    return note


def run_detached(
    root: Root, tf: Terraform, command: str, plan_sha: str | None, events: bool, plan: Path | None = None
) -> Result:
    """Run apply (``plan`` given) or destroy of ``root`` with ``tf``, detached from hclforge; its result.

    The run is recorded while it runs (:func:`recorded`).
    """
    with recorded(root, command, plan_sha, plan) as detached:
        if plan is not None:
            return tf.apply_plan(plan, events=events, detached=detached)
        return tf.destroy(events=events, detached=detached)


@contextmanager
def recorded(root: Root, command: str, plan_sha: str | None = None, plan: Path | None = None) -> Iterator[Detached]:
    """How to run ``command`` on ``root`` detached from hclforge, recorded while it runs (:func:`running_note`).

    Plan, apply and destroy all hold the state lock: each runs detached, so that
    hclforge's death (``kill -9``) never leaves terraform killed with the lock held
    (a plan on a pipe dies of SIGPIPE at its next line, its lock left behind), and
    the next command waits for it (:func:`settle_interrupted_run`).

    Its output goes to a log of its own while it runs, renamed ``<command>.log`` once
    hclforge has seen it end. A record another live hclforge holds is left alone
    (that run's terraform holds the state lock; this one will fail on it).
    """
    log = root.files_dir / f"{command}.{os.getpid()}.log"
    path = running_note(root)
    held = read_json(path)
    owned = not (held and owner_alive(held))

    def record(pid: int) -> None:
        note = {
            "command": command,
            "pid": pid,
            "start_time": emulator.process_start_time(pid),
            "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
            "hclforge_pid": os.getpid(),
            "hclforge_start_time": emulator.process_start_time(os.getpid()),
            "log": str(log),
            "plan": str(plan) if plan else None,
            "plan_sha256": plan_sha,
        }
        if owned:
            write_private(path, json.dumps(note, indent=2))

    try:
        yield Detached(log, on_start=record)
    finally:
        # Reached only once terraform has exited: hclforge saw it end.
        if owned:
            path.unlink(missing_ok=True)
        for done in (log, log.with_name(log.name + ".stderr")):
            if done.is_file():
                done.replace(root.files_dir / done.name.replace(f".{os.getpid()}.log", ".log"))
