"""Read a git revision's committed files, without a work tree: the base side of ``affected``.

Only plumbing commands, each once per run: ``rev-parse`` to resolve the base,
``ls-tree`` to list its files with their blob ids, ``cat-file --batch`` to read the
few it needs whole, ``ls-files`` for what the work tree tracks. A rendered file is
compared with the base by its git blob id (:func:`blob_id`), so an unchanged tree
costs a hash per file, not a read.

Paths are relative to the project root, which may be a folder inside the repository
(``hclforge new`` in a monorepo): every command runs there, and git reads and prints
paths relative to it.
"""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from hclforge.errors import GitError

# Where the default branch is looked for, in this order, when no base is given: the remote's
# default branch (set by `git clone`), then the usual local and remote-tracking names (a CI
# checkout has origin/<branch> but neither origin/HEAD nor a local branch).
DEFAULT_BRANCHES = ("main", "origin/main", "master", "origin/master")


@dataclass(frozen=True)
class Base:
    """The revision ``affected`` compares with.

    Attributes:
        name: as the user reads it (``origin/main``, or ``merge base of HEAD and origin/main``).
        tree: the object ``ls-tree`` lists (a commit or a tree id).
        short: an abbreviated id, for messages.
    """

    name: str
    tree: str
    short: str


def git(root: Path, *args: str, stdin: bytes | None = None) -> bytes:
    """Run ``git ARGS`` in ``root`` and return its stdout.

    Raises:
        GitError: git is missing, or the command failed (its message included).
    """
    try:
        done = subprocess.run(["git", *args], cwd=root, input=stdin, capture_output=True, check=False)
    except FileNotFoundError:
        raise GitError("git is not installed (or not on PATH): affected compares with a git revision") from None
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise GitError(f"git {' '.join(args)}: {message[-1] if message else f'exit {done.returncode}'}")
    return done.stdout


def _verify(root: Path, rev: str) -> str | None:
    """The full id of ``rev`` (peeled as asked, e.g. ``main^{commit}``), or None when it does not resolve."""
    try:
        return git(root, "rev-parse", "--verify", "--quiet", "--end-of-options", rev).decode().strip() or None
    except GitError:
        return None


def _in_repository(root: Path) -> None:
    try:
        git(root, "rev-parse", "--is-inside-work-tree")
    except GitError:
        raise GitError(
            f"{root} is not in a git repository: affected compares the work tree with a git revision"
        ) from None


def resolve(root: Path, ref: str) -> Base:
    """The base named by ``ref``: a commit, a branch or tag, or a tree id (the empty tree: nothing existed).

    Raises:
        GitError: not a repository, or ``ref`` names no commit or tree.
    """
    _in_repository(root)
    if ref.startswith("-"):
        raise GitError(f"'{ref}' is not a git revision")
    tree = _verify(root, f"{ref}^{{tree}}")
    if tree is None:
        raise GitError(
            f"'{ref}' is not a commit or tree of this repository (fetch it, e.g. git fetch origin, or pass --base)"
        )
    commit = _verify(root, f"{ref}^{{commit}}")
    return Base(ref, commit or tree, (commit or tree)[:12])


def default_base(root: Path) -> Base:
    """The merge base of HEAD with the default branch: origin/HEAD's target, else main, else master.

    Raises:
        GitError: not a repository, HEAD has no commit, no default branch is found, or
            it shares no history with HEAD; the message says to pass ``--base``.
    """
    _in_repository(root)
    if _verify(root, "HEAD^{commit}") is None:
        raise GitError("HEAD has no commit yet: commit first, or pass --base REF")
    candidates = []
    try:
        remote_head = git(root, "symbolic-ref", "--quiet", "refs/remotes/origin/HEAD").decode().strip()
        candidates.append(remote_head.removeprefix("refs/remotes/"))
    except GitError:
        pass
    candidates += DEFAULT_BRANCHES
    branch = next((name for name in candidates if _verify(root, f"{name}^{{commit}}")), None)
    if branch is None:
        raise GitError(
            "no default branch to compare with (looked for origin/HEAD, main, origin/main, master, origin/master): "
            "pass --base REF"
        )
    try:
        merge_base = git(root, "merge-base", "HEAD", branch).decode().strip()
    except GitError:
        raise GitError(f"HEAD and {branch} share no history: pass --base REF") from None
    return Base(f"merge base of HEAD and {branch}", merge_base, merge_base[:12])


def list_files(root: Path, tree: str, folder: str) -> dict[str, str]:
    """The regular files under ``folder`` at ``tree``: path (relative to ``root``) -> blob id."""
    out = git(root, "ls-tree", "-r", "-z", tree, "--", f"{folder.rstrip('/')}/")
    files = {}
    for record in out.decode("utf-8", "surrogateescape").split("\0"):
        if not record:
            continue
        meta, _, path = record.partition("\t")
        mode, kind, blob = meta.split(" ")
        if kind == "blob" and mode in ("100644", "100755"):
            files[path] = blob
    return files


def read_blobs(root: Path, blobs: Iterable[str]) -> dict[str, bytes]:
    """The contents of ``blobs`` (ids from :func:`list_files`), read in one ``cat-file --batch``."""
    wanted = sorted(set(blobs))
    if not wanted:
        return {}
    out = git(root, "cat-file", "--batch", stdin="".join(f"{blob}\n" for blob in wanted).encode())
    found: dict[str, bytes] = {}
    at = 0
    for blob in wanted:
        end = out.index(b"\n", at)
        header = out[at:end].decode().split(" ")
        if len(header) != 3:
            raise GitError(f"git cat-file: {blob} is missing from the repository")
        size = int(header[2])
        found[blob] = out[end + 1 : end + 1 + size]
        at = end + 1 + size + 1  # the content, then a newline
    return found


def tracked(root: Path, folder: str) -> set[str]:
    """The files under ``folder`` that the index tracks, relative to ``root``."""
    out = git(root, "ls-files", "-z", "--", f"{folder.rstrip('/')}/")
    return {name for name in out.decode("utf-8", "surrogateescape").split("\0") if name}


def object_format(root: Path) -> str:
    """The repository's hash: ``sha1``, or ``sha256`` for a repository made with ``--object-format=sha256``."""
    try:
        return git(root, "rev-parse", "--show-object-format").decode().strip() or "sha1"
    except GitError:
        return "sha1"


def blob_id(data: bytes, algorithm: str = "sha1") -> str:
    """The id git gives ``data`` as a blob: what ``git hash-object`` prints."""
    return hashlib.new(algorithm, b"blob %d\0" % len(data) + data).hexdigest()
