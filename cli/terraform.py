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

Commands that hold the state lock (plan, apply, destroy) run *detached*: terraform
gets its own session and writes to a log file that hclforge tails, not to a pipe
tied to hclforge, so hclforge's death (even ``kill -9``) never cuts terraform off
mid-apply, nor leaves a plan killed by SIGPIPE with the lock held. SIGINT, SIGTERM
and SIGHUP all reach terraform as one SIGINT, and hclforge waits for it to stop
gracefully.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from python_terraform import IsFlagged, IsNotFlagged
from python_terraform import Terraform as _PyTerraform

from hclforge.cli.tfoutput import error_text, lock_failure, lock_message, parse_events
from hclforge.cli.tfprocess import Detached as Detached
from hclforge.cli.tfprocess import LineSink as LineSink
from hclforge.cli.tfprocess import Result as Result
from hclforge.cli.tfprocess import SignalInterrupt as SignalInterrupt
from hclforge.cli.tfprocess import provider_cache_lock, run_attached, run_detached
from hclforge.errors import StateLocked, TerraformError

# Go's collector target for terraform and its providers (Go's default is 100).
GO_GC_PERCENT = "400"


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
        cache_lock: Path | None = None,
    ) -> None:
        self.workdir = workdir
        self.cache_lock = cache_lock
        self.base_env = dict(base_env) if base_env is not None else None
        self.env = dict(env or {})
        self.unset = tuple(unset)
        self.last_events: list[dict[str, Any]] = []
        self.binary = binary
        self.sink = sink
        self.color = color
        # A service root's values from shared (cli/root.py): for plan and destroy, never apply (the plan holds them).
        self.var_file: Path | None = None

    # ------------------------------------------------------------ plumbing

    def _options(self, **options: Any) -> dict[str, Any]:
        merged: dict[str, Any] = {"input": False, "no_color": IsNotFlagged if self.color else IsFlagged}
        merged.update(options)
        return merged

    def args(self, command: str, *args: str, **options: Any) -> list[str]:
        """The full command line for ``command`` (exposed for tests and ``-v``)."""
        return build_args(self.binary, command, *args, **options)

    def environ(self) -> dict[str, str]:
        """The whole environment terraform runs with.

        ``GOGC`` is :data:`GO_GC_PERCENT` unless the user set it: terraform and the
        provider are short-lived Go processes, and a less eager collector costs them
        about a quarter less CPU for some 40 MB more memory (``make bench``).
        """
        base = os.environ if self.base_env is None else self.base_env
        env = {k: v for k, v in base.items() if k not in self.unset}
        env.setdefault("GOGC", os.environ.get("GOGC") or GO_GC_PERCENT)
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
        cmd, sink = [binary, *argv[1:]], self.sink if stream else None
        # terraform's plugin cache is not safe for concurrent use: init (which writes it)
        # runs alone; every other command (which reads it) may run beside the others.
        with provider_cache_lock(self.cache_lock, exclusive=len(argv) > 1 and argv[1] == "init"):
            if detached is not None:
                result = run_detached(
                    cmd, tuple(argv), cwd=self.workdir, env=self.environ(), sink=sink, detached=detached
                )
            else:
                result = run_attached(cmd, tuple(argv), cwd=self.workdir, env=self.environ(), stdin=stdin, sink=sink)
        return self._result(result, ok)

    def _result(self, result: Result, ok: Sequence[int]) -> Result:
        if result.returncode not in ok:
            detail = result.stderr.strip() or error_text(result.stdout) or result.stdout.strip()[-4000:]
            # Lock Info names a holder; without one, terraform could not read or reach the state.
            if "Error acquiring the state lock" in detail and "Lock Info:" in detail:
                raise StateLocked(lock_message(detail), returncode=result.returncode, stderr=result.stderr)
            if "Error acquiring the state lock" in detail:
                raise TerraformError(
                    lock_failure(result.args[1], detail), returncode=result.returncode, stderr=result.stderr
                )
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
        refresh: bool = True,
        detached: Detached | None = None,
    ) -> bool:
        """``terraform plan -out=FILE -detailed-exitcode`` (``-json`` with ``events``; ``-target=`` per target;
        ``-refresh=false`` without ``refresh``).

        The ``-json`` event stream stays in :attr:`last_events` for summaries. With
        ``detached``, it runs in its own session (it holds the state lock).

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
            refresh=None if refresh else False,
            var=None,
            var_file=str(self.var_file) if self.var_file else None,
            detached=detached,
        )
        self.last_events = parse_events(result.stdout) if events else []
        return result.returncode == 2

    def apply_plan(self, plan: Path, *, events: bool = False, detached: Detached | None = None) -> Result:
        """Apply a saved plan: no variables, no ``-var-file``, no prompt (the plan is the approval)."""
        return self.run(
            "apply", str(plan), var=None, auto_approve=None, json=IsFlagged if events else None, detached=detached
        )

    def destroy(self, *, events: bool = False, detached: Detached | None = None) -> Result:
        """Destroy everything, without python-terraform's removed ``-force`` flag."""
        return self.run(
            "destroy",
            auto_approve=IsFlagged,
            var=None,
            var_file=str(self.var_file) if self.var_file else None,
            json=IsFlagged if events else None,
            detached=detached,
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

    def state_push(self, path: Path) -> None:
        """``terraform state push FILE``: write a whole state through the backend (its lock, its credentials).

        terraform refuses a document of another lineage, or of a lower serial, only when
        the state there holds resources; and the S3 backend numbers what it writes itself
        (a new state gets a lineage of its own): read the state back to know what was written.
        """
        self.execute(self.args("state", "push", str(path)), stream=False)


def file_digest(paths: Sequence[Path], base: Path) -> str:
    """SHA-256 over the relative names and contents of ``paths`` (missing files count as absent)."""
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(path.relative_to(base).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() if path.is_file() else b"<absent>")
        digest.update(b"\0")
    return digest.hexdigest()
