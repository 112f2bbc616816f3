"""One root of one environment, as the CLI acts on it: render, init, the runner, state and reads.

No click here: output goes through the callbacks a :class:`Workspace` is given. The rooms below take its
:class:`~hclforge.cli.root.Root`, never the workspace (workcopy, binding, envlock, localstate, awsaccess,
terraform); plan, apply and destroy sit above it, in :mod:`~hclforge.cli.planapply`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from functools import cached_property
from pathlib import Path
from typing import Any

from hclforge import envcache, statemove
from hclforge.cli import awsaccess, binding, envlock, localstate, workcopy
from hclforge.cli.emulator import Emulator
from hclforge.cli.private import private_dir, write_private
from hclforge.cli.root import Root, env_root, split_root
from hclforge.cli.settings import Settings
from hclforge.cli.summary import Drift, Summary, drift_of, from_json
from hclforge.cli.terraform import LineSink, Terraform, file_digest
from hclforge.cli.tfconfig import write_cli_config
from hclforge.cli.workcopy import overrides_for, sync_copy
from hclforge.loaded import LoadedEnv
from hclforge.roots import RootLayout
from hclforge.tree import FileChange

# Given a title, the number of changes expected and whether to show per-resource progress
# (apply, destroy; not plan), gives the line sink for a ``-json`` event stream (open: progress).
EventsFactory = Callable[[str, "int | None", bool], AbstractContextManager[LineSink]]


class Workspace:
    """One root of one environment (:func:`~hclforge.cli.root.env_root`, or a split one's ``layout``).

    Args:
        settings: the project settings.
        env: the environment name.
        emulator: run against the local emulator even if the environment is not an emulator one.
        sink: receives terraform's output lines (None: silent).
        info: receives hclforge's own progress messages.
        allow_replace: lift ``prevent_destroy`` (protect: true) for this run, on a copy of the tree.
        events: makes the sink for terraform's ``-json`` event stream (progress); None: without it.
        loaded: the environment as a run of every root loaded it (its warnings said once); None: load it.
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
        layout: RootLayout | None = None,
        loaded: LoadedEnv | None = None,
    ) -> None:
        self.layout = layout
        if loaded is not None:
            self.__dict__["loaded"] = loaded  # the cached property below, given
        self._allow_replace = allow_replace
        self.events = events
        self._account_checked = False
        self._runner: Terraform | None = None
        self._root: Root | None = None
        self.settings = settings
        self.env = env
        self.force_emulator = emulator
        self.sink = sink
        self.info = info or (lambda _msg: None)
        self.color = color
        self.init_count = 0
        self.applied_meta: dict[str, Any] = {}  # the saved plan's the last apply applied (cli/binding.py)
        self.holds_lock = False  # this workspace holds its command lock (cli/envlock.py)
        self.render_checked = False  # a split run checked the render once for every root (cli/splitrun.py)

    # ------------------------------------------------------------ config and the root

    @cached_property
    def loaded(self) -> LoadedEnv:
        """The environment, validated; from the cache when no input changed (:mod:`hclforge.envcache`)."""
        cache_dir = private_dir(self.settings.state_dir / "cache" / "config")
        loaded = envcache.load(self.settings.root, self.env, cache_dir)
        for problem in loaded.warnings:
            self.info(f"warning: {problem}")
        return loaded

    @property
    def on_emulator(self) -> bool:
        """True when terraform talks to the local emulator for this run."""
        return self.loaded.config.aws.emulator or self.force_emulator

    @property
    def allow_replace(self) -> bool:
        """Whether this run lifts ``prevent_destroy``, on a copy of the tree."""
        return self._allow_replace

    def lift_protection(self) -> None:
        """Run on a copy of the tree without ``prevent_destroy`` (a forced destroy); before the runner is made."""
        if not self._allow_replace:  # made with it (a split environment's forced destroy): lifted already
            assert self._runner is None, "protection must be lifted before the runner is made"
            self._allow_replace, self._root = True, None

    @property
    def root(self) -> Root:
        """Where this run's tree, working files, state and saved plan are."""
        if self._root is None:
            cfg = self.loaded.config
            copy = {"emulator_copy": self.force_emulator and not cfg.aws.emulator, "unprotected": self._allow_replace}
            if self.layout is not None:
                self._root = split_root(self.settings, cfg, self.layout, **copy)
            else:
                workcopy.refuse_split(self.env, cfg)
                self._root = env_root(self.settings, self.env, cfg.backend, **copy)
        return self._root

    # ------------------------------------------------------------ render and runner

    def render(self) -> list[FileChange]:
        """Render the environment when stale (:func:`~hclforge.cli.workcopy.render`), unless ``render_checked``."""
        if self.render_checked:
            return []
        return workcopy.render(self.settings, self.loaded, self.info)

    def emulator(self) -> Emulator:
        """The local emulator, started if it is not running (:func:`~hclforge.cli.awsaccess.start_emulator`)."""
        return awsaccess.start_emulator(self.settings, self.info)

    def runner(self) -> Terraform:
        """The runner for this root, made on the first call: CLI config, data dir, endpoint.

        On the emulator this starts the emulator; terraform's whole environment is then its scrubbed one.
        """
        if self._runner is None:
            base_env = None
            if self.on_emulator:
                emu = self.emulator()
                base_env = emu.environ(self.loaded.config.aws.region)
                localstate.void_stale(self.root, emu, self.info)
            self._runner = self.make_runner(self.root.work_dir, self.root.data_dir, base_env)
            self._runner.var_file = self.root.var_file
        return self._runner

    def make_runner(self, workdir: Path, data_dir: Path, base_env: dict[str, str] | None) -> Terraform:
        """A runner for ``workdir`` with this project's CLI config (``runner()`` is the root's own)."""
        private_dir(self.settings.state_dir)
        localstate.privatize(self.root, self.settings.state_dir)
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

    def state_doc(self) -> dict[str, Any] | None:
        """The state document right now (None: no state yet)."""
        state = self.root.state_file
        if state is not None:
            return binding.read_json(state) if state.is_file() else None
        return self.runner().state_pull()

    def prepare_workdir(self) -> None:
        """Bring the root's working copy up to date with its tree (nothing to do without a copy)."""
        root = self.root
        if not root.uses_copy:
            return
        overrides = overrides_for(
            root.tree_dir,
            state=None if root.emulator_copy else root.state_file,
            emulator_state=root.state_file if root.emulator_copy else None,
            unprotect=root.unprotected,
        )
        sync_copy(root.tree_dir, root.work_dir, overrides)

    def _init_fingerprint(self) -> str:
        tf, work = self.runner(), self.root.work_dir
        root_files = [*work.glob("*.tf"), *work.glob("*.tf.json"), self.root.provider_lock]
        modules = sorted(p.name for p in work.iterdir() if p.is_dir() and not p.name.startswith("."))
        # The endpoint reaches init only through an S3 backend: with local state (every
        # emulator copy too), an emulator restarted on another port needs no new init.
        local = self.root.state_file is not None
        backend_env = "" if local else (tf.base_env or {}).get("AWS_ENDPOINT_URL", "")
        cli_config = Path(tf.env["TF_CLI_CONFIG_FILE"]).read_text(encoding="utf-8")
        extra = repr([modules, backend_env, cli_config, self.settings.terraform_bin])
        return file_digest(root_files, work) + ":" + binding.hash_text(extra)

    def check_account(self) -> None:
        """Refuse credentials of another AWS account before terraform runs (see :mod:`cli.awsaccess`)."""
        if not self._account_checked:
            awsaccess.check_account(self.loaded, self.on_emulator)
            self._account_checked = True

    def init(self, *, force: bool = False) -> bool:
        """Run ``terraform init`` unless nothing it depends on changed since the last one.

        Returns:
            True when init ran.
        """
        self.render()
        self.prepare_workdir()
        root = self.root
        if root.state_file is None:  # init reads the S3 backend: never with another account's credentials
            self.check_account()
        stamp = root.init_stamp
        fingerprint = self._init_fingerprint()
        if not force and root.data_dir.is_dir() and stamp.is_file() and stamp.read_text() == fingerprint:
            return False
        self.info(f"terraform init ({root.label})")
        private_dir(root.files_dir)
        stamp.unlink(missing_ok=True)
        self.runner().init(reconfigure=True)
        self.init_count += 1
        # The lock file may have been written by init: fingerprint after it.
        write_private(stamp, self._init_fingerprint())
        return True

    # ------------------------------------------------------------ the command lock, the saved plan

    @contextmanager
    def holding(self, command: str) -> Iterator[None]:
        """Hold this root's command lock for ``command`` (:mod:`~hclforge.cli.envlock`).

        A command inside another (deploy's plan and apply, a split run's every root) shares the hold.

        Raises:
            StateLocked: another hclforge command holds it (exit 1), named in the message.
            StateMoveRefused: a ``state split|join`` of the environment is unfinished (exit 2), but for a plan.
        """
        if self.holds_lock:
            yield
            return
        with envlock.holding(self.root.command_lock, self.root.label, command):
            statemove.refuse_pending(self.settings.env_dir(self.env), self.env, command)
            self.holds_lock = True
            try:
                yield
            finally:
                self.holds_lock = False

    def load_saved_summary(self) -> Summary:
        """The summary of the saved plan (recorded beside it when it was made)."""
        return from_json(binding.saved_meta(self.root)["summary"])

    def saved_plan_problem(self, *, targets: list[str] | None = None, checked: bool = False) -> str | None:
        """Why the saved plan may not be applied as it is, or None when it is the one planned and still fresh.

        The checks of :mod:`~hclforge.cli.binding`, cheapest first: terraform is asked for its version
        and the state only when the files and inputs still match, and not at all when ``checked`` (this
        command made the plan or found it fresh: terraform refuses a plan whose state moved since).
        ``targets``: the part of the environment the apply is for (``deploy --service``).
        """
        root = self.root
        problem = binding.file_problem(root, targets=targets)
        if problem is not None:
            return problem
        meta = binding.saved_meta(root)
        problem = binding.input_problem(root, meta, binding.freshness(root, self.loaded.sources, self.on_emulator))
        if problem is not None or checked:
            return problem
        version = self.runner().version().get("terraform_version")
        return binding.terraform_problem(meta, version) or binding.state_problem(root, meta, self.state_doc())

    def discard_plan(self) -> None:
        """Throw away the saved plan."""
        binding.discard_plan(self.root)

    # ------------------------------------------------------------ reads, bootstrap, validate

    def aws_session(self) -> Any:
        """A boto3 session (or look-alike) for the environment: the emulator's, or the profile's."""
        cfg = self.loaded.config
        if self.on_emulator:
            return awsaccess.EmulatorSession(self.emulator(), cfg.aws.region)
        self.check_account()
        return awsaccess.profile_session(cfg.aws)

    def aws_client(self, service: str) -> Any:
        """A boto3 client for this environment: the emulator's, or the profile's in the real account."""
        return self.aws_session().client(service)

    def bootstrap(self) -> None:
        """Create the environment's S3 state bucket (and lock table), idempotently."""
        from hclforge.cli.bootstrap import bootstrap as make

        self.check_account()
        make(self.loaded.config, self.aws_session(), self.info, tls_only=not self.on_emulator)

    def drift(self) -> list[Drift]:
        """A refresh-only plan: what changed outside Terraform. Read-only: nothing is applied."""
        self.check_account()
        self.init()
        private_dir(self.root.files_dir)
        plan_file = self.root.files_dir / "drift.tfplan"
        try:
            self.runner().plan(plan_file, refresh_only=True)
            return drift_of(self.runner().show_json(plan_file))
        finally:
            plan_file.unlink(missing_ok=True)

    def outputs(self, name: str | None = None) -> Any:
        """The root module's outputs (all, or one)."""
        self.init()
        return self.runner().output_json(name)

    def validate(self) -> dict[str, Any]:
        """``terraform validate`` on the rendered tree, with its own backend-less init.

        Needs no AWS at all: the emulator is not started, and no AWS variable of the shell
        reaches terraform (a scrubbed environment without an endpoint).
        """
        self.render()
        root = self.root
        private_dir(root.files_dir)
        base_env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        runner = self.make_runner(root.tree_dir, root.files_dir / "validate-tfdata", base_env)
        runner.sink = None
        runner.run("init", backend=False, stream=False)
        return runner.validate()
