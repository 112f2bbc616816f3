"""The terraform runner: the only code that builds terraform command lines.

It wraps python-terraform, keeping its keyword-to-flag mapping
(``generate_cmd_string``) and working around its defects with Terraform >= 0.15:

* ``destroy()`` sends the removed ``-force`` flag          -> ``-auto-approve`` instead;
* ``apply()`` ties ``-auto-approve`` to ``skip_plan``      -> flags passed explicitly;
* an empty ``var={}`` adds a temporary ``-var-file``       -> ``var=None`` always;
  (it also breaks applying a saved plan, which takes no variables);
* ``plan()`` adds ``-detailed-exitcode``                  -> exit 2 read as "changes";
* positional directories are gone                        -> ``working_dir`` / ``-chdir`` only;
* ``capture_output=True`` buffers everything             -> our own executor streams lines;
* ``synchronous=False`` leaks ``-synchronous=false``      -> never used.

Every command runs non-interactively (``-input=false``), without colour unless
asked, with the project's CLI config and a data dir outside the generated tree,
and with umask 077 (state, plans and their JSON are private to the user).

Commands that change infrastructure (apply, destroy) run *detached*: terraform
gets its own session and writes to a log file that hclforge tails, not to a pipe
tied to hclforge, so hclforge's death (even ``kill -9``) never cuts terraform off
mid-apply. SIGINT, SIGTERM and SIGHUP all reach terraform as one SIGINT, and
hclforge waits for it to stop gracefully.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from python_terraform import IsFlagged, IsNotFlagged
from python_terraform import Terraform as _PyTerraform

from hclforge.errors import Interrupted, StateLocked, TerraformError

LineSink = Callable[[str], None]
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


@dataclass(frozen=True)
class Result:
    """What a terraform command returned."""

    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str


class _Commands(_PyTerraform):  # type: ignore[misc]
    """python-terraform, used only to turn keywords into flags (never to run)."""

    def __init__(self, binary: str) -> None:
        # Skips the base __init__: it reads terraform.tfstate from the cwd.
        self.terraform_bin_path = binary
        self.temp_var_files = None
        self.is_env_vars_included = True
        self.working_dir = None
        self.state = None
        self.targets: list[str] = []
        self.variables: dict[str, Any] = {}
        self.parallelism = None
        self.var_file = None


def build_args(binary: str, command: str, *args: str, **options: Any) -> list[str]:
    """Build a terraform command line with python-terraform's keyword rules.

    ``name=IsFlagged`` gives ``-name``; ``name=value`` gives ``-name=value``
    (``_`` becomes ``-``); ``None``/``IsNotFlagged`` are left out; lists repeat.
    Dicts are refused: python-terraform would write them to a temporary
    ``-var-file`` that outlives nothing useful and breaks saved-plan applies.
    """
    for name, value in options.items():
        if isinstance(value, dict):
            raise TypeError(f"option {name}: dict values are not supported (python-terraform var-file defect)")
    return list(_Commands(binary).generate_cmd_string(command, *args, **options))


class Terraform:
    """Runs terraform in one root module directory.

    Args:
        workdir: the root module (``modules/<env>`` or a copy of it).
        env: extra environment variables (CLI config, data dir, AWS endpoint...).
        binary: the terraform executable.
        sink: called with each output line as it arrives (streaming); None for silence.
        color: keep terraform's colours (only on a TTY).
        unset: variables removed from the inherited environment.
        base_env: the environment to start from instead of this process's (the
            emulator's scrubbed one); ``env`` is added to it.
    """

    def __init__(
        self,
        workdir: Path,
        *,
        env: Mapping[str, str] | None = None,
        binary: str = "terraform",
        sink: LineSink | None = None,
        color: bool = False,
        unset: Sequence[str] = (),
        base_env: Mapping[str, str] | None = None,
    ) -> None:
        self.workdir = workdir
        self.base_env = dict(base_env) if base_env is not None else None
        self.env = dict(env or {})
        self.unset = tuple(unset)
        self.last_events: list[dict[str, Any]] = []
        self.binary = binary
        self.sink = sink
        self.color = color

    # ------------------------------------------------------------ plumbing

    def _options(self, **options: Any) -> dict[str, Any]:
        merged: dict[str, Any] = {"input": False, "no_color": IsNotFlagged if self.color else IsFlagged}
        merged.update(options)
        return merged

    def args(self, command: str, *args: str, **options: Any) -> list[str]:
        """The full command line for ``command`` (exposed for tests and ``-v``)."""
        return build_args(self.binary, command, *args, **options)

    def environ(self) -> dict[str, str]:
        """The whole environment terraform runs with."""
        base = os.environ if self.base_env is None else self.base_env
        env = {k: v for k, v in base.items() if k not in self.unset}
        env.update(self.env)
        return env

    def execute(
        self,
        argv: Sequence[str],
        *,
        ok: Sequence[int] = (0,),
        stream: bool = True,
        stdin: str | None = None,
        detached: Detached | None = None,
    ) -> Result:
        """Run ``argv``, streaming stdout lines to the sink, and collect both streams.

        With ``detached``, terraform runs in its own session with its output in a log
        file that is tailed, so it outlives this process.

        Raises:
            TerraformError: the binary is missing, or the exit code is not in ``ok``.
            Interrupted: SIGINT, SIGTERM or SIGHUP; terraform was given a SIGINT and
                time to release its lock and write state before this is raised.
        """
        binary = shutil.which(argv[0], path=self.env.get("PATH", os.environ.get("PATH")))
        if binary is None:
            raise TerraformError(
                f"terraform not found: '{argv[0]}' is not on PATH "
                "(install terraform >= 1.10, or set HCLFORGE_TERRAFORM)"
            )
        if detached is not None:
            return self._execute_detached([binary, *argv[1:]], tuple(argv), ok, stream, detached)
        try:
            proc = subprocess.Popen(
                [binary, *argv[1:]],
                cwd=self.workdir,
                env=self.environ(),
                stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                encoding="utf-8",
                errors="replace",
                umask=PRIVATE_UMASK,
            )
        except OSError as err:
            raise TerraformError(f"cannot run {binary}: {err}") from None
        stderr_lines: list[str] = []

        def pump_stderr() -> None:
            assert proc.stderr is not None
            for line in proc.stderr:
                stderr_lines.append(line)
                if stream and self.sink is not None:
                    self.sink(line.rstrip("\n"))

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
                if stream and self.sink is not None:
                    self.sink(line.rstrip("\n"))
            proc.wait()
        except KeyboardInterrupt as interrupt:
            _stop_gracefully(proc)
            reader.join(timeout=5)
            raise _interrupted(argv, interrupt) from None
        reader.join()
        return self._result(Result(tuple(argv), proc.returncode, "".join(stdout_lines), "".join(stderr_lines)), ok)

    def _execute_detached(
        self, cmd: list[str], argv: tuple[str, ...], ok: Sequence[int], stream: bool, detached: Detached
    ) -> Result:
        log, err_log = detached.log, detached.log.with_name(detached.log.name + ".stderr")
        log.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fds = [os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600) for p in (log, err_log)]
        try:
            proc = subprocess.Popen(
                cmd,
                cwd=self.workdir,
                env=self.environ(),
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
        sink = self.sink if stream else None
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
        return self._result(Result(argv, proc.returncode, "".join(out_tail.lines), "".join(err_tail.lines)), ok)

    def _result(self, result: Result, ok: Sequence[int]) -> Result:
        if result.returncode not in ok:
            detail = result.stderr.strip() or error_text(result.stdout) or result.stdout.strip()[-4000:]
            if "Error acquiring the state lock" in detail:
                raise StateLocked(lock_message(detail), returncode=result.returncode, stderr=result.stderr)
            raise TerraformError(
                f"terraform {result.args[1]} failed (exit {result.returncode}):\n{detail}",
                returncode=result.returncode,
                stderr=result.stderr,
            )
        return result

    def run(
        self,
        command: str,
        *args: str,
        ok: Sequence[int] = (0,),
        stream: bool = True,
        detached: Detached | None = None,
        **options: Any,
    ) -> Result:
        """Build the command line for ``command`` with non-interactive defaults, and execute it."""
        argv = self.args(command, *args, **self._options(**options))
        return self.execute(argv, ok=ok, stream=stream, detached=detached)

    # ------------------------------------------------------------ commands

    def version(self) -> dict[str, Any]:
        """``terraform version -json``: terraform and provider versions."""
        out = self.execute(self.args("version", json=IsFlagged), stream=False).stdout
        return dict(json.loads(out))

    def init(self, *, upgrade: bool = False, reconfigure: bool = False) -> Result:
        """``terraform init`` (never prompts; ``-reconfigure`` only when asked)."""
        return self.run(
            "init",
            upgrade=IsFlagged if upgrade else None,
            reconfigure=IsFlagged if reconfigure else None,
        )

    def validate(self) -> dict[str, Any]:
        """``terraform validate -json``; returns the diagnostics document."""
        argv = self.args("validate", json=IsFlagged, no_color=IsFlagged)
        result = self.execute(argv, ok=(0, 1), stream=False)
        doc: dict[str, Any] = json.loads(result.stdout)
        return doc

    def plan(
        self,
        out: Path,
        *,
        refresh_only: bool = False,
        destroy: bool = False,
        events: bool = False,
        targets: list[str] | None = None,
    ) -> bool:
        """``terraform plan -out=FILE -detailed-exitcode`` (``-json`` with ``events``; ``-target=`` per target).

        The ``-json`` event stream stays in :attr:`last_events` for summaries.

        Returns:
            True when the plan has changes (exit 2), False when it has none.
        """
        result = self.run(
            "plan",
            ok=(0, 2),
            out=str(out),
            detailed_exitcode=IsFlagged,
            refresh_only=IsFlagged if refresh_only else None,
            destroy=IsFlagged if destroy else None,
            json=IsFlagged if events else None,
            target=list(targets) if targets else None,
            var=None,
        )
        self.last_events = parse_events(result.stdout) if events else []
        return result.returncode == 2

    def show_json_detached(self, plan: Path, dest: Path) -> None:
        """Write ``show -json PLAN`` to ``dest`` from a process that outlives this one.

        ``show -json`` starts the provider again to load its schemas (about as long
        as a small plan), so it runs after the command has answered. The plan is
        copied first, and the JSON appears atomically (a temporary file, then a rename).
        """
        binary = shutil.which(self.binary, path=self.env.get("PATH", os.environ.get("PATH")))
        if binary is None:
            return
        snapshot = dest.with_suffix(".src.tfplan")
        shutil.copyfile(plan, snapshot)
        script = '"$0" show -json -no-color "$1" > "$2.tmp" && mv "$2.tmp" "$2"; rm -f "$1"'
        subprocess.Popen(
            ["sh", "-c", script, binary, str(snapshot), str(dest)],
            cwd=self.workdir,
            env=self.environ(),
            umask=PRIVATE_UMASK,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            # Deferred work must not slow what the user waits on next.
            preexec_fn=lambda: os.nice(10),
        )

    def apply_plan(self, plan: Path, *, events: bool = False, detached: Detached | None = None) -> Result:
        """Apply a saved plan: no variables, no ``-var-file``, no prompt (the plan is the approval)."""
        return self.run(
            "apply", str(plan), var=None, auto_approve=None, json=IsFlagged if events else None, detached=detached
        )

    def destroy(self, *, events: bool = False, detached: Detached | None = None) -> Result:
        """Destroy everything, without python-terraform's removed ``-force`` flag."""
        return self.run(
            "destroy", auto_approve=IsFlagged, var=None, json=IsFlagged if events else None, detached=detached
        )

    def show_json(self, plan: Path | None = None) -> dict[str, Any]:
        """``terraform show -json [PLAN]``: the plan, or the current state."""
        args = (str(plan),) if plan else ()
        out = self.execute(self.args("show", *args, json=IsFlagged, no_color=IsFlagged), stream=False).stdout
        return dict(json.loads(out))

    def output_json(self, name: str | None = None) -> Any:
        """``terraform output -json [NAME]``."""
        args = (name,) if name else ()
        out = self.execute(self.args("output", *args, json=IsFlagged, no_color=IsFlagged), stream=False).stdout
        return json.loads(out)

    def state_pull(self) -> dict[str, Any] | None:
        """The current state document, or None when there is no state yet."""
        out = self.execute(self.args("state", "pull"), stream=False).stdout.strip()
        return json.loads(out) if out else None


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


def parse_events(stdout: str) -> list[dict[str, Any]]:
    """The events of a ``-json`` stream (lines that are not JSON objects are skipped)."""
    events = []
    for line in stdout.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict):
            events.append(event)
    return events


def diagnostic_text(event: dict[str, Any]) -> str:
    """A ``-json`` diagnostic event as terraform prints it: severity, summary, where, detail."""
    diag = event.get("diagnostic", {})
    where = diag.get("range") or {}
    loc = f" ({where.get('filename')}:{where.get('start', {}).get('line')})" if where.get("filename") else ""
    head = f"{str(diag.get('severity', 'error')).capitalize()}: {diag.get('summary', '')}{loc}"
    detail = diag.get("detail") or ""
    return head + (f"\n{detail}" if detail else "")


def error_text(stdout: str) -> str:
    """Every error diagnostic of a ``-json`` event stream ('' when there is none)."""
    return "\n".join(
        diagnostic_text(event)
        for event in parse_events(stdout)
        if event.get("type") == "diagnostic" and event.get("diagnostic", {}).get("severity") == "error"
    )


def lock_message(detail: str) -> str:
    """Terraform's state-lock error, said plainly: who holds the lock, doing what, since when."""
    info = dict(re.findall(r"^\s*(ID|Path|Operation|Who|Created):\s*(.*?)\s*$", detail, flags=re.M))
    created = info.get("Created", "")
    since = re.sub(r"(\d{2}:\d{2}:\d{2})\.\d+ \+0000 UTC", r"\1 UTC", created) or "an unknown time"
    operation = info.get("Operation", "").removeprefix("OperationType").lower() or "an operation"
    return (
        f"the state is locked by {info.get('Who', 'someone')} ({operation}), since {since}: another terraform "
        f"is working on this environment; try again when it is done. Lock ID {info.get('ID', '?')} on "
        f"{info.get('Path', 'the state')}; only if that run crashed: terraform force-unlock {info.get('ID', 'ID')}"
    )


def file_digest(paths: Sequence[Path], base: Path) -> str:
    """SHA-256 over the relative names and contents of ``paths`` (missing files count as absent)."""
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(path.relative_to(base).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() if path.is_file() else b"<absent>")
        digest.update(b"\0")
    return digest.hexdigest()
