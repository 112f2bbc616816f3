"""The local AWS emulator: moto in server mode, on 127.0.0.1 only.

``start`` launches ``moto.server`` (through :mod:`cli.motoserve`) in its own session (so it outlives the CLI
command, keeping state between ``apply`` and ``plan``), records pid, port and the
process's identity (start time and a random token) in ``.hclforge/emulator.json``
and waits until it answers. ``stop`` ends it, and signals only a process whose
identity matches the record. Nothing here ever binds or calls an address other
than 127.0.0.1.

:func:`environ` is the one builder of the environment of anything that talks to
the emulator (moto itself, terraform, boto3 clients): the user's shell (profiles,
tokens, endpoint overrides, CA bundles, proxies) never reaches it.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hclforge.cli.extras import require_emulator
from hclforge.cli.private import private_dir, write_private
from hclforge.cli.procs import alive
from hclforge.cli.procs import process_start_time as process_start_time
from hclforge.cli.procs import stop_pid as stop_pid
from hclforge.errors import EmulatorError
from hclforge.shims import emulator_process_env

HOST = "127.0.0.1"
ACCOUNT_ID = "123456789012"
STATE_FILE = "emulator.json"
# Removed from the environment of anything pointed at the emulator: a real
# profile or session token must never mix with the emulator's fake keys.
# (:func:`environ` drops every AWS_* variable; this list is what tests unset.)
UNSET_VARS = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")
# Variables of the user's shell that never reach the emulator or its clients,
# besides every AWS_* one: moto's own settings, and the AWS CLI's.
_DROPPED_PREFIXES = ("AWS_", "MOTO_", "BOTO_")
_DROPPED = frozenset({"BOTO_CONFIG", "TEST_SERVER_MODE"})
_PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")
_NO_PROXY = "127.0.0.1,localhost"
TOKEN_VAR = "HCLFORGE_EMULATOR_TOKEN"
START_TIMEOUT = 30.0


def environ(endpoint: str, region: str, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The whole environment of a process that talks to the emulator at ``endpoint``.

    Every ``AWS_*`` variable of ``base`` (default: this process's environment) is
    dropped: profiles, session tokens, real keys, ``AWS_ENDPOINT_URL_<SERVICE>``,
    ``AWS_CA_BUNDLE``, role and web-identity settings, config and credentials files.
    The shared config and credentials files point at ``/dev/null``; fake keys, the
    endpoint, the region and moto's settings are set; proxies are kept for
    everything but 127.0.0.1 and localhost.

    Args:
        endpoint: the emulator's URL (``http://127.0.0.1:PORT``).
        region: the AWS region of the clients.
        base: the environment to start from.
    """
    source = os.environ if base is None else base
    env = {k: v for k, v in source.items() if not k.startswith(_DROPPED_PREFIXES) and k not in _DROPPED}
    env.update(
        {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_MAX_ATTEMPTS": "3",
            "MOTO_IAM_LOAD_MANAGED_POLICIES": "true",
            "MOTO_ACCOUNT_ID": ACCOUNT_ID,
        }
    )
    if any(name in env for name in _PROXY_VARS):
        for name in ("NO_PROXY", "no_proxy"):
            current = [h for h in env.get(name, "").split(",") if h.strip()]
            env[name] = ",".join([*current, *(h for h in _NO_PROXY.split(",") if h not in current)])
    else:
        env["NO_PROXY"] = env["no_proxy"] = _NO_PROXY
    return env


def boto3_session(region: str) -> Any:
    """A boto3 session for the emulator's clients that reads nothing of the user's AWS setup.

    No profile, no shared config or credentials file, fake keys. Make clients with
    :meth:`Emulator.client`, which also sets the endpoint and bypasses proxies.
    """
    import boto3
    import botocore.session

    core = botocore.session.Session(
        session_vars={
            "profile": (None, None, None, None),
            "config_file": (None, None, os.devnull, None),
            "credentials_file": (None, None, os.devnull, None),
            "ca_bundle": (None, None, None, None),
            "ignore_configured_endpoint_urls": (None, None, "true", None),
        }
    )
    return boto3.session.Session(
        aws_access_key_id="test", aws_secret_access_key="test", region_name=region, botocore_session=core
    )


@dataclass(frozen=True)
class Emulator:
    """A running emulator."""

    pid: int
    port: int
    generation: str = ""
    launched: bool = field(default=False, compare=False)  # by the start() that returned it: say so

    @property
    def endpoint(self) -> str:
        return f"http://{HOST}:{self.port}"

    def client_env(self, region: str) -> dict[str, str]:
        """The variables :func:`environ` sets to point terraform and boto3 at this emulator."""
        return {k: v for k, v in environ(self.endpoint, region, {}).items() if k.startswith("AWS_")}

    def environ(self, region: str) -> dict[str, str]:
        """The whole, scrubbed environment of a process that talks to this emulator."""
        return environ(self.endpoint, region)

    def client(self, service: str, region: str) -> Any:
        """A boto3 client for this emulator: scrubbed session, its endpoint, no proxies."""
        from botocore.config import Config

        return boto3_session(region).client(
            service, endpoint_url=self.endpoint, config=Config(proxies={}, retries={"total_max_attempts": 3})
        )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def healthy(port: int, timeout: float = 2.0) -> bool:
    """Whether moto answers 200 on ``port`` for its dashboard: plain HTTP/1.0 (no proxy, no urllib/ssl)."""
    deadline = time.monotonic() + timeout
    try:
        with socket.create_connection((HOST, port), timeout=timeout) as sock:
            sock.sendall(f"GET /moto-api/ HTTP/1.0\r\nHost: {HOST}:{port}\r\n\r\n".encode("ascii"))
            head = b""
            while chunk := sock.recv(65536):  # to the end: the server closes an HTTP/1.0 reply
                if len(head) < 256:
                    head += chunk
                if time.monotonic() > deadline:
                    break
    except OSError:
        return False
    return head.split(b"\r\n", 1)[0].split(b" ")[1:2] == [b"200"]


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


@dataclass(frozen=True)
class _Record:
    emu: Emulator
    start_time: int | None
    token: str | None
    ready: bool

    @property
    def is_ours(self) -> bool:
        return self.token is not None and same_process(self.emu.pid, self.start_time, self.token)


def _read_record(state_dir: Path) -> _Record | None:
    try:
        data = json.loads((state_dir / STATE_FILE).read_text(encoding="utf-8"))
        emu = Emulator(int(data["pid"]), int(data["port"]), str(data.get("generation", "")))
        start_time = data.get("start_time")
        token = data.get("token")
        return _Record(
            emu,
            int(start_time) if start_time is not None else None,
            str(token) if token is not None else None,
            bool(data.get("ready", True)),
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def _write_record(state_dir: Path, emu: Emulator, start_time: int | None, token: str, *, ready: bool) -> None:
    data = {
        "pid": emu.pid,
        "port": emu.port,
        "generation": emu.generation,
        "start_time": start_time,
        "token": token,
        "ready": ready,
    }
    write_private(state_dir / STATE_FILE, json.dumps(data))


def status(state_dir: Path) -> Emulator | None:
    """The emulator recorded under ``state_dir``, if it is that very process, running and healthy."""
    record = _read_record(state_dir)
    if record is not None and record.ready and record.is_ours and healthy(record.emu.port):
        return record.emu
    return None


def start(state_dir: Path, port: int = 0, *, log: Path | None = None) -> Emulator:
    """Start the emulator (or return the running one).

    One start at a time, from launch until it answers: a second start waits for the first, and
    while a recorded emulator process lives, no other one is started (waited for, never orphaned).

    Args:
        state_dir: where ``emulator.json`` and the log live.
        port: the port to bind on 127.0.0.1; 0 picks a free one.
        log: the server's log file (default ``state_dir/emulator.log``).

    Raises:
        MissingExtra, EmulatorError: moto is not installed (an extra); the port is taken, or it never answered.
    """
    private_dir(state_dir)
    # One start at a time: parallel plans (plan --all) must share one emulator.
    fd = os.open(state_dir / "emulator.lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        record = _read_record(state_dir)
        if record is not None and record.is_ours:
            # Ours and alive, maybe slow to answer: wait for it rather than start another.
            _wait_healthy(record.emu.pid, record.emu.port, None, log or state_dir / "emulator.log")
            if not record.ready:
                _write_record(state_dir, record.emu, record.start_time, str(record.token), ready=True)
            return record.emu
        return _launch(state_dir, port, log)


def _wait_healthy(pid: int, port: int, proc: subprocess.Popen[bytes] | None, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            tail = log.read_text(encoding="utf-8", errors="replace")[-2000:]
            raise EmulatorError(f"the emulator exited at start (code {proc.returncode}):\n{tail}")
        if proc is None and not alive(pid):
            raise EmulatorError(f"the emulator (pid {pid}) exited before it answered (log: {log})")
        if healthy(port, timeout=0.5):
            return
        time.sleep(0.2)
    if proc is not None:
        proc.kill()
    raise EmulatorError(f"the emulator did not answer on {HOST}:{port} within {START_TIMEOUT:.0f} s (log: {log})")


def _launch(state_dir: Path, port: int, log: Path | None) -> Emulator:
    require_emulator()
    port = port or free_port()
    if healthy(port, timeout=0.3):
        raise EmulatorError(f"port {port} on {HOST} is already taken by another server")
    log = log or state_dir / "emulator.log"
    token = secrets.token_hex(16)
    env = {**environ(f"http://{HOST}:{port}", "us-east-1"), **emulator_process_env(), TOKEN_VAR: token}
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "ab") as out:
        try:
            proc = subprocess.Popen(
                [sys.executable, "-m", "hclforge.cli.motoserve", "-H", HOST, "-p", str(port)],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                start_new_session=True,
                umask=0o077,
            )
        except OSError as err:
            raise EmulatorError(f"cannot start the emulator: {err}") from None
    # Each start is a new, empty world: state written against an older one is void.
    emu = Emulator(proc.pid, port, f"{int(time.time())}-{proc.pid}", launched=True)
    start_time = process_start_time(proc.pid)
    # Recorded before the wait: a start that dies waiting leaves no unrecorded server behind.
    _write_record(state_dir, emu, start_time, token, ready=False)
    try:
        _wait_healthy(proc.pid, port, proc, log)
    except EmulatorError:
        (state_dir / STATE_FILE).unlink(missing_ok=True)
        raise
    _write_record(state_dir, emu, start_time, token, ready=True)
    return emu


def stop(state_dir: Path, *, info: Callable[[str], None] | None = None) -> bool:
    """Stop the recorded emulator. Returns False when none was running.

    Only a process whose pid, start time and token all match the record is
    signalled. Anything else (a reused pid, a hand-written or corrupt file) is a
    stale record: the file is removed, nothing is signalled, and ``info`` is told.
    """
    path = state_dir / STATE_FILE
    record = _read_record(state_dir)
    if record is None:
        if path.exists() and info is not None:
            info(f"removed an unreadable {path}; no process was signalled")
        path.unlink(missing_ok=True)
        return False
    path.unlink(missing_ok=True)
    if not record.is_ours:
        if info is not None and alive(record.emu.pid):
            info(
                f"{path} named pid {record.emu.pid}, which is not the emulator hclforge started "
                "(another process, or a stale record): removed the file, signalled nothing"
            )
        return False
    stop_pid(record.emu.pid)
    return True
