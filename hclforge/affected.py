"""The roots a change affects: what ``hclforge affected`` lists, and what CI plans and applies, root by root.

A root is named by its path under ``modules/<env>/``: ``shared``, ``services/<name>``
(a service or a group), or ``.`` for an environment with one state. A root is
affected when, between a git revision (the base) and the work tree:

- **its tree** differs: the base side is the committed ``modules/<env>/`` at the
  base; the work side is a fresh render, in memory, of the YAML in the work tree by
  this hclforge. A change to a shared layer (``envs/_base.yaml``) therefore reaches
  every environment that extends it, a change of hclforge's templates reaches every
  tree it changes, and a YAML comment reaches nothing. The backend is in the tree;
- **its provider lock** (``.terraform.lock.hcl`` beside its ``main.tf``) differs,
  where git tracks one (an untracked lock is a local ``init``'s, not the project's);
- it is **new** (the base has no such root);
- **a value it takes from shared can change** (``after: shared``): the shared root
  is affected and one of the values the service root takes
  (:func:`hclforge.roots.root_inputs`; of ``security_group_ids``, only its own
  and its callees' groups) depends on a block of shared that changed
  (:class:`hclforge.hclrefs.SharedChanges`). Such a root is planned again after
  shared applies; every other root has ``after: ""``;
- **its inputs** changed since it was planned on this machine: its var file
  (:attr:`hclforge.roots.RootLayout.inputs_file`) differs from what shared's kept
  outputs give now (:func:`hclforge.roots.input_values`). These files are local
  (``.hclforge/``), so CI never sees this case.

A root of the base that the work tree no longer renders (a service removed, an
environment deleted or moved between one state and split) cannot be planned: it is
listed apart, as **removed**, and never in the matrix. Its resources stay in its
state until it is destroyed (``docs/ci.md``).

Order: environments by name; in each, shared first, then the service roots in the
order of ``roots.split_layout``. Nothing here runs terraform, reads AWS or starts
the emulator: it reads git, the YAML and the local var files.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hclforge import gitrev
from hclforge.config import LoadedEnv, load_env
from hclforge.errors import FileTooLargeError, Problem, SharedOutputsError, UsageError
from hclforge.hclrefs import SharedChanges
from hclforge.paths import read_private
from hclforge.render import render_env
from hclforge.roots import (
    MAX_OUTPUTS_BYTES,
    SHARED,
    RootLayout,
    input_values,
    read_kept_outputs,
    root_inputs,
    security_group_keys,
    shared_outputs_file,
    split_layout,
)
from hclforge.tree import MODULES_DIR, env_names

WHOLE = "."
LOCK_FILE = ".terraform.lock.hcl"
# GitHub Actions runs at most this many jobs from one matrix.
MATRIX_LIMIT = 256
# Why a root is listed, as text and JSON say it.
WHY_NEW, WHY_TREE, WHY_LOCK, WHY_SHARED, WHY_INPUTS = "new", "tree", "lock", "shared values", "inputs"


@dataclass(frozen=True)
class AffectedRoot:
    """A root to plan and apply.

    Attributes:
        env: the environment.
        root: ``shared``, ``services/<name>`` or ``.``.
        after: ``shared`` when a value it takes from shared can change: plan it after shared applies.
        why: what changed (``new``, ``tree``, ``lock``, ``shared values``, ``inputs``).
    """

    env: str
    root: str
    after: str = ""
    why: tuple[str, ...] = ()

    def entry(self) -> dict[str, str]:
        """The root as one entry of a GitHub Actions matrix."""
        return {"env": self.env, "root": self.root, "after": self.after}


@dataclass(frozen=True)
class RemovedRoot:
    """A root of the base that the work tree no longer renders; its state still holds its resources."""

    env: str
    root: str


@dataclass(frozen=True)
class Affected:
    """What changed between the base and the work tree, root by root, in the order to run them."""

    base: gitrev.Base
    roots: tuple[AffectedRoot, ...]
    removed: tuple[RemovedRoot, ...]

    def of_env(self, env: str) -> list[AffectedRoot]:
        """The affected roots of ``env``, in order."""
        return [root for root in self.roots if root.env == env]


def root_of(rel: str) -> str:
    """The root that holds ``rel``, a path relative to ``modules/<env>/``."""
    parts = rel.split("/")
    if parts[0] == SHARED and len(parts) > 1:
        return SHARED
    if parts[0] == "services" and len(parts) > 2:
        return f"services/{parts[1]}"
    return WHOLE


def _lock_path(root: str) -> str:
    return LOCK_FILE if root == WHOLE else f"{root}/{LOCK_FILE}"


def _group(files: dict[str, str]) -> dict[str, dict[str, str]]:
    """Files of one environment (relative to ``modules/<env>/``) by root; a root is one with a ``.tf`` file."""
    roots: dict[str, dict[str, str]] = {}
    for rel, blob in files.items():
        if rel.endswith(".tf"):
            roots.setdefault(root_of(rel), {})[rel] = blob
    for root, held in roots.items():
        if _lock_path(root) in files:
            held[_lock_path(root)] = files[_lock_path(root)]
    return roots


def _why(base: dict[str, str] | None, work: dict[str, str], lock: str) -> list[str]:
    if base is None:
        return [WHY_NEW]
    why = []
    if {k: v for k, v in base.items() if k != lock} != {k: v for k, v in work.items() if k != lock}:
        why.append(WHY_TREE)
    if base.get(lock) != work.get(lock):
        why.append(WHY_LOCK)
    return why


@dataclass
class _Sides:
    """Both sides of the comparison for the whole project, read once."""

    project: Path
    base: gitrev.Base
    base_files: dict[str, dict[str, str]]  # env -> path relative to modules/<env>/ -> blob id
    tracked_locks: set[str]
    algorithm: str

    @classmethod
    def read(cls, project: Path, base: gitrev.Base) -> _Sides:
        by_env: dict[str, dict[str, str]] = {}
        for path, blob in gitrev.list_files(project, base.tree, MODULES_DIR).items():
            _, env, rel = path.split("/", 2) if path.count("/") >= 2 else ("", "", "")
            if rel.endswith(".tf") or rel.split("/")[-1] == LOCK_FILE:
                by_env.setdefault(env, {})[rel] = blob
        locks = {p for p in gitrev.tracked(project, MODULES_DIR) if p.endswith(f"/{LOCK_FILE}")}
        return cls(project, base, by_env, locks, gitrev.object_format(project))

    def work_files(self, env: str, texts: dict[str, str]) -> dict[str, str]:
        """The rendered files and the tracked lock files on disk, by their blob ids."""
        files = {rel: gitrev.blob_id(text.encode("utf-8"), self.algorithm) for rel, text in texts.items()}
        prefix = f"{MODULES_DIR}/{env}/"
        for path in self.tracked_locks:
            rel = path.removeprefix(prefix)
            if path.startswith(prefix) and (self.project / path).is_file():
                files[rel] = gitrev.blob_id((self.project / path).read_bytes(), self.algorithm)
        return files

    def base_texts(self, env: str, root: str) -> dict[str, str]:
        """The base's ``.tf`` files of one root, relative to the root."""
        wanted = {rel: blob for rel, blob in self.base_files.get(env, {}).items() if rel.endswith(".tf")}
        wanted = {rel: blob for rel, blob in wanted.items() if root_of(rel) == root}
        blobs = gitrev.read_blobs(self.project, wanted.values())
        return {rel.removeprefix(f"{root}/"): blobs[blob].decode("utf-8", "replace") for rel, blob in wanted.items()}


def find_affected(
    project: Path,
    *,
    base: str | None = None,
    envs: Iterable[str] = (),
    skip_emulator: bool = False,
    warn: Callable[[Problem], None] | None = None,
) -> Affected:
    """The roots whose rendered tree or inputs differ between ``base`` and the work tree.

    Args:
        project: the project root (inside a git work tree).
        base: a git revision; default the merge base of HEAD with the default branch
            (:func:`hclforge.gitrev.default_base`).
        envs: only these environments (default: every one in the work tree or at the base).
        skip_emulator: leave out environments with ``aws.emulator: true`` (nothing to deploy).
        warn: told each warning of each environment file.

    Raises:
        GitError: no repository, no such revision, or no default branch (exit 2).
        UsageError: an environment of ``envs`` is neither in the work tree nor at the base.
        ConfigError: an environment file of the work tree is invalid (nothing can be rendered).
    """
    resolved = gitrev.resolve(project, base) if base is not None else gitrev.default_base(project)
    sides = _Sides.read(project, resolved)
    present = set(env_names(project))
    names = sorted(present | set(sides.base_files))
    wanted = list(dict.fromkeys(envs))
    unknown = [env for env in wanted if env not in names]
    if unknown:
        raise UsageError(
            f"no environment {', '.join(unknown)}: not in envs/ and not under {MODULES_DIR}/ at {resolved.name}"
        )
    roots: list[AffectedRoot] = []
    removed: list[RemovedRoot] = []
    for env in [env for env in names if env in wanted] if wanted else names:
        loaded = load_env(project, env) if env in present else None
        if loaded is not None and warn is not None:
            for problem in loaded.warnings:
                warn(problem)
        if loaded is not None and skip_emulator and loaded.config.aws.emulator:
            continue
        listed, gone = _env_roots(sides, env, loaded)
        roots += listed
        removed += gone
    return Affected(resolved, tuple(roots), tuple(removed))


def _env_roots(sides: _Sides, env: str, loaded: LoadedEnv | None) -> tuple[list[AffectedRoot], list[RemovedRoot]]:
    base = _group(sides.base_files.get(env, {}))
    if loaded is None:
        return [], [RemovedRoot(env, root) for root in _ordered(base)]
    texts = render_env(loaded).files
    work = _group(sides.work_files(env, texts))
    layout = split_layout(env, loaded.config)
    order = [item.path for item in layout] if layout else [WHOLE]
    removed = [RemovedRoot(env, root) for root in _ordered(base) if root not in order]
    why = {root: _why(base.get(root), work.get(root, {}), _lock_path(root)) for root in order}
    if not layout:
        return [AffectedRoot(env, WHOLE, "", tuple(why[WHOLE]))] if why[WHOLE] else [], removed
    listed = [AffectedRoot(env, SHARED, "", tuple(why[SHARED]))] if why[SHARED] else []
    changes = None
    if why[SHARED]:
        work_shared = {rel.removeprefix(f"{SHARED}/"): text for rel, text in texts.items() if root_of(rel) == SHARED}
        base_shared = sides.base_texts(env, SHARED) if SHARED in base else {}
        changes = SharedChanges(base_shared, work_shared, lock_changed=WHY_LOCK in why[SHARED])
    outputs = _kept_outputs(sides.project, env)
    for item in layout[1:]:
        reasons = list(why[item.path])
        after = ""
        if changes is not None and _takes_changing_value(loaded, item, changes):
            reasons.append(WHY_SHARED)
            after = SHARED
        if outputs is not None and _inputs_differ(sides.project, loaded, item, outputs):
            reasons.append(WHY_INPUTS)
            after = SHARED if why[SHARED] else after
        if reasons:
            listed.append(AffectedRoot(env, item.path, after, tuple(reasons)))
    return listed, removed


def _ordered(roots: Iterable[str]) -> list[str]:
    """Roots of the base in running order: the one root or shared first, then the service roots by name."""
    return sorted(roots, key=lambda root: (root.startswith("services/"), root))


def _takes_changing_value(loaded: LoadedEnv, item: RootLayout, changes: SharedChanges) -> bool:
    cfg = loaded.config
    for value in root_inputs(cfg, item.services):
        if value.name == "security_group_ids":
            if any(changes.can_change(value.name, key) for key in security_group_keys(cfg, item.services)):
                return True
        elif changes.can_change(value.name):
            return True
    return False


def _kept_outputs(project: Path, env: str) -> dict[str, Any] | None:
    """Shared's outputs as hclforge kept them after its last apply here; None when there are none or damaged.

    Read safely (:func:`~hclforge.roots.read_kept_outputs`): a link or a FIFO in a
    checkout's ``.hclforge/`` is refused (UnsafePathError, exit 2), never followed.
    """
    rel = shared_outputs_file(env)
    try:
        return read_kept_outputs(project / rel, rel, env)
    except SharedOutputsError:
        return None  # damaged: nothing to compare; the next plan reads shared's outputs again


def _inputs_differ(project: Path, loaded: LoadedEnv, item: RootLayout, outputs: dict[str, Any]) -> bool:
    """Whether the root's var file, as last planned here, differs from what shared's kept outputs give now."""
    try:
        planned = json.loads(read_private(project / item.inputs_file, MAX_OUTPUTS_BYTES).decode("utf-8"))
    except FileNotFoundError:
        return False  # never planned here: nothing to compare
    except (FileTooLargeError, UnicodeDecodeError, ValueError):
        return True
    try:
        return bool(planned != input_values(loaded.config, item, outputs))
    except SharedOutputsError:
        return True  # shared's kept outputs lack a value the root takes now: shared applies first


# ----------------------------------------------------------------- output


def matrix(result: Affected) -> dict[str, Any]:
    """The JSON document of ``affected --format json``.

    Returns:
        ``{"include": [{"env", "root", "after"}, ...]}``, a GitHub Actions matrix, when it
        holds at most :data:`MATRIX_LIMIT` roots; past that, ``{"chunks": [{"include":
        [...]}, ...]}``, each chunk a matrix of at most that many, in order. Removed roots,
        when there are any, are under ``"removed"``: ``[{"env", "root"}, ...]``.
    """
    entries = [root.entry() for root in result.roots]
    doc: dict[str, Any]
    if len(entries) <= MATRIX_LIMIT:
        doc = {"include": entries}
    else:
        doc = {"chunks": [{"include": entries[i : i + MATRIX_LIMIT]} for i in range(0, len(entries), MATRIX_LIMIT)]}
    if result.removed:
        doc["removed"] = [{"env": gone.env, "root": gone.root} for gone in result.removed]
    return doc


def text_lines(result: Affected) -> list[str]:
    """What ``affected`` prints for a person: one line per root, then the removed ones."""
    since = f"since {result.base.name} ({result.base.short})"
    if not result.roots and not result.removed:
        return [f"nothing affected {since}"]
    rows = [("env", "root", "after", "why")]
    rows += [(r.env, r.root, r.after, ", ".join(r.why)) for r in result.roots]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = [f"{len(result.roots)} root(s) affected {since}:"] if result.roots else [f"no root to plan {since}"]
    if result.roots:
        for row in rows:
            lines.append(
                ("  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)) + "  " + row[3]).rstrip()
            )
    for gone in result.removed:
        lines.append(
            f"removed: {gone.env} {gone.root} is no longer rendered; its resources stay in its state "
            "until it is destroyed (see docs/ci.md)"
        )
    return lines
