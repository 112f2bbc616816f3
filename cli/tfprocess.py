"""Running a terraform process: attached (pipes) or detached (its own session, tailed logs), and stopping it gracefully.

Used only by :class:`hclforge.cli.terraform.Terraform`, which builds the command
lines. SIGINT, SIGTERM and SIGHUP all reach terraform as one SIGINT, and the
caller waits for terraform to stop (it releases its lock and writes state).

Python delivers a signal to the main thread only. Where terraform runs in other
threads (a split environment's service roots, in parallel), the main thread calls
:func:`stop_all`: every terraform this process runs gets its one SIGINT, none
starts after it, and each thread raises :class:`~hclforge.errors.Interrupted` once
its terraform has stopped.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hclforge.errors import Interrupted, TerraformError

LineSink = Callable[[str], None]
PRIVATE_UMASK = 0o077


class _Runs:
    """The terraform processes this hclforge runs, and the interrupt that stops them all (if any)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.live: set[subprocess.Popen[Any]] = set()
        self.signalled: set[subprocess.Popen[Any]] = set()
        self.stopping: KeyboardInterrupt | None = None


_RUNS = _Runs()


def stop_all(interrupt: KeyboardInterrupt) -> None:
    """Stop every terraform run of this process: each running one gets one SIGINT, and none starts after.

    Called by the main thread (the only one a signal reaches) while other threads
    run terraform; each of them raises :class:`~hclforge.errors.Interrupted` once its
    terraform has stopped. :func:`resume` ends it.
    """
    with _RUNS.lock:
        _RUNS.stopping = interrupt
        procs = list(_RUNS.live - _RUNS.signalled)
        _RUNS.signalled.update(procs)
    for proc in procs:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGINT)


def resume() -> None:
    """Let terraform run again after :func:`stop_all` (its threads have all ended)."""
    with _RUNS.lock:
        _RUNS.stopping = None
        _RUNS.signalled.clear()


@contextlib.contextmanager
def _running(argv: Sequence[str], start: Callable[[], subprocess.Popen[Any]]) -> Iterator[subprocess.Popen[Any]]:
    """Start a process with ``start`` and keep it where :func:`stop_all` finds it, unless everything is stopping."""
    with _RUNS.lock:
        if _RUNS.stopping is not None:
            raise interrupted(argv, _RUNS.stopping)
        proc = start()
        _RUNS.live.add(proc)
    try:
        yield proc
    finally:
        with _RUNS.lock:
            _RUNS.live.discard(proc)


def _stopped_by_all(argv: Sequence[str], proc: subprocess.Popen[Any]) -> None:
    """Raise :class:`~hclforge.errors.Interrupted` if :func:`stop_all` stopped ``proc`` before it finished."""
    with _RUNS.lock:
        stop = _RUNS.stopping if proc in _RUNS.signalled else None
        _RUNS.signalled.discard(proc)
    if stop is not None and proc.returncode != 0:
        raise interrupted(argv, stop)


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


@dataclass(frozen=True)
class Result:
    """What a terraform command returned."""

    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str


class Tail:
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


def stop_gracefully(proc: subprocess.Popen[Any]) -> None:
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


def interrupted(argv: Sequence[str], interrupt: KeyboardInterrupt) -> Interrupted:
    """The error for a command stopped by Ctrl-C, SIGTERM or SIGHUP, naming the signal."""
    signum = interrupt.signum if isinstance(interrupt, SignalInterrupt) else signal.SIGINT
    name = signal.Signals(signum).name
    command = argv[1] if len(argv) > 1 else ""
    return Interrupted(f"interrupted ({name}): terraform {command} stopped", signum=int(signum))


def run_attached(
    cmd: list[str], argv: tuple[str, ...], *, cwd: Path, env: dict[str, str], stdin: str | None, sink: LineSink | None
) -> Result:
    """Run ``cmd`` with its output on pipes, passing each line to ``sink`` as it arrives.

    Raises:
        TerraformError: it cannot be started.
        Interrupted: SIGINT, SIGTERM or SIGHUP; the command was given a SIGINT and
            time to stop gracefully before this is raised.
    """

    def start() -> subprocess.Popen[str]:
        try:
            return subprocess.Popen(
                cmd,
                cwd=cwd,
                env=env,
                stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                encoding="utf-8",
                errors="replace",
                umask=PRIVATE_UMASK,
            )
        except OSError as err:
            raise TerraformError(f"cannot run {cmd[0]}: {err}") from None

    with _running(argv, start) as proc:
        stderr_lines: list[str] = []

        def pump_stderr() -> None:
            assert proc.stderr is not None
            for line in proc.stderr:
                stderr_lines.append(line)
                if sink is not None:
                    sink(line.rstrip("\n"))

        reader = threading.Thread(target=pump_stderr, daemon=True)
        reader.start()
        stdout_lines: list[str] = []
        try:
            if stdin is not None:
                assert proc.stdin is not None
                proc.stdin.write(stdin)
                proc.stdin.close()
            assert proc.stdout is not None
            for line in proc.stdout:
                stdout_lines.append(line)
                if sink is not None:
                    sink(line.rstrip("\n"))
            proc.wait()
        except KeyboardInterrupt as interrupt:
            stop_gracefully(proc)
            reader.join(timeout=5)
            raise interrupted(argv, interrupt) from None
        reader.join()
        _stopped_by_all(argv, proc)
    return Result(argv, proc.returncode, "".join(stdout_lines), "".join(stderr_lines))


def run_detached(
    cmd: list[str], argv: tuple[str, ...], *, cwd: Path, env: dict[str, str], sink: LineSink | None, detached: Detached
) -> Result:
    """Run ``cmd`` in its own session, its output in log files that are tailed to ``sink``.

    The command outlives this process, even a ``kill -9`` of it.

    Raises:
        TerraformError: it cannot be started.
        Interrupted: as :func:`run_attached`.
    """
    log, err_log = detached.log, detached.log.with_name(detached.log.name + ".stderr")
    log.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fds = [os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600) for p in (log, err_log)]

    def start() -> subprocess.Popen[bytes]:
        try:
            return subprocess.Popen(
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

    with contextlib.ExitStack() as stack:
        for fd in fds:
            stack.callback(os.close, fd)  # the child has its own copies
        proc = stack.enter_context(_running(argv, start))
        out_tail, err_tail = Tail(log), Tail(err_log)
        try:
            if detached.on_start is not None:
                detached.on_start(proc.pid)
            while proc.poll() is None:
                if not out_tail.pump(sink) and not err_tail.pump(sink):
                    time.sleep(0.1)
        except KeyboardInterrupt as interrupt:
            stop_gracefully(proc)
            out_tail.pump(sink, final=True)
            err_tail.pump(sink, final=True)
            raise interrupted(argv, interrupt) from None
        out_tail.pump(sink, final=True)
        err_tail.pump(sink, final=True)
        _stopped_by_all(argv, proc)
    return Result(argv, proc.returncode, "".join(out_tail.lines), "".join(err_tail.lines))


@contextlib.contextmanager
def provider_cache_lock(path: Path | None, *, exclusive: bool) -> Iterator[None]:
    """Hold the plugin cache's lock: exclusive for ``terraform init``, shared for the rest.

    terraform's plugin cache is not safe for concurrent use: an init that installs a
    provider can replace files another terraform is executing. Processes and threads
    (``plan --all``) each take the lock on their own open file, so they contend.
    """
    if path is None:
        yield
        return
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)
