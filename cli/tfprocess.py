"""How terraform runs as a process: detached for apply and destroy, stopped gracefully on a signal.

Used by the runner (:mod:`hclforge.cli.terraform`) only.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hclforge.errors import Interrupted

LineSink = Callable[[str], None]
# State, plans and their JSON, and logs are private to the user.
PRIVATE_UMASK = 0o077


class SignalInterrupt(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised like Ctrl-C so every command stops the same graceful way."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(signal.Signals(signum).name)


@dataclass(frozen=True)
class Detached:
    """How to run one command detached: its log file, and who to tell its pid.

    Attributes:
        log: terraform's stdout goes here (stderr to ``log`` + ``.stderr``); hclforge tails both.
        on_start: called with the pid once terraform runs (to record it).
    """

    log: Path
    on_start: Callable[[int], None] | None = None


class _Tail:
    """Reads a growing log file line by line (a partial last line waits for its end)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.partial = b""
        self.lines: list[str] = []

    def pump(self, sink: LineSink | None, *, final: bool = False) -> bool:
        """Pass new complete lines to ``sink``; returns whether anything new was read."""
        try:
            with self.path.open("rb") as f:
                f.seek(self.offset)
                data = f.read()
        except OSError:
            return False
        self.offset += len(data)
        chunks = (self.partial + data).split(b"\n")
        self.partial = chunks.pop()
        if final and self.partial:
            chunks.append(self.partial)
            self.partial = b""
        for chunk in chunks:
            line = chunk.decode("utf-8", errors="replace")
            self.lines.append(line + "\n")
            if sink is not None:
                sink(line)
        return bool(data)


def _stop_gracefully(proc: subprocess.Popen[Any]) -> None:
    """Give terraform one SIGINT and wait for it to stop (it releases its lock and writes state).

    Further signals while waiting do not cut it off: a second Ctrl-C or SIGTERM is
    ignored here, since stopping terraform hard is what loses state.
    """
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGINT)
    while True:
        try:
            proc.wait()
            return
        except KeyboardInterrupt:
            continue


def _interrupted(argv: Sequence[str], interrupt: KeyboardInterrupt) -> Interrupted:
    signum = interrupt.signum if isinstance(interrupt, SignalInterrupt) else signal.SIGINT
    name = signal.Signals(signum).name
    command = argv[1] if len(argv) > 1 else ""
    return Interrupted(f"interrupted ({name}): terraform {command} stopped", signum=int(signum))


def execute_detached(
    cmd: list[str],
    argv: tuple[str, ...],
    *,
    cwd: Path,
    env: dict[str, str],
    sink: LineSink | None,
    detached: Detached,
) -> tuple[int, str, str]:
    """Run ``cmd`` in its own session, its output in ``detached.log`` (tailed to ``sink``).

    Returns:
        The exit code, stdout and stderr.

    Raises:
        Interrupted: a signal stopped it (terraform was given SIGINT and waited for).
    """
    from hclforge.errors import TerraformError

    log, err_log = detached.log, detached.log.with_name(detached.log.name + ".stderr")
    log.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fds = [os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600) for p in (log, err_log)]
    try:
        proc = subprocess.Popen(
            cmd,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=fds[0],
            stderr=fds[1],
            start_new_session=True,
            umask=PRIVATE_UMASK,
        )
    except OSError as err:
        raise TerraformError(f"cannot run {cmd[0]}: {err}") from None
    finally:
        for fd in fds:
            os.close(fd)
    out_tail, err_tail = _Tail(log), _Tail(err_log)
    try:
        if detached.on_start is not None:
            detached.on_start(proc.pid)
        while proc.poll() is None:
            if not out_tail.pump(sink) and not err_tail.pump(sink):
                time.sleep(0.1)
    except KeyboardInterrupt as interrupt:
        _stop_gracefully(proc)
        out_tail.pump(sink, final=True)
        err_tail.pump(sink, final=True)
        raise _interrupted(argv, interrupt) from None
    out_tail.pump(sink, final=True)
    err_tail.pump(sink, final=True)
    return proc.returncode, "".join(out_tail.lines), "".join(err_tail.lines)


def spawn_show_json(binary: str, plan: Path, dest: Path, *, cwd: Path, env: dict[str, str]) -> None:
    """Write ``show -json PLAN`` to ``dest`` from a process that outlives this one.

    ``show -json`` starts the provider again to load its schemas (about as long as a
    small plan), so it runs after the command has answered. The plan is copied
    first, and the JSON appears atomically (a temporary file, then a rename).
    """
    import shutil

    snapshot = dest.with_suffix(".src.tfplan")
    shutil.copyfile(plan, snapshot)
    script = '"$0" show -json -no-color "$1" > "$2.tmp" && mv "$2.tmp" "$2"; rm -f "$1"'
    subprocess.Popen(
        ["sh", "-c", script, binary, str(snapshot), str(dest)],
        cwd=cwd,
        env=env,
        umask=PRIVATE_UMASK,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        # Deferred work must not slow what the user waits on next.
        preexec_fn=lambda: os.nice(10),
    )
