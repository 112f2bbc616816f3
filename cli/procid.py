"""Process identity: is this pid still the very process that was recorded?

A pid alone can be reused; its start time (Linux: /proc/PID/stat field 22) and a
token in its environment cannot. hclforge signals or waits for a process only when
all of them match (the emulator, a detached terraform).
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

TOKEN_VAR = "HCLFORGE_EMULATOR_TOKEN"


def alive(pid: int) -> bool:
    """Whether a process ``pid`` (> 1) exists, ours or not."""
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


def _has_token(pid: int, token: str) -> bool:
    if not Path("/proc/self/environ").exists():
        return True  # no /proc to read it from: pid and start time carry the identity
    try:
        environ_bytes = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return False
    return f"{TOKEN_VAR}={token}".encode() in environ_bytes.split(b"\0")


def same_process(pid: int, start_time: int | None, token: str | None = None) -> bool:
    """True only when ``pid`` is still the very process that was recorded.

    A pid of 0, 1 or below names no single process and never matches; the start
    time must be the recorded one (a reused pid has another), and when a token is
    given the process's environment must carry it.
    """
    if pid <= 1 or start_time is None or not alive(pid):
        return False
    if process_start_time(pid) != start_time:
        return False
    return token is None or _has_token(pid, token)
