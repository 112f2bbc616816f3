"""The generated tree on disk: where it lives, which files are hclforge's, its lock and its stamp.

Light on purpose (no Jinja, no pydantic): a command whose tree is already rendered
asks :func:`is_fresh` and never imports the renderer. :mod:`hclforge.render` writes
trees and re-exports these names.

The render stamp (``.hclforge/envs/<env>/render.json``) records what the last render
wrote and from what: the key of its inputs (:func:`hclforge.envcache.inputs_key`)
and the SHA-256 of each generated file. The tree is fresh when the key is the same
and the files terraform reads on disk are exactly those, byte for byte; a file
edited, added or removed by hand makes it stale, and the next render puts it right.

A tree holds what hclforge rendered (addon copies included, see
:mod:`hclforge.addons`) and terraform's own working files, nothing else
(:func:`foreign_files`): any other file terraform would read (``.tf``,
``.tf.json``, override files, variable files), and any link whatever its name,
is refused before terraform runs, never deleted.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from hclforge.errors import ForeignFileError, UnsafePathError, UsageError
from hclforge.paths import confined_path, open_private_dir

MODULES_DIR = "modules"
ENVS_DIR = "envs"
# What an environment name may be: it becomes a file name, a directory and part of AWS names.
ENV_NAME_RE = re.compile(r"[a-z][a-z0-9-]{0,19}")
GENERATED_MARK = "generated — do not edit"
# Per-environment render locks live here, under the project root.
RENDER_LOCK_DIR = ".hclforge/locks"
STAMP_FORMAT = 1
# What terraform reads in a module directory (overrides included: ``*_override.tf``, ``override.tf.json``),
# the variable files it loads by itself at the root, and the test files of ``terraform test``.
TERRAFORM_SUFFIXES = (
    ".tf",
    ".tf.json",
    ".tfvars",
    ".tfvars.json",
    ".tftest.hcl",
    ".tftest.json",
    ".tfmock.hcl",
    ".tfmock.json",
)
# At the top of a tree and never looked into: terraform's data directory (a plain `terraform init`
# there; hclforge keeps its own under .hclforge/) and render's staging directories (write_tree).
_TERRAFORM_DATA_DIR = ".terraform"
_STAGING_PREFIX = ".render-"
# The roots of a tree, relative to modules/<env>/: the one root, or a split environment's shared
# root and service roots (hclforge.roots); each may hold a data directory of its own.
_ROOT_DIR_RE = re.compile(r"(shared/|services/[^/]+/)?")


@dataclass
class RenderedTree:
    """The files of one environment's generated tree, path relative to ``modules/<env>/``."""

    env: str
    files: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class FileChange:
    """What writing a tree did, or would do, to one file: create, update, delete or identical."""

    path: str
    action: str


def env_names(root: Path) -> list[str]:
    """List the environments under ``root/envs``: every ``*.yaml`` not starting with ``_``."""
    folder = root / ENVS_DIR
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.glob("*.yaml") if not p.name.startswith("_"))


def select_envs(root: Path, envs: Iterable[str], all_envs: bool) -> list[str]:
    """The environments a command acts on: the named ones, or every one with ``--all``."""
    names = list(envs)
    if all_envs and names:
        raise UsageError("give environment names or --all, not both")
    if all_envs:
        names = env_names(root)
        if not names:
            raise UsageError(f"no environments under {root / 'envs'}")
    if not names:
        raise UsageError("name an environment (e.g. dev) or use --all")
    return names


def local_state_path(env: str) -> str:
    """Where a local backend keeps state, relative to ``modules/<env>/``: outside the generated tree."""
    return f"../../.hclforge/state/{env}/terraform.tfstate"


def _marked(first_line: bytes) -> bool:
    """Whether a file's first line carries the generated mark."""
    try:
        return GENERATED_MARK in first_line.decode("utf-8")
    except UnicodeDecodeError:
        return False


def is_generated(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            return _marked(f.readline())
    except OSError:
        return False


def tree_files(root: Path, env: str) -> Iterator[str]:
    """Relative paths of the ``.tf`` files under ``modules/<env>/`` (hidden dirs skipped), checked.

    Hidden directories are skipped at every depth: each root of a split environment
    (``shared/``, ``services/<root>/``) has a ``.terraform/`` of its own, whose
    providers terraform links from its plugin cache.

    Raises:
        UnsafePathError: a symlink, or a ``.tf`` that is not a regular file, is in the tree.
    """
    base = f"{MODULES_DIR}/{env}"
    target = confined_path(root, base, kind="dir")
    if not target.is_dir():
        return
    for dirpath, dirnames, filenames in os.walk(target):
        here = Path(dirpath)
        for name in list(dirnames):
            rel = (here / name).relative_to(root).as_posix()
            if name.startswith("."):
                dirnames.remove(name)
                continue
            confined_path(root, rel, kind="dir")
        for name in filenames:
            if name.endswith(".tf"):
                rel = (here / name).relative_to(root).as_posix()
                confined_path(root, rel)
                yield (here / name).relative_to(target).as_posix()


def existing_generated(root: Path, env: str) -> set[str]:
    """The generated ``.tf`` files now in ``modules/<env>/`` (those with the generated mark)."""
    target = root / MODULES_DIR / env
    return {rel for rel in tree_files(root, env) if is_generated(target / rel)}


@contextmanager
def render_lock(root: Path, env: str) -> Iterator[None]:
    """Hold the per-environment render lock (fcntl): one writer of ``modules/<env>/`` at a time."""
    # .hclforge/ is private and never followed through a link (see hclforge.paths.open_private_dir).
    dir_fd = open_private_dir(root / RENDER_LOCK_DIR)
    try:
        fd = os.open(f"render-{env}.lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=dir_fd)
    except OSError as err:
        raise UnsafePathError(f"{RENDER_LOCK_DIR}/render-{env}.lock cannot be opened ({err.strerror or err})") from None
    finally:
        os.close(dir_fd)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


# ----------------------------------------------------------------- what a tree may hold


@dataclass
class _Scan:
    """A walk of a tree: the files terraform reads, and what no tree may hold."""

    terraform_files: list[str] = field(default_factory=list)
    unsafe: list[str] = field(default_factory=list)


def _scan(root: Path, env: str) -> _Scan:
    """Walk ``modules/<env>/`` without following a link (see :func:`foreign_files`)."""
    base = f"{MODULES_DIR}/{env}"
    target = confined_path(root, base, kind="dir")
    found = _Scan()
    if not target.is_dir():
        return found

    def walk(folder: Path, rel: str) -> None:
        with os.scandir(folder) as entries:
            for entry in sorted(entries, key=lambda e: e.name):
                path = f"{rel}{entry.name}"
                shown = f"{base}/{path}"
                if entry.is_symlink():
                    found.unsafe.append(f"{shown} is a symbolic link: a generated tree holds no links")
                elif entry.is_dir(follow_symlinks=False):
                    data_dir = entry.name == _TERRAFORM_DATA_DIR and _ROOT_DIR_RE.fullmatch(rel) is not None
                    if not (data_dir or (not rel and entry.name.startswith(_STAGING_PREFIX))):
                        walk(Path(entry.path), f"{path}/")
                elif not entry.is_file(follow_symlinks=False):
                    found.unsafe.append(f"{shown} is not a regular file")
                elif entry.name.endswith(TERRAFORM_SUFFIXES):
                    found.terraform_files.append(path)

    walk(target, "")
    return found


def foreign_files(root: Path, env: str, rendered: set[str]) -> list[str]:
    """What ``modules/<env>/`` holds that a render writing ``rendered`` neither wrote nor replaces.

    Each is a line naming the file: a link (of any name, anywhere), a file that is
    not a regular one, or a file terraform reads (``.tf``, ``.tf.json``, an override,
    a ``.tfvars``) that is neither in ``rendered`` nor hclforge's own (a ``.tf`` with
    the generated mark, which a render removes when it is stale). terraform's working
    files (``.terraform/``, ``.terraform.lock.hcl``, state, saved plans) and files
    terraform never reads are allowed.
    """
    scan = _scan(root, env)
    base = root / MODULES_DIR / env
    lines = list(scan.unsafe)
    for rel in scan.terraform_files:
        if rel in rendered or (rel.endswith(".tf") and is_generated(base / rel)):
            continue
        lines.append(f"{MODULES_DIR}/{env}/{rel}: not rendered by hclforge")
    return sorted(lines)


def check_contents(root: Path, env: str, rendered: set[str]) -> None:
    """Refuse a tree that holds what :func:`foreign_files` names.

    Raises:
        ForeignFileError: naming every such file, and where hand-written Terraform belongs.
    """
    lines = foreign_files(root, env, rendered)
    if lines:
        listed = "\n".join(f"  {line}" for line in lines)
        raise ForeignFileError(
            f"{MODULES_DIR}/{env}/ holds what hclforge did not render:\n{listed}\n"
            f"nothing was changed: hand-written Terraform belongs in addons/{env}/ or addons/_shared/ "
            f"(see docs/addons.md); remove the rest"
        )


# ----------------------------------------------------------------- the render stamp


def _tree_digests(root: Path, env: str) -> dict[str, str] | None:
    """SHA-256 of each file terraform reads in ``modules/<env>/``; None when the tree holds a link or a FIFO."""
    scan = _scan(root, env)
    if scan.unsafe:
        return None
    target = root / MODULES_DIR / env
    return {rel: hashlib.sha256((target / rel).read_bytes()).hexdigest() for rel in scan.terraform_files}


def stamp_text(tree: RenderedTree, key: str) -> str:
    """The stamp of ``tree``, just written, rendered from inputs with ``key``."""
    files = {rel: hashlib.sha256(text.encode("utf-8")).hexdigest() for rel, text in sorted(tree.files.items())}
    return json.dumps({"format": STAMP_FORMAT, "env": tree.env, "key": key, "files": files}, sort_keys=True)


def is_fresh(root: Path, env: str, stamp: Path, key: str) -> bool:
    """Whether ``modules/<env>/`` holds exactly what a render of inputs with ``key`` writes.

    False on any doubt (no stamp, another key, a file changed, added or removed,
    marked or not); a tree that holds a link or a FIFO is never fresh, so the render
    reports it, and so is one with a file nobody rendered (:func:`check_contents`).
    """
    try:
        recorded = json.loads(stamp.read_text(encoding="utf-8"))
        if recorded.get("format") != STAMP_FORMAT or recorded.get("env") != env or recorded.get("key") != key:
            return False
        return bool(_tree_digests(root, env) == recorded["files"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError, UnsafePathError):
        return False
