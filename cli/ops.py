"""What the CLI commands do: render, init, plan, apply, destroy, output.

No click here: prompts and output go through the callbacks a :class:`Workspace`
is given, so this module is usable and testable without a terminal.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import time
import zipfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hclforge import protect, render
from hclforge.cli import emulator
from hclforge.cli.private import private_dir, write_private
from hclforge.cli.settings import Settings
from hclforge.cli.summary import Drift, Summary, drift_of, from_json, summarize_events
from hclforge.cli.terraform import Detached, LineSink, Terraform, file_digest
from hclforge.cli.tfconfig import write_cli_config
from hclforge.config import LoadedEnv, load_env
from hclforge.errors import ConfigError, HclforgeError, PlanRefused, Problem, TerraformError, UsageError
from hclforge.hcl import quote

if TYPE_CHECKING:
    from hclforge.cli.execute import ExecPlan
    from hclforge.routes import PathReport

OVERRIDE_FILE = "hclforge_override.tf"
LOCK_FILE = ".terraform.lock.hcl"
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


def emulator_override(state_path: Path) -> str:
    """The override file that points a copy of any tree at the emulator.

    It swaps the backend for a local state file and gives the provider fake
    credentials and the emulator's account; the endpoint comes from
    ``AWS_ENDPOINT_URL`` (tflocal's approach, without a port in any file).
    """
    return (
        "# Added by hclforge to a copy of the tree: plan against the local AWS emulator.\n"
        "terraform {\n"
        '  backend "local" {\n'
        f"    path = {quote(str(state_path))}\n"
        "  }\n"
        "}\n"
        "\n"
        'provider "aws" {\n'
        "  profile             = null\n"
        '  access_key          = "test"\n'
        '  secret_key          = "test"\n'
        f"  allowed_account_ids = [{quote(emulator.ACCOUNT_ID)}]\n"
        "}\n"
    )


def local_backend_override(state_path: Path) -> str:
    """An override that keeps a copy of the tree on the original local state file."""
    return (
        "# Added by hclforge to a copy of the tree: the same local state as the tree itself.\n"
        "terraform {\n"
        '  backend "local" {\n'
        f"    path = {quote(str(state_path))}\n"
        "  }\n"
        "}\n"
    )


# The account check's STS call fails within 3 attempts x (3 s connect + 5 s read) = 24 s.
STS_CLIENT_CONFIG: dict[str, Any] = {
    "connect_timeout": 3,
    "read_timeout": 5,
    "retries": {"total_max_attempts": 3, "mode": "standard"},
}

_RESOURCE_RE = re.compile(r'^resource "([^"]+)" "([^"]+)" \{')


def protected_resources(tree: Path) -> dict[str, list[tuple[str, str]]]:
    """Resources of the tree whose type is protected (:data:`hclforge.protect.PROTECTED_TYPES`),
    by module directory ('' for the root): the blocks ``--allow-replace`` lifts ``prevent_destroy`` on."""
    found: dict[str, list[tuple[str, str]]] = {}
    for path in sorted(tree.rglob("*.tf")):
        rel = path.relative_to(tree)
        if rel.parts[0].startswith(".") or path.name == OVERRIDE_FILE:
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            match = _RESOURCE_RE.match(line)
            if match and match.group(1) in protect.PROTECTED_TYPES:
                module = rel.parent.as_posix() if rel.parent != Path(".") else ""
                found.setdefault(module, []).append((match.group(1), match.group(2)))
    return found


def protected_addresses(tree: Path) -> list[str]:
    """Full addresses of the protected resources (``module.ecs.aws_ecs_cluster.this``)."""
    return sorted(
        (f"module.{module}." if module else "") + f"{rtype}.{name}"
        for module, resources in protected_resources(tree).items()
        for rtype, name in resources
    )


def unprotect_override(resources: list[tuple[str, str]]) -> str:
    """An override file that lifts ``prevent_destroy`` from the given resources."""
    blocks = [
        f'resource "{rtype}" "{name}" {{\n  lifecycle {{\n    prevent_destroy = false\n  }}\n}}\n'
        for rtype, name in resources
    ]
    return "# Added by hclforge to a copy of the tree: --allow-replace.\n" + "\n".join(blocks)


RUNNING_NOTE = "running.json"


def read_json(path: Path) -> dict[str, Any] | None:
    """A JSON object from ``path``; None when it is missing or not a JSON object."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def sha256_file(path: Path) -> str:
    """SHA-256 of a file's bytes, hex."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _owner_alive(note: dict[str, Any]) -> bool:
    """Whether the hclforge that recorded a running apply is still alive (and so watching it)."""
    owner, start = note.get("hclforge_pid"), note.get("hclforge_start_time")
    return isinstance(owner, int) and isinstance(start, int) and emulator.same_process(owner, start)


def run_outcome(log: Path) -> str:
    """How a terraform run ended, read from its log: ``finished``, ``failed`` or ``interrupted``."""
    try:
        text = log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "interrupted"
    events = [e for e in (_json_line(line) for line in text.splitlines()) if e is not None]
    if any(e.get("type") == "diagnostic" and e.get("diagnostic", {}).get("severity") == "error" for e in events):
        return "failed"
    if any(e.get("type") == "change_summary" for e in events) or re.search(
        r"^(Apply|Destroy) complete!", text, flags=re.M
    ):
        return "finished"
    if re.search(r"^Error: ", text, flags=re.M):
        return "failed"
    return "interrupted"


def _json_line(line: str) -> dict[str, Any] | None:
    try:
        value = json.loads(line)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def sync_copy(source: Path, dest: Path, overrides: dict[str, str]) -> None:
    """Make ``dest`` a copy of the generated tree ``source`` plus hclforge's override files.

    Only ``.tf`` files and the lock file are copied; ``dest``'s own ``.terraform``
    is kept, so an unchanged copy needs no new init. ``overrides`` maps relative
    paths (``hclforge_override.tf``, ``ecs/hclforge_override.tf``) to their text.
    """
    dest.mkdir(parents=True, exist_ok=True)
    wanted = {p.relative_to(source) for p in source.rglob("*.tf") if not p.relative_to(source).parts[0].startswith(".")}
    for old in dest.rglob("*.tf"):
        rel = old.relative_to(dest)
        if rel not in wanted and rel.as_posix() not in overrides:
            old.unlink()
    for rel in wanted:
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        data = (source / rel).read_bytes()
        if not target.is_file() or target.read_bytes() != data:
            target.write_bytes(data)
    if (source / LOCK_FILE).is_file() and not (dest / LOCK_FILE).is_file():
        shutil.copyfile(source / LOCK_FILE, dest / LOCK_FILE)
    for rel_name, text in overrides.items():
        target = dest / rel_name
        if not target.is_file() or target.read_text(encoding="utf-8") != text:
            target.write_text(text, encoding="utf-8")


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
        self.settings = settings
        self.env = env
        self.force_emulator = emulator
        self.sink = sink
        self.info = info or (lambda _msg: None)
        self.color = color
        self.init_count = 0

    # ------------------------------------------------------------ config

    @cached_property
    def loaded(self) -> LoadedEnv:
        loaded = load_env(self.settings.root, self.env)
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
        return self.settings.root / render.MODULES_DIR / self.env

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

    @property
    def plan_json_file(self) -> Path:
        return self.plan_file.with_suffix(".json")

    # ------------------------------------------------------------ render

    def render(self) -> list[render.FileChange]:
        """Render the environment into ``modules/<env>/`` when it is stale."""
        tree = render.render_env(self.loaded)
        changes = render.write_tree(self.settings.root, tree)
        written = [c for c in changes if c.action != "identical"]
        if written:
            self.info(f"rendered {render.MODULES_DIR}/{self.env}/ ({len(written)} files changed)")
        return changes

    # ------------------------------------------------------------ terraform

    @cached_property
    def terraform(self) -> Terraform:
        """The runner for this environment, with CLI config, data dir and endpoint set.

        On the emulator, terraform's whole environment is the emulator's scrubbed one
        (:func:`cli.emulator.environ`): nothing of the user's AWS setup reaches it.
        """
        base_env = None
        if self.on_emulator:
            emu = emulator.start(self.settings.state_dir, self.settings.emulator_port)
            base_env = emu.environ(self.loaded.config.aws.region)
            self._void_stale_emulator_state(emu)
        return self._runner(self.work_dir, self.data_dir, base_env)

    def _runner(self, workdir: Path, data_dir: Path, base_env: dict[str, str] | None) -> Terraform:
        private_dir(self.settings.state_dir)
        self._privatize_state()
        cli_config = write_cli_config(self.settings)
        env = {
            "TF_CLI_CONFIG_FILE": str(cli_config),
            "TF_DATA_DIR": str(data_dir),
            "TF_IN_AUTOMATION": "1",
            "TF_INPUT": "0",
            "CHECKPOINT_DISABLE": "1",
        }
        return Terraform(
            workdir, env=env, binary=self.settings.terraform_bin, sink=self.sink, color=self.color, base_env=base_env
        )

    @contextmanager
    def _streaming(self, title: str, total: int | None, progress: bool = True) -> Iterator[bool]:
        """Point the runner's output at an event sink for one command; yields whether ``-json`` is on."""
        if self.events is None:
            yield False
            return
        tf = self.terraform
        previous = tf.sink
        with self.events(title, total, progress) as sink:
            tf.sink = sink
            try:
                yield True
            finally:
                tf.sink = previous

    def _local_state_file(self) -> Path | None:
        """The local state file terraform uses here, or None for an S3 backend."""
        if self.emulator_copy:
            return self.files_dir / "emulator.tfstate"
        if self.loaded.config.backend.type == "local":
            return (self.tree_dir / render.local_state_path(self.env)).resolve()
        return None

    def _privatize_state(self) -> None:
        """Make local state written before hclforge kept it private (0644 then) 0600 now."""
        state = self._local_state_file()
        if state is None or not state.parent.is_dir():
            return
        if state.parent.is_relative_to(self.settings.state_dir):
            private_dir(state.parent)
        for path in state.parent.glob(state.name + "*"):
            if path.is_file() and not path.is_symlink() and path.stat().st_mode & 0o077:
                path.chmod(0o600)

    def _void_stale_emulator_state(self, emu: emulator.Emulator) -> None:
        """Set aside local state written against an earlier emulator process.

        The emulator keeps everything in memory, so after a restart that state
        lists resources that no longer exist, and refreshing them makes the
        provider retry for minutes.
        """
        state = self._local_state_file()
        if state is None or not emu.generation:
            return
        marker = state.with_name(state.name + ".emulator")
        seen = marker.read_text(encoding="utf-8") if marker.is_file() else ""
        if seen != emu.generation:
            if state.is_file() and seen:
                state.replace(state.with_name(f"{state.name}.void-{seen}"))
                self.info(f"the emulator was restarted: its resources are gone, so {self.env} starts from empty state")
            write_private(marker, emu.generation)

    def _prepare_workdir(self) -> None:
        if not self.uses_copy:
            return
        overrides: dict[str, str] = {}
        cfg = self.loaded.config
        if self.emulator_copy:
            overrides[OVERRIDE_FILE] = emulator_override(self.files_dir / "emulator.tfstate")
        elif cfg.backend.type == "local":
            state = self._local_state_file()
            assert state is not None
            overrides[OVERRIDE_FILE] = local_backend_override(state)
        if self.allow_replace:
            for module, resources in protected_resources(self.tree_dir).items():
                overrides[f"{module}/{OVERRIDE_FILE}" if module else OVERRIDE_FILE] = unprotect_override(resources)
        sync_copy(self.tree_dir, self.work_dir, overrides)

    def _init_fingerprint(self) -> str:
        tf = self.terraform
        root_files = [p for p in self.work_dir.glob("*.tf")] + [self.work_dir / LOCK_FILE]
        modules = sorted(p.name for p in self.work_dir.iterdir() if p.is_dir() and not p.name.startswith("."))
        backend_env = (tf.base_env or {}).get("AWS_ENDPOINT_URL", "")
        cli_config = Path(tf.env["TF_CLI_CONFIG_FILE"]).read_text(encoding="utf-8")
        extra = json.dumps([modules, backend_env, cli_config, self.settings.terraform_bin])
        return file_digest(root_files, self.work_dir) + ":" + hash_text(extra)

    def check_account(self) -> None:
        """Refuse credentials of another AWS account, before terraform runs.

        Applies when ``aws.account_id`` is set and the target is not the emulator.

        Raises:
            ConfigError: the credentials belong to another account (exit 2).
            TerraformError: the caller's account cannot be found out.
        """
        cfg = self.loaded.config
        if cfg.aws.account_id is None or self.on_emulator or self._account_checked:
            return
        import boto3
        import botocore.exceptions
        from botocore.config import Config

        endpoint = "STS"
        try:
            session = boto3.session.Session(profile_name=cfg.aws.profile, region_name=cfg.aws.region)
            client = session.client("sts", config=Config(**STS_CLIENT_CONFIG))
            endpoint = str(client.meta.endpoint_url)
            actual = client.get_caller_identity()["Account"]
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as err:
            raise TerraformError(
                f"cannot check the AWS account before running terraform: STS at {endpoint}: {err}"
            ) from None
        if actual != cfg.aws.account_id:
            file, line = self.loaded.origins.get(("aws", "account_id"), (f"envs/{self.env}.yaml", 0))
            raise ConfigError(
                [
                    Problem(
                        file,
                        line,
                        "aws.account_id",
                        f"your credentials are for AWS account {actual}, not {cfg.aws.account_id}; "
                        "refusing before terraform runs (check AWS_PROFILE / aws.profile)",
                    )
                ]
            )
        self._account_checked = True

    def init(self, *, force: bool = False) -> bool:
        """Run ``terraform init`` unless nothing it depends on changed since the last one.

        Returns:
            True when init ran.
        """
        self.render()
        self._prepare_workdir()
        stamp = self.files_dir / (f"{self.copy_name}-init.stamp" if self.uses_copy else "init.stamp")
        fingerprint = self._init_fingerprint()
        if not force and self.data_dir.is_dir() and stamp.is_file() and stamp.read_text() == fingerprint:
            return False
        self.info(f"terraform init ({self.env})")
        private_dir(self.files_dir)
        stamp.unlink(missing_ok=True)
        self.terraform.init(reconfigure=True)
        self.init_count += 1
        # The lock file may have been written by init: fingerprint after it.
        write_private(stamp, self._init_fingerprint())
        return True

    # ------------------------------------------------------------ plan

    def _freshness(self) -> dict[str, Any]:
        """What a saved plan depends on in the project: YAML, tree, provider lock, target."""
        root = self.settings.root
        return {
            "env": self.env,
            "target": self.copy_name or "tree",
            "yaml": file_digest([root / s for s in self.loaded.sources], root),
            "tree": file_digest(list(self.work_dir.rglob("*.tf")), self.work_dir),
            "providers": file_digest([self.work_dir / LOCK_FILE], self.work_dir),
            "emulator": self.on_emulator,
        }

    @property
    def running_note(self) -> Path:
        """The record of a running apply or destroy on this environment's state."""
        return self.files_dir / (f"emulator-{RUNNING_NOTE}" if self.emulator_copy else RUNNING_NOTE)

    def settle_interrupted_run(self) -> dict[str, Any] | None:
        """Report, and wait for, an apply or destroy that an earlier hclforge started and did not see end.

        terraform runs detached, so when hclforge was killed it went on. If it still
        runs, this waits for it; then it says how it ended, from its log, and forgets
        the record. A run whose hclforge is still alive is left to it (the state lock
        refuses a second run). Returns the record (None when there was none, or it is
        still watched).
        """
        note = read_json(self.running_note)
        if note is None:
            self.running_note.unlink(missing_ok=True)
            return None
        if _owner_alive(note):
            # The hclforge that runs it is alive and watching it: the state lock speaks for it.
            return None
        pid = int(note.get("pid", 0))
        start_time = note.get("start_time")
        what = f"an {note.get('command', 'apply')} of {self.env} started at {note.get('started', '?')} by pid {pid}"
        log = note.get("log", "?")
        if emulator.same_process(pid, int(start_time) if start_time is not None else None):
            self.info(f"{what} is still running (hclforge pid {note.get('hclforge_pid')} stopped); its log is {log}")
            self.info("waiting for it to finish before going on")
            while emulator.same_process(pid, int(start_time) if start_time is not None else None):
                time.sleep(1)
        outcome = run_outcome(Path(log))
        told = {
            "finished": "finished after hclforge stopped watching it",
            "failed": "failed after hclforge stopped watching it",
            "interrupted": "was interrupted before it finished",
        }[outcome]
        self.info(f"{what} {told}; its log is {log}")
        plan_sha = note.get("plan_sha256")
        meta = read_json(self.plan_meta_file)
        if plan_sha and meta is not None and meta.get("plan_sha256") == plan_sha:
            # That plan was (partly) applied: it is spent, and a new one starts from the state it left.
            self._discard_plan()
            self.info("its saved plan is spent; planning again from the state it left")
        if note.get("plan"):
            Path(note["plan"]).unlink(missing_ok=True)
        self.running_note.unlink(missing_ok=True)
        return note

    def _state_doc(self) -> dict[str, Any] | None:
        """The state document right now (None: no state yet)."""
        state = self._local_state_file()
        if state is not None:
            return read_json(state) if state.is_file() else None
        return self.terraform.state_pull()

    def _state_now(self) -> dict[str, Any] | None:
        """Lineage and serial of the state right now (None: no state yet)."""
        return _state_key(self._state_doc())

    def plan(self, *, targets: list[str] | None = None) -> PlanResult:
        """Render if stale, init if needed, ``plan -out``; save the plan, its summary and metadata.

        ``targets`` limits the plan to those resource addresses (terraform ``-target``).

        What the plan is bound to (YAML, tree, provider lock, target, state lineage
        and serial) is read *before* terraform plans, so a change made while it plans
        makes the saved plan stale, never silently part of it. The plan file's own
        SHA-256 and the environment's name are recorded beside it.

        The summary comes from the ``-json`` event stream. The plan's ``show -json``
        is written to ``plan.json`` beside it just after the command returns.

        Raises:
            PlanRefused: a protected environment's plan deletes or replaces a
                protected resource, or the state changed while planning.
        """
        self.check_account()
        self.settle_interrupted_run()
        self.init()
        private_dir(self.files_dir)
        self.plan_meta_file.unlink(missing_ok=True)
        self.plan_json_file.unlink(missing_ok=True)
        tf = self.terraform
        bound = self._freshness()
        prior = self._state_doc()
        state_before = _state_key(prior)
        guarded = self.loaded.config.protect and not self.allow_replace
        # Protected resources in the prior state whose blocks are gone: deleted, with no prevent_destroy.
        removed = protect.removed_blocks(prior, protected_addresses(self.tree_dir)) if guarded else []
        try:
            with self._streaming(f"Planning {self.env}", None, progress=False):
                tf.plan(self.plan_file, events=True, targets=targets)
        except TerraformError as err:
            blocked = sorted(set(re.findall(r"Resource (\S+) has lifecycle\.prevent_destroy set", str(err))))
            if blocked:
                raise self._refuse_protected(sorted({*blocked, *removed})) from None
            raise
        if guarded:
            blocked = sorted({*protect.refused(protect.changes_of_events(tf.last_events)), *removed})
            if blocked:
                self.plan_file.unlink(missing_ok=True)
                raise self._refuse_protected(blocked)
        planned_state = _plan_state(self.plan_file)
        if planned_state != state_before:
            self.plan_file.unlink(missing_ok=True)
            raise PlanRefused(f"the state of {self.env} changed while planning; run 'hclforge plan {self.env}' again")
        summary = summarize_events(self.env, tf.last_events, self.loaded.config.services)
        meta = {
            **bound,
            "state": state_before,
            "plan_sha256": sha256_file(self.plan_file),
            "terraform": _plan_terraform_version(self.plan_file),
            "created": time.time(),
            "summary": summary.to_json(),
        }
        write_private(self.plan_meta_file, json.dumps(meta, indent=2))
        tf.show_json_detached(self.plan_file, self.plan_json_file)
        return PlanResult(self.plan_file, summary)

    def _refuse_protected(self, addresses: list[str]) -> PlanRefused:
        listed = "\n".join(f"  ! {a}" for a in addresses)
        return PlanRefused(
            f"{self.env} is protected (protect: true) and the plan would destroy or replace:\n{listed}\n"
            f"nothing was changed; to allow it once: hclforge apply {self.env} --allow-replace"
        )

    def saved_plan_problem(self) -> str | None:
        """Why the saved plan may not be applied as it is, or None when it is the one planned and still fresh."""
        if not self.plan_file.is_file() or not self.plan_meta_file.is_file():
            return "there is no saved plan"
        meta = read_json(self.plan_meta_file) or {}
        if meta.get("env") != self.env:
            return f"the saved plan was made for environment {meta.get('env')!r}, not {self.env!r}"
        if meta.get("plan_sha256") != sha256_file(self.plan_file):
            return (
                f"the plan file {self._rel(self.plan_file)} is not the one hclforge planned "
                "(its SHA-256 differs from the one recorded)"
            )
        now = self._freshness()
        reasons = {
            "target": "the plan was made for another copy of the tree (emulator or --allow-replace)",
            "yaml": "the environment's YAML changed since the plan",
            "tree": f"the rendered tree {render.MODULES_DIR}/{self.env}/ changed since the plan",
            "providers": "the provider versions (.terraform.lock.hcl) changed since the plan",
            "emulator": "the plan was made for another target (emulator or not)",
        }
        for key, reason in reasons.items():
            if meta.get(key) != now[key]:
                return reason
        version = self.terraform.version().get("terraform_version")
        if meta.get("terraform") != version:
            return f"terraform changed since the plan ({meta.get('terraform')} -> {version})"
        if _plan_state(self.plan_file) != meta.get("state"):
            return "the plan file was made against another state than the one recorded"
        current = self._state_now()
        if meta.get("state") != current:
            before, after = (meta.get("state") or {}).get("lineage"), (current or {}).get("lineage")
            if before and after and before != after:
                return "the state's lineage changed since the plan (another state was put in its place)"
            return "the state changed since the plan (someone applied in between)"
        return None

    def load_saved_summary(self) -> Summary:
        meta = json.loads(self.plan_meta_file.read_text(encoding="utf-8"))
        return from_json(meta["summary"])

    # ------------------------------------------------------------ apply

    def apply(self, *, auto_approve: bool, interactive: bool, confirm: ConfirmPlan) -> Summary:
        """Apply the saved plan when it is fresh; otherwise plan again and ask.

        Raises:
            UsageError: confirmation is needed but there is no terminal to ask on.
            PlanRefused: the saved plan is stale and there is no terminal to re-plan
                and confirm on, or the user said no.
        """
        if not auto_approve and not interactive:
            raise UsageError(
                f"apply needs confirmation and there is no terminal: run 'hclforge apply {self.env} --auto-approve' "
                f"(make apply ENV={self.env} AUTO_APPROVE=1) to apply without asking"
            )
        self.check_account()
        self.settle_interrupted_run()
        self.render()
        self._prepare_workdir()
        problem = self.saved_plan_problem()
        if problem is None:
            summary = self.load_saved_summary()
            self.info(f"applying the saved plan {self._rel(self.plan_file)}")
        else:
            if problem != "there is no saved plan":
                if auto_approve and not interactive:
                    raise PlanRefused(f"the saved plan is stale: {problem}; run 'hclforge plan {self.env}' again")
                self.info(f"the saved plan is stale: {problem}; planning again")
            summary = self.plan().summary
        if not summary.has_changes:
            self.info("no changes to apply")
            self._discard_plan()
            return summary
        if not auto_approve and not confirm(summary):
            raise PlanRefused("apply cancelled; nothing was changed")
        t = summary.totals
        # A replacement finishes twice in the event stream: its destroy and its create.
        steps = t["create"] + t["update"] + t["delete"] + 2 * t["replace"]
        # terraform applies a private copy whose bytes are the ones checked: the saved
        # file cannot be swapped between the check and the apply.
        meta = read_json(self.plan_meta_file) or {}
        applying = self.files_dir / f"applying.{os.getpid()}.tfplan"
        shutil.copyfile(self.plan_file, applying)
        os.chmod(applying, 0o600)
        if sha256_file(applying) != meta.get("plan_sha256"):
            applying.unlink(missing_ok=True)
            raise PlanRefused(f"the plan file {self._rel(self.plan_file)} changed while being applied; nothing was")
        try:
            with self._streaming(f"Applying {self.env}", steps) as events:
                self._run_detached("apply", meta.get("plan_sha256"), events, applying)
        finally:
            applying.unlink(missing_ok=True)
        self._discard_plan()
        return summary

    def _run_detached(self, command: str, plan_sha: str | None, events: bool, plan: Path | None = None) -> None:
        """Run apply or destroy detached from hclforge, recorded in :attr:`running_note` while it runs.

        Its output goes to a log of its own while it runs, renamed ``<command>.log``
        once hclforge has seen it end. A record another live hclforge holds is left
        alone (that run's terraform holds the state lock; this one will fail on it).
        """
        log = self.files_dir / f"{command}.{os.getpid()}.log"
        held = read_json(self.running_note)
        owned = not (held and _owner_alive(held))

        def record(pid: int) -> None:
            note = {
                "command": command,
                "pid": pid,
                "start_time": emulator.process_start_time(pid),
                "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
                "hclforge_pid": os.getpid(),
                "hclforge_start_time": emulator.process_start_time(os.getpid()),
                "log": str(log),
                "plan": str(plan) if plan else None,
                "plan_sha256": plan_sha,
            }
            if owned:
                write_private(self.running_note, json.dumps(note, indent=2))

        detached = Detached(log, on_start=record)
        try:
            if plan is not None:
                self.terraform.apply_plan(plan, events=events, detached=detached)
            else:
                self.terraform.destroy(events=events, detached=detached)
        finally:
            # Reached only once terraform has exited: hclforge saw it end.
            if owned:
                self.running_note.unlink(missing_ok=True)
            for path in (log, log.with_name(log.name + ".stderr")):
                if path.is_file():
                    path.replace(self.files_dir / path.name.replace(f".{os.getpid()}.log", ".log"))

    def _discard_plan(self) -> None:
        # plan.json stays: it documents what was applied, for scanners and reviewers.
        for path in (self.plan_file, self.plan_meta_file):
            path.unlink(missing_ok=True)

    def destroy(
        self,
        *,
        auto_approve: bool,
        interactive: bool,
        confirm: Confirm,
        force: bool = False,
        typed_name: Callable[[], str] | None = None,
        yes_i_mean: bool = False,
    ) -> None:
        """Destroy the environment's resources, after confirmation.

        A protected environment (protect: true) needs ``force`` and then the
        environment's name typed, or ``yes_i_mean`` (``--yes-i-mean-ENV``) without a
        terminal; its ``prevent_destroy`` is lifted on a copy of the tree.
        """
        if self.loaded.config.protect:
            if not force:
                raise UsageError(
                    f"{self.env} is protected (protect: true): destroy needs --force, then the environment name "
                    f"typed (or --force --yes-i-mean-{self.env} without a terminal)"
                )
            if not yes_i_mean:
                if not interactive or typed_name is None:
                    raise UsageError(
                        f"no terminal to type the name on: add --yes-i-mean-{self.env} to destroy {self.env}"
                    )
                if typed_name() != self.env:
                    raise PlanRefused("the name typed does not match; nothing was destroyed")
            assert "terraform" not in self.__dict__, "allow_replace must be set before the runner is made"
            self.allow_replace = True
        elif not auto_approve and not interactive:
            raise UsageError(
                f"destroy needs confirmation and there is no terminal: run 'hclforge destroy {self.env} --auto-approve'"
            )
        self.check_account()
        self.settle_interrupted_run()
        self.init()
        if (
            not self.loaded.config.protect
            and not auto_approve
            and not confirm(f"Destroy every resource of {self.env}?")
        ):
            raise PlanRefused("destroy cancelled; nothing was changed")
        with self._streaming(f"Destroying {self.env}", None) as events:
            self._run_detached("destroy", None, events)
        self._discard_plan()

    def bootstrap(self) -> None:
        """Create the environment's S3 state bucket (and lock table), idempotently."""
        from hclforge.cli.bootstrap import bootstrap

        self.check_account()
        cfg = self.loaded.config
        import boto3

        if self.on_emulator:
            emu = emulator.start(self.settings.state_dir, self.settings.emulator_port)
            bootstrap(cfg, _EmulatorSession(emu, cfg.aws.region), self.info, tls_only=False)
        else:
            session = boto3.session.Session(profile_name=cfg.aws.profile, region_name=cfg.aws.region)
            bootstrap(cfg, session, self.info)

    def drift(self) -> list[Drift]:
        """A refresh-only plan: what changed outside Terraform. Read-only: nothing is applied."""
        self.check_account()
        self.init()
        self.files_dir.mkdir(parents=True, exist_ok=True)
        plan_file = self.files_dir / "drift.tfplan"
        try:
            self.terraform.plan(plan_file, refresh_only=True)
            return drift_of(self.terraform.show_json(plan_file))
        finally:
            plan_file.unlink(missing_ok=True)

    def outputs(self, name: str | None = None) -> Any:
        """The root module's outputs (all, or one)."""
        self.init()
        return self.terraform.output_json(name)

    def aws_client(self, service: str) -> Any:
        """A boto3 client for this environment: the emulator's, or the profile's in the real account."""
        import boto3

        cfg = self.loaded.config
        if self.on_emulator:
            emu = emulator.start(self.settings.state_dir, self.settings.emulator_port)
            session = boto3.session.Session(
                aws_access_key_id="test", aws_secret_access_key="test", region_name=cfg.aws.region
            )
            return session.client(service, endpoint_url=emu.endpoint)
        self.check_account()
        return boto3.session.Session(profile_name=cfg.aws.profile, region_name=cfg.aws.region).client(service)

    def exec_plan(self, service: str, command: list[str]) -> ExecPlan:
        """The ``aws ecs execute-command`` line for a running task of ``service`` (see :mod:`cli.execute`)."""
        from hclforge.cli.execute import check_exec_enabled, exec_plan

        check_exec_enabled(self.loaded.config, service)
        endpoint = (
            emulator.start(self.settings.state_dir, self.settings.emulator_port).endpoint if self.on_emulator else None
        )
        return exec_plan(self.loaded.config, self.aws_client("ecs"), service, command, endpoint=endpoint)

    def routes(self) -> PathReport:
        """Plan, then follow every route and ``calls`` edge through the plan's JSON."""
        from hclforge.routes import check_paths

        result = self.plan()
        return check_paths(self.env, self.loaded.config, self.terraform.show_json(result.plan_file))

    def validate(self) -> dict[str, Any]:
        """``terraform validate`` on the rendered tree, with its own backend-less init.

        Needs no AWS at all: the emulator is not started, and no AWS variable of the
        shell reaches terraform (a scrubbed environment without an endpoint).
        """
        self.render()
        private_dir(self.files_dir)
        base_env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        runner = self._runner(self.tree_dir, self.files_dir / "validate-tfdata", base_env)
        runner.sink = None
        runner.run("init", backend=False, stream=False)
        return runner.validate()

    def _rel(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.settings.root))
        except ValueError:
            return str(path)


@dataclass
class EnvOutcome:
    """One environment of :func:`plan_many`: its result or error, and the output it buffered."""

    env: str
    result: PlanResult | None
    error: HclforgeError | None
    lines: list[str]


def validate_env(
    settings: Settings, env: str, *, check_routes: bool, **kwargs: Any
) -> tuple[dict[str, Any], PathReport | None]:
    """``terraform validate``, then the request-path check on a plan against the emulator.

    The check plans a copy of the tree on the emulator (no credentials needed). An
    emulator started only for it is stopped again, so ``validate`` leaves none behind.

    Returns:
        terraform's validate document, and the path report (None when not checked or invalid).
    """
    running = emulator.status(settings.state_dir) is not None
    try:
        doc = Workspace(settings, env, **kwargs).validate()
        if not check_routes or not doc.get("valid"):
            return doc, None
        return doc, Workspace(settings, env, emulator=True, **kwargs).routes()
    finally:
        if not running:
            emulator.stop(settings.state_dir)


def plan_many(settings: Settings, names: list[str], *, emulator: bool, jobs: int) -> Iterator[EnvOutcome]:
    """Plan several environments in a bounded pool; yields each as it finishes.

    Each environment's terraform output and messages are buffered, so a caller
    can print every environment as one block, never interleaved.
    """

    def one(env: str) -> EnvOutcome:
        lines: list[str] = []
        ws = Workspace(settings, env, emulator=emulator, sink=None, info=lines.append)
        try:
            return EnvOutcome(env, ws.plan(), None, lines)
        except HclforgeError as err:
            return EnvOutcome(env, None, err, lines)

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = [pool.submit(one, env) for env in names]
        for future in as_completed(futures):
            yield future.result()


class _EmulatorSession:
    """A boto3-session look-alike whose clients all talk to the emulator, with its scrubbed session."""

    def __init__(self, emu: emulator.Emulator, region: str) -> None:
        self.emu = emu
        self.region = region

    def client(self, service: str, **_kwargs: Any) -> Any:
        return self.emu.client(service, self.region)


def hash_text(text: str) -> str:
    """SHA-256 of a text, hex."""
    return hashlib.sha256(text.encode()).hexdigest()


def _plan_state(plan_file: Path) -> dict[str, Any] | None:
    """Lineage and serial of the state a saved plan was made against (None: no state yet)."""
    with zipfile.ZipFile(plan_file) as zf:
        state = json.loads(zf.read("tfstate")) if "tfstate" in zf.namelist() else None
    return _state_key(state)


def _plan_terraform_version(plan_file: Path) -> str | None:
    """The terraform version that made a saved plan (recorded in its state snapshot)."""
    with zipfile.ZipFile(plan_file) as zf:
        if "tfstate" not in zf.namelist():
            return None
        version = json.loads(zf.read("tfstate")).get("terraform_version")
    return str(version) if version else None


def _current_state(tf: Terraform) -> dict[str, Any] | None:
    return _state_key(tf.state_pull())


def _state_key(state: dict[str, Any] | None) -> dict[str, Any] | None:
    """Lineage and serial; None for "no state yet" (a plan records that as lineage "")."""
    if not state or not state.get("lineage"):
        return None
    return {"lineage": state["lineage"], "serial": state.get("serial")}
