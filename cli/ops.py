"""One environment of one project, as the CLI acts on it: render, init, plan, apply, destroy.

No click here: prompts and output go through the callbacks a :class:`Workspace`
is given, so this module is usable and testable without a terminal. The rooms
around it: :mod:`~hclforge.cli.workcopy` (the working copy and its overrides),
:mod:`~hclforge.cli.binding` (what binds a saved plan to what was reviewed),
:mod:`~hclforge.cli.runs` (detached apply/destroy), :mod:`~hclforge.cli.awsaccess`
(account guard, boto3), :mod:`~hclforge.cli.terraform` (the one runner).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hclforge import envcache, tree
from hclforge.cli import awsaccess, binding, envlock, localstate, planapply, workcopy
from hclforge.cli.private import private_dir, write_private
from hclforge.cli.settings import Settings
from hclforge.cli.summary import Drift, Summary, drift_of, from_json
from hclforge.cli.terraform import LineSink, Terraform, file_digest
from hclforge.cli.tfconfig import write_cli_config
from hclforge.cli.workcopy import LOCK_FILE, overrides_for, sync_copy
from hclforge.loaded import LoadedEnv
from hclforge.tree import MODULES_DIR

if TYPE_CHECKING:
    from hclforge.routes import PathReport

Confirm = Callable[[str], bool]
ConfirmPlan = Callable[[Summary], bool]
# Given a title and the number of changes expected, gives the line sink for a
# ``-json`` event stream (a context manager: it shows progress while it is open).
# The third argument says whether to show per-resource progress (apply, destroy) or
# only diagnostics and messages (plan).
EventsFactory = Callable[[str, "int | None", bool], AbstractContextManager[LineSink]]


@dataclass(frozen=True)
class PlanResult:
    """A saved plan and its summary."""

    plan_file: Path
    summary: Summary


class Workspace:
    """One environment of one project, as the CLI acts on it.

    Args:
        settings: the project settings.
        env: the environment name.
        emulator: run against the local emulator even if the environment is not an emulator one.
        sink: receives terraform's output lines (None: silent).
        info: receives hclforge's own progress messages.
        allow_replace: lift ``prevent_destroy`` (protect: true) for this run, on a copy of the tree.
        events: makes the sink for terraform's ``-json`` event stream (progress);
            None runs plan/apply/destroy without it.
    """

    def __init__(
        self,
        settings: Settings,
        env: str,
        *,
        emulator: bool = False,
        sink: LineSink | None = None,
        info: Callable[[str], None] | None = None,
        color: bool = False,
        events: EventsFactory | None = None,
        allow_replace: bool = False,
    ) -> None:
        self.allow_replace = allow_replace
        self.events = events
        self._account_checked = False
        self._runner: Terraform | None = None
        self.settings = settings
        self.env = env
        self.force_emulator = emulator
        self.sink = sink
        self.info = info or (lambda _msg: None)
        self.color = color
        self.init_count = 0
        # The metadata of the saved plan the last apply applied (cli/binding.py).
        self.applied_meta: dict[str, Any] = {}
        self.holds_lock = False  # this workspace holds its command lock (cli/envlock.py)

    # ------------------------------------------------------------ config and paths

    @cached_property
    def loaded(self) -> LoadedEnv:
        """The environment, validated; from the cache when no input changed (:mod:`hclforge.envcache`)."""
        cache_dir = private_dir(self.settings.state_dir / "cache" / "config")
        loaded = envcache.load(self.settings.root, self.env, cache_dir)
        workcopy.refuse_split(self.env, loaded.config)
        for problem in loaded.warnings:
            self.info(f"warning: {problem}")
        return loaded

    @property
    def on_emulator(self) -> bool:
        """True when terraform talks to the local emulator for this run."""
        return self.loaded.config.aws.emulator or self.force_emulator

    @property
    def emulator_copy(self) -> bool:
        """A non-emulator environment on the emulator runs on an overridden copy of its tree."""
        return self.force_emulator and not self.loaded.config.aws.emulator

    @property
    def uses_copy(self) -> bool:
        """terraform runs on a copy of the tree (emulator override, or --allow-replace)."""
        return self.emulator_copy or self.allow_replace

    @property
    def copy_name(self) -> str:
        """Prefix of the copy's working files: ``emulator``, ``unprotected`` or both."""
        parts = (["emulator"] if self.emulator_copy else []) + (["unprotected"] if self.allow_replace else [])
        return "-".join(parts)

    @property
    def tree_dir(self) -> Path:
        return self.settings.root / MODULES_DIR / self.env

    @property
    def work_dir(self) -> Path:
        """Where terraform runs: the generated tree, or its copy."""
        return self.files_dir / f"{self.copy_name}-tree" if self.uses_copy else self.tree_dir

    @property
    def files_dir(self) -> Path:
        """hclforge's working files for this environment (outside the generated tree)."""
        return self.settings.env_dir(self.env)

    @property
    def data_dir(self) -> Path:
        return self.files_dir / (f"{self.copy_name}-tfdata" if self.uses_copy else "tfdata")

    @property
    def plan_file(self) -> Path:
        return self.files_dir / (f"{self.copy_name}.tfplan" if self.uses_copy else "plan.tfplan")

    @property
    def plan_meta_file(self) -> Path:
        return self.plan_file.with_suffix(".meta.json")

    def rel(self, path: Path) -> str:
        """``path`` relative to the project root when it is inside it, for messages."""
        return str(path.relative_to(self.settings.root) if path.is_relative_to(self.settings.root) else path)

    # ------------------------------------------------------------ render and runner

    # Render when stale: see cli/workcopy.py.
    render = workcopy.render

    def runner(self) -> Terraform:
        """The runner for this environment, made on the first call: CLI config, data dir, endpoint.

        On the emulator this starts the emulator; terraform's whole environment is then its scrubbed one.
        """
        if self._runner is None:
            base_env = None
            if self.on_emulator:
                emu = awsaccess.start_emulator(self)
                base_env = emu.environ(self.loaded.config.aws.region)
                localstate.void_stale(self, emu)
            self._runner = self.make_runner(self.work_dir, self.data_dir, base_env)
        return self._runner

    @property
    def has_runner(self) -> bool:
        """Whether :meth:`runner` was called (what it was made for is then fixed)."""
        return self._runner is not None

    def make_runner(self, workdir: Path, data_dir: Path, base_env: dict[str, str] | None) -> Terraform:
        """A runner for ``workdir`` with this project's CLI config (``runner()`` is the tree's own)."""
        private_dir(self.settings.state_dir)
        localstate.privatize(self)
        env = {
            "TF_CLI_CONFIG_FILE": str(write_cli_config(self.settings)),
            "TF_DATA_DIR": str(data_dir),
            "TF_IN_AUTOMATION": "1",
            "TF_INPUT": "0",
            "CHECKPOINT_DISABLE": "1",
        }
        return Terraform(
            workdir,
            env=env,
            binary=self.settings.terraform_bin,
            sink=self.sink,
            color=self.color,
            base_env=base_env,
            cache_lock=self.settings.plugin_cache_dir / ".hclforge.lock",
        )

    @contextmanager
    def streaming(self, title: str, total: int | None, progress: bool = True) -> Iterator[bool]:
        """Point the runner's output at an event sink for one command; yields whether ``-json`` is on."""
        if self.events is None:
            yield False
            return
        tf = self.runner()
        previous = tf.sink
        with self.events(title, total, progress) as sink:
            tf.sink = sink
            try:
                yield True
            finally:
                tf.sink = previous

    def local_state_file(self) -> Path | None:
        """The local state file terraform uses here, or None for an S3 backend."""
        if self.emulator_copy:
            return self.files_dir / "emulator.tfstate"
        if self.loaded.config.backend.type == "local":
            return (self.tree_dir / tree.local_state_path(self.env)).resolve()
        return None

    def state_doc(self) -> dict[str, Any] | None:
        """The state document right now (None: no state yet)."""
        state = self.local_state_file()
        if state is not None:
            return binding.read_json(state) if state.is_file() else None
        return self.runner().state_pull()

    def prepare_workdir(self) -> None:
        if not self.uses_copy:
            return
        local = self.loaded.config.backend.type == "local"
        overrides = overrides_for(
            self.tree_dir,
            state=self.local_state_file() if local else None,
            emulator_state=self.files_dir / "emulator.tfstate" if self.emulator_copy else None,
            unprotect=self.allow_replace,
        )
        sync_copy(self.tree_dir, self.work_dir, overrides)

    def _init_fingerprint(self) -> str:
        tf = self.runner()
        root_files = [*self.work_dir.glob("*.tf"), *self.work_dir.glob("*.tf.json"), self.work_dir / LOCK_FILE]
        modules = sorted(p.name for p in self.work_dir.iterdir() if p.is_dir() and not p.name.startswith("."))
        # The endpoint reaches init only through an S3 backend: with local state (every
        # emulator copy too), an emulator restarted on another port needs no new init.
        local = self.local_state_file() is not None
        backend_env = "" if local else (tf.base_env or {}).get("AWS_ENDPOINT_URL", "")
        cli_config = Path(tf.env["TF_CLI_CONFIG_FILE"]).read_text(encoding="utf-8")
        extra = repr([modules, backend_env, cli_config, self.settings.terraform_bin])
        return file_digest(root_files, self.work_dir) + ":" + binding.hash_text(extra)

    def check_account(self) -> None:
        """Refuse credentials of another AWS account before terraform runs (see :mod:`cli.awsaccess`)."""
        if not self._account_checked:
            awsaccess.check_account(self)
            self._account_checked = True

    def init(self, *, force: bool = False) -> bool:
        """Run ``terraform init`` unless nothing it depends on changed since the last one.

        Returns:
            True when init ran.
        """
        self.render()
        self.prepare_workdir()
        stamp = self.files_dir / (f"{self.copy_name}-init.stamp" if self.uses_copy else "init.stamp")
        fingerprint = self._init_fingerprint()
        if not force and self.data_dir.is_dir() and stamp.is_file() and stamp.read_text() == fingerprint:
            return False
        self.info(f"terraform init ({self.env})")
        private_dir(self.files_dir)
        stamp.unlink(missing_ok=True)
        self.runner().init(reconfigure=True)
        self.init_count += 1
        # The lock file may have been written by init: fingerprint after it.
        write_private(stamp, self._init_fingerprint())
        return True

    # ------------------------------------------------------------ plan

    # One command at a time plans or applies the environment: see cli/envlock.py.
    holding = envlock.workspace_lock

    # Plan, apply and destroy: see cli/planapply.py.
    plan = planapply.plan
    apply = planapply.apply
    destroy = planapply.destroy

    def load_saved_summary(self) -> Summary:
        meta = binding.read_json(self.plan_meta_file) or {}
        return from_json(meta["summary"])

    def saved_plan_problem(self) -> str | None:
        """Why the saved plan may not be applied as it is (see :func:`cli.binding.saved_plan_problem`)."""
        return binding.saved_plan_problem(self)

    def discard_plan(self) -> None:
        for path in (self.plan_file, self.plan_meta_file):
            path.unlink(missing_ok=True)

    # ------------------------------------------------------------ apply, destroy

    def bootstrap(self) -> None:
        """Create the environment's S3 state bucket (and lock table), idempotently."""
        awsaccess.bootstrap(self)

    def drift(self) -> list[Drift]:
        """A refresh-only plan: what changed outside Terraform. Read-only: nothing is applied."""
        self.check_account()
        self.init()
        private_dir(self.files_dir)
        plan_file = self.files_dir / "drift.tfplan"
        try:
            self.runner().plan(plan_file, refresh_only=True)
            return drift_of(self.runner().show_json(plan_file))
        finally:
            plan_file.unlink(missing_ok=True)

    def outputs(self, name: str | None = None) -> Any:
        """The root module's outputs (all, or one)."""
        self.init()
        return self.runner().output_json(name)

    def aws_client(self, service: str) -> Any:
        """A boto3 client for this environment: the emulator's, or the profile's in the real account."""
        return awsaccess.session(self).client(service)

    def routes(self) -> PathReport:
        """Plan, then follow every route and ``calls`` edge through the plan's JSON."""
        from hclforge.routes import check_paths

        result = self.plan()
        return check_paths(self.env, self.loaded.config, self.runner().show_json(result.plan_file))

    def validate(self) -> dict[str, Any]:
        """``terraform validate`` on the rendered tree, with its own backend-less init.

        Needs no AWS at all: the emulator is not started, and no AWS variable of the
        shell reaches terraform (a scrubbed environment without an endpoint).
        """
        self.render()
        private_dir(self.files_dir)
        base_env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        runner = self.make_runner(self.tree_dir, self.files_dir / "validate-tfdata", base_env)
        runner.sink = None
        runner.run("init", backend=False, stream=False)
        return runner.validate()
