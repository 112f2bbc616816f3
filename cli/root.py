"""A Terraform root: where its tree, working files, state and saved plan are. Data and paths only.

A root is the unit terraform works on: one tree, one state, one lock, one saved plan.
Today an environment is one root, all of ``modules/<env>/`` (:func:`env_root`); the
state split (DESIGN §10) makes ``shared`` and ``services/<name>`` roots of their own,
each a :class:`Root` with its own tree, working files and state.

Nothing here runs terraform, reads AWS or writes a file: the rooms above take a
root and do that (:mod:`~hclforge.cli.ops`, :mod:`~hclforge.cli.planapply`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from hclforge.tree import MODULES_DIR, local_state_path

if TYPE_CHECKING:
    from hclforge.cli.settings import Settings
    from hclforge.model import BackendConfig, EnvConfig
    from hclforge.roots import RootLayout

# terraform's provider lock file, committed beside the root's .tf files.
LOCK_FILE = ".terraform.lock.hcl"
# hclforge's own lock: one command at a time plans or applies the root (cli/envlock.py).
COMMAND_LOCK = "command.lock"


@dataclass(frozen=True)
class Root:
    """One Terraform root of one environment, as one run sees it.

    Attributes:
        env: the environment name.
        name: the root within the environment: "" for the whole environment (the
            only root before the state split), else ``shared`` or ``services/<name>``.
        project_dir: the project root (holds ``envs/``, ``modules/``, ``.hclforge/``).
        tree_dir: the generated tree (``modules/<env>/``); never changed by a run.
        files_dir: hclforge's working files for the root, outside the tree: data dir,
            saved plan, init stamp, logs (``.hclforge/envs/<env>/``).
        state_file: the local state file terraform uses; None when the state is in S3.
        var_file: a service root's values from shared (``-var-file``); None for other roots.
        state_key: the S3 object key of the state; None for a local state file.
        emulator_copy: terraform runs on a copy of the tree pointed at the emulator
            (an environment that is not an emulator one, run with ``--emulator``).
        unprotected: terraform runs on a copy of the tree without ``prevent_destroy``
            (``--allow-replace``).
    """

    env: str
    name: str
    project_dir: Path
    tree_dir: Path
    files_dir: Path
    state_file: Path | None
    state_key: str | None
    emulator_copy: bool = False
    unprotected: bool = False
    var_file: Path | None = None

    @property
    def label(self) -> str:
        """The root as messages name it: ``ENV`` for a whole environment, else ``ENV/shared``, ``ENV/services/api``."""
        return f"{self.env}/{self.name}" if self.name else self.env

    @property
    def uses_copy(self) -> bool:
        """terraform runs on a copy of the tree (emulator override, or ``--allow-replace``)."""
        return self.emulator_copy or self.unprotected

    @property
    def copy_name(self) -> str:
        """Prefix of the copy's working files: ``emulator``, ``unprotected``, both, or "" (no copy)."""
        parts = (["emulator"] if self.emulator_copy else []) + (["unprotected"] if self.unprotected else [])
        return "-".join(parts)

    @property
    def work_dir(self) -> Path:
        """Where terraform runs: the generated tree, or its copy."""
        return self.files_dir / f"{self.copy_name}-tree" if self.uses_copy else self.tree_dir

    @property
    def data_dir(self) -> Path:
        """terraform's data dir (``TF_DATA_DIR``): providers, modules, backend config."""
        return self.files_dir / (f"{self.copy_name}-tfdata" if self.uses_copy else "tfdata")

    @property
    def provider_lock(self) -> Path:
        """The provider lock file terraform uses (the tree's, or its copy's)."""
        return self.work_dir / LOCK_FILE

    @property
    def plan_file(self) -> Path:
        """The saved plan."""
        return self.files_dir / (f"{self.copy_name}.tfplan" if self.uses_copy else "plan.tfplan")

    @property
    def plan_meta_file(self) -> Path:
        """What the saved plan is bound to (:mod:`~hclforge.cli.binding`), and its summary."""
        return self.plan_file.with_suffix(".meta.json")

    @property
    def command_lock(self) -> Path:
        """The lock one command at a time holds to plan or apply the root (:mod:`~hclforge.cli.envlock`).

        An emulator copy has its own, as it has its own saved plan and state.
        """
        return self.files_dir / (f"emulator-{COMMAND_LOCK}" if self.emulator_copy else COMMAND_LOCK)

    @property
    def init_stamp(self) -> Path:
        """The fingerprint of what the last ``terraform init`` depended on."""
        return self.files_dir / (f"{self.copy_name}-init.stamp" if self.uses_copy else "init.stamp")

    def rel(self, path: Path) -> str:
        """``path`` relative to the project root when it is inside it, for messages."""
        return str(path.relative_to(self.project_dir) if path.is_relative_to(self.project_dir) else path)


def env_root(
    settings: Settings, env: str, backend: BackendConfig, *, emulator_copy: bool = False, unprotected: bool = False
) -> Root:
    """An environment as one root: all of ``modules/<env>/``, with one state.

    Args:
        settings: the project settings.
        env: the environment name.
        backend: the environment's backend (where its state is).
        emulator_copy: the run points a copy of the tree at the emulator; its state is then
            ``emulator.tfstate`` among the working files, whatever the backend.
        unprotected: the run lifts ``prevent_destroy`` on a copy of the tree.
    """
    tree_dir = settings.root / MODULES_DIR / env
    files_dir = settings.env_dir(env)
    state_file: Path | None = None
    if emulator_copy:
        state_file = files_dir / "emulator.tfstate"
    elif backend.type == "local":
        state_file = (tree_dir / local_state_path(env)).resolve()
    return Root(
        env=env,
        name="",
        project_dir=settings.root,
        tree_dir=tree_dir,
        files_dir=files_dir,
        state_file=state_file,
        state_key=backend.key if backend.type == "s3" and not emulator_copy else None,
        emulator_copy=emulator_copy,
        unprotected=unprotected,
    )


def split_root(
    settings: Settings,
    cfg: EnvConfig,
    layout: RootLayout,
    *,
    emulator_copy: bool = False,
    unprotected: bool = False,
) -> Root:
    """One root of a split environment (``state.split: service``): ``shared`` or ``services/<name>``.

    Its tree is ``modules/<env>/<path>/``; its working files, local state and (for a
    service root) its var file of shared values are under ``.hclforge/envs/<env>/<path>/``
    (:class:`~hclforge.roots.RootLayout`); its S3 key is ``<key prefix>/<path>.tfstate``.
    """
    files_dir = settings.env_dir(layout.env) / layout.path
    state_file: Path | None = None
    if emulator_copy:
        state_file = files_dir / "emulator.tfstate"
    elif cfg.backend.type == "local":
        state_file = settings.root / layout.local_state
    return Root(
        env=layout.env,
        name=layout.path,
        project_dir=settings.root,
        tree_dir=settings.root / layout.tree_dir,
        files_dir=files_dir,
        state_file=state_file,
        state_key=cfg.state_key(layout.path) if cfg.backend.type == "s3" and not emulator_copy else None,
        emulator_copy=emulator_copy,
        unprotected=unprotected,
        var_file=None if layout.shared else _copy_named(settings.root / layout.inputs_file, emulator_copy),
    )


def _copy_named(path: Path, emulator_copy: bool) -> Path:
    """An emulator copy's own file beside ``path`` (``emulator-<name>``): its values are the emulator's, not AWS's."""
    return path.with_name(f"emulator-{path.name}") if emulator_copy else path
