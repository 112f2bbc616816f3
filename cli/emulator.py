"""The local AWS emulator: moto in server mode, on 127.0.0.1 only.

``start`` launches ``moto.server`` in its own session (so it outlives the CLI
command, keeping state between ``apply`` and ``plan``), records pid and port in
``.hclforge/emulator.json`` and waits until it answers. ``stop`` ends it.
Nothing here ever binds or calls an address other than 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from hclforge.errors import EmulatorError

HOST = "127.0.0.1"
ACCOUNT_ID = "123456789012"
STATE_FILE = "emulator.json"
# Removed from the environment of anything pointed at the emulator: a real
# profile or session token must never mix with the emulator's fake keys.
UNSET_VARS = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")
START_TIMEOUT = 30.0


@dataclass(frozen=True)
class Emulator:
    """A running emulator."""

    pid: int
    port: int
    generation: str = ""

    @property
    def endpoint(self) -> str:
        return f"http://{HOST}:{self.port}"

    def client_env(self, region: str) -> dict[str, str]:
        """Variables that point terraform, the AWS provider and boto3 at this emulator.

        Also unset :data:`UNSET_VARS` in that environment.
        """
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "AWS_EC2_METADATA_DISABLED": "true",
        }


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def healthy(port: int, timeout: float = 2.0) -> bool:
    """True when a moto server answers on ``port``.

    Asks for the dashboard page, whose cost does not grow with the emulator's
    state (``/moto-api/data.json`` dumps every resource and gets slow).
    """
    try:
        with urllib.request.urlopen(f"http://{HOST}:{port}/moto-api/", timeout=timeout) as resp:
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def status(state_dir: Path) -> Emulator | None:
    """The emulator recorded under ``state_dir``, if it is running and healthy."""
    path = state_dir / STATE_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        emu = Emulator(int(data["pid"]), int(data["port"]), str(data.get("generation", "")))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if _alive(emu.pid) and healthy(emu.port):
        return emu
    return None


def start(state_dir: Path, port: int = 0, *, log: Path | None = None) -> Emulator:
    """Start the emulator (or return the running one).

    Args:
        state_dir: where ``emulator.json`` and the log live.
        port: the port to bind on 127.0.0.1; 0 picks a free one.
        log: the server's log file (default ``state_dir/emulator.log``).

    Raises:
        EmulatorError: moto is not installed, the port is taken, or it never became healthy.
    """
    state_dir.mkdir(parents=True, exist_ok=True)
    # One start at a time: parallel plans (plan --all) must share one emulator.
    with (state_dir / "emulator.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        running = status(state_dir)
        if running is not None:
            return running
        return _launch(state_dir, port, log)


def _launch(state_dir: Path, port: int, log: Path | None) -> Emulator:
    port = port or free_port()
    if healthy(port, timeout=0.3):
        raise EmulatorError(f"port {port} on {HOST} is already taken by another server")
    log = log or state_dir / "emulator.log"
    env = {**os.environ, "MOTO_IAM_LOAD_MANAGED_POLICIES": "true", "MOTO_ACCOUNT_ID": ACCOUNT_ID}
    with log.open("ab") as out:
        try:
            proc = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", HOST, "-p", str(port)],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                start_new_session=True,
            )
        except OSError as err:
            raise EmulatorError(f"cannot start the emulator: {err}") from None
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text(encoding="utf-8", errors="replace")[-2000:]
            raise EmulatorError(f"the emulator exited at start (code {proc.returncode}):\n{tail}")
        if healthy(port, timeout=0.5):
            # Each start is a new, empty world: state written against an older one is void.
            emu = Emulator(proc.pid, port, f"{int(time.time())}-{proc.pid}")
            tmp = state_dir / (STATE_FILE + ".tmp")
            tmp.write_text(
                json.dumps({"pid": emu.pid, "port": emu.port, "generation": emu.generation}), encoding="utf-8"
            )
            tmp.replace(state_dir / STATE_FILE)
            return emu
        time.sleep(0.2)
    proc.kill()
    raise EmulatorError(f"the emulator did not answer on {HOST}:{port} within {START_TIMEOUT:.0f} s (log: {log})")


def stop(state_dir: Path) -> bool:
    """Stop the recorded emulator. Returns False when none was running."""
    path = state_dir / STATE_FILE
    emu = None
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        data = json.loads(path.read_text(encoding="utf-8"))
        emu = Emulator(int(data["pid"]), int(data["port"]))
    path.unlink(missing_ok=True)
    if emu is None or not _alive(emu.pid):
        return False
    stop_pid(emu.pid)
    return True


def stop_pid(pid: int, timeout: float = 10.0) -> None:
    """Terminate a server process, then kill it if it lingers."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        if not _alive(pid):
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
