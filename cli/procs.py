"""Processes hclforge started and recorded: is a pid still alive, when did it start, and stopping it.

A start time read from the system tells a reused pid from the recorded process;
nothing here ever signals pid 1 or below (process groups, init).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

from hclforge.errors import EmulatorError


def alive(pid: int) -> bool:
    """True while a process ``pid`` exists (pid 1 and below never count)."""
    if pid <= 1:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def process_start_time(pid: int) -> int | None:
    """When process ``pid`` started, as a number that differs for a reused pid; None when it is gone.

    On Linux: clock ticks since boot, /proc/PID/stat field 22. Elsewhere (no /proc):
    seconds since the epoch from ``ps -o lstart=``.
    """
    if pid <= 0:
        return None
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return None if Path("/proc/self/stat").exists() else _ps_start_time(pid)
    except OSError:
        return None
    # Field 2 (the command name) is in parentheses and may hold spaces: split after its last ')'.
    fields = stat[stat.rfind(")") + 2 :].split()
    try:
        return int(fields[19])  # field 22 of the whole line
    except (IndexError, ValueError):
        return None


def _ps_start_time(pid: int) -> int | None:
    try:
        out = subprocess.run(
            ["ps", "-o", "lstart=", "-p", str(pid)],
            capture_output=True,
            text=True,
            env={**os.environ, "LC_ALL": "C"},
            timeout=10,
            check=False,
        ).stdout.strip()
        return int(time.mktime(time.strptime(out, "%a %b %d %H:%M:%S %Y")))
    except (OSError, ValueError, subprocess.SubprocessError):
        return None


def stop_pid(pid: int, timeout: float = 10.0) -> None:
    """Terminate a server process, then kill it if it lingers (never pid 1 or below)."""
    if pid <= 1:
        raise EmulatorError(f"refusing to signal pid {pid}")
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        if not alive(pid):
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
