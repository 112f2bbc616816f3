"""Where this hclforge was installed from, as a requirement CI on another machine can install.

``hclforge new`` writes it into the project's CI workflow. It is read from the
installed distribution's PEP 610 ``direct_url.json``:

- none: installed from a package index, so ``hclforge[emulator]==VERSION``;
- ``vcs_info``: that repository at that very commit;
- ``archive_info``: that archive's URL (with its hash), when it is not a local file;
- ``dir_info`` (a local directory, editable or not): when it is a git checkout whose
  remote CI can reach, the remote at the checkout's HEAD commit.

Anything CI cannot reach (a local path, a local file) gives no requirement, and
:attr:`InstallSource.warnings` tells the user what to set; a version is never
written for an index hclforge did not come from.
"""

from __future__ import annotations

import json
import os
import site
import subprocess
import sysconfig
import urllib.parse
import urllib.request
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

NAME = "hclforge"
# CI runs the request-path check and plans on the emulator: it needs the extra.
EXTRA = "emulator"
_REACHABLE_SCHEMES = frozenset({"https", "http", "ssh", "git"})
# Variables that would point git at another repository than the one asked about.
_GIT_VARS = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_COMMON_DIR")


@dataclass(frozen=True)
class InstallSource:
    """How CI installs hclforge.

    Attributes:
        requirement: a PEP 508 requirement with the emulator extra, e.g.
            ``hclforge[emulator]==0.2.0`` or ``hclforge[emulator] @ git+https://host/org/hclforge.git@<commit>``;
            None when this installation came from where CI cannot install from.
        how: where this installation came from, as a phrase for the project's README.
        warnings: what the user must do before CI can install it (set the source, push a commit).
    """

    requirement: str | None
    how: str
    warnings: tuple[str, ...] = ()


def _installed() -> metadata.Distribution | None:
    """The distribution installed in this interpreter's environment (site-packages, user site).

    Not :func:`importlib.metadata.distribution`: from a source tree, that can find the
    tree's own ``hclforge.egg-info`` (a build's by-product, no ``direct_url.json``) and
    mistake it for an index install.
    """
    paths = [sysconfig.get_path("purelib"), sysconfig.get_path("platlib"), site.getusersitepackages()]
    found = metadata.distributions(name=NAME, path=list(dict.fromkeys(p for p in paths if p)))
    return next(iter(found), None)


def install_source(dist: metadata.Distribution | None = None) -> InstallSource:
    """Where ``dist`` (default: the installed hclforge) came from, as a requirement for CI."""
    dist = dist or _installed()
    if dist is None:
        # Run from a source tree (PYTHONPATH): the tree hclforge is imported from.
        import hclforge

        return from_directory(Path(hclforge.__file__).resolve().parent.parent, editable=True)
    text = dist.read_text("direct_url.json")
    version = dist.version
    if text is None:
        return InstallSource(
            f"{NAME}[{EXTRA}]=={version}",
            f"version {version} from the package index this machine used "
            "(a private index: give CI its URL in PIP_INDEX_URL)",
        )
    try:
        doc = json.loads(text)
    except ValueError:
        doc = None
    if not isinstance(doc, dict) or not isinstance(doc.get("url"), str):
        return _unreachable("an unreadable direct_url.json", "its install record is not valid PEP 610")
    return from_direct_url(doc)


def from_direct_url(doc: dict[str, Any]) -> InstallSource:
    """The requirement for one PEP 610 ``direct_url.json`` document."""
    url: str = doc["url"]
    fragment = f"#subdirectory={doc['subdirectory']}" if isinstance(doc.get("subdirectory"), str) else ""
    vcs_info, archive_info = doc.get("vcs_info"), doc.get("archive_info")
    if isinstance(vcs_info, dict) and isinstance(vcs_info.get("commit_id"), str):
        vcs, commit = str(vcs_info.get("vcs", "git")), vcs_info["commit_id"]
        public = public_url(url)
        if public is None:
            return _unreachable(f"the {vcs} repository {url}", "CI cannot reach it")
        requirement = f"{NAME}[{EXTRA}] @ {vcs}+{public}@{commit}{fragment}"
        return InstallSource(requirement, f"commit {commit[:12]} of the {vcs} repository {public}")
    if isinstance(archive_info, dict):
        public = public_url(url)
        if public is None:
            return _unreachable(f"the archive {_shown(url)}", "CI cannot reach it")
        hashes = archive_info.get("hashes")
        if "#" not in public and isinstance(hashes, dict) and isinstance(hashes.get("sha256"), str):
            public += f"#sha256={hashes['sha256']}"
        return InstallSource(f"{NAME}[{EXTRA}] @ {public}", f"the archive {public}")
    if isinstance(doc.get("dir_info"), dict) and url.startswith("file:"):
        path = Path(urllib.request.url2pathname(urllib.parse.urlsplit(url).path))
        editable = bool(doc["dir_info"].get("editable"))
        return from_directory(path / doc["subdirectory"] if fragment else path, editable=editable)
    return _unreachable(_shown(url), "its install record names no source CI can use")


def public_url(url: str) -> str | None:
    """``url`` as CI can use it, without credentials; None for a local path or file.

    ``git@host:org/repo.git`` (scp-like, as git remotes are often written) becomes
    ``ssh://git@host/org/repo.git``. A password or token is never kept: an ssh user
    name is (``git@``), an https one is dropped with the rest of the credentials.
    """
    if any(ch.isspace() or not ch.isprintable() for ch in url):
        return None
    if "://" not in url and ":" in url and "@" in url.split(":", 1)[0]:
        user_host, path = url.split(":", 1)
        url = f"ssh://{user_host}/{path.lstrip('/')}"
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in _REACHABLE_SCHEMES or not parts.hostname:
        return None
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    if parts.scheme == "ssh" and parts.username:
        netloc = f"{parts.username}@{netloc}"
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _shown(url: str) -> str:
    if url.startswith("file:"):
        return urllib.request.url2pathname(urllib.parse.urlsplit(url).path)
    return public_url(url) or "a URL CI cannot reach"


def _unreachable(what: str, why: str) -> InstallSource:
    return InstallSource(
        None,
        f"{what}, which CI cannot install from",
        (
            f"hclforge was installed from {what}: {why}. Set where CI installs hclforge from in the "
            "'Install hclforge' step of the CI workflow (its comment shows the forms); until then CI fails there",
        ),
    )


def git(path: Path, *args: str) -> str | None:
    """``git -C path ARGS``'s output, stripped; None when git is missing or fails."""
    env = {k: v for k, v in os.environ.items() if k not in _GIT_VARS}
    try:
        done = subprocess.run(
            ["git", "-C", str(path), *args], capture_output=True, text=True, env=env, timeout=30, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def _remote(path: Path) -> str | None:
    """The remote of the checked-out branch's upstream, else ``origin``, else the only remote."""
    branch = git(path, "symbolic-ref", "--short", "-q", "HEAD")
    upstream = git(path, "config", f"branch.{branch}.remote") if branch else None
    remotes = (git(path, "remote") or "").split()
    if upstream in remotes:
        return upstream
    if "origin" in remotes:
        return "origin"
    return remotes[0] if len(remotes) == 1 else None


def from_directory(path: Path, *, editable: bool) -> InstallSource:
    """A local directory: its git remote at its HEAD commit, when it is a checkout CI can reach."""
    kind = f"the local directory {path}" + (" (editable)" if editable else "")
    top, commit = git(path, "rev-parse", "--show-toplevel"), git(path, "rev-parse", "HEAD")
    if top is None or commit is None:
        return _unreachable(kind, "it is not a git checkout with a commit")
    remote = _remote(path)
    if remote is None:
        return _unreachable(kind, "its git checkout has no remote to install from")
    url = git(path, "remote", "get-url", remote) or ""
    public = public_url(url)
    if public is None:
        return _unreachable(kind, f"its git remote {remote} is a local path")
    sub = Path(os.path.relpath(path.resolve(), Path(top).resolve())).as_posix()
    fragment = f"#subdirectory={sub}" if sub != "." else ""
    warnings = []
    if not git(path, "for-each-ref", "--count=1", "--contains", commit, f"refs/remotes/{remote}"):
        warnings.append(
            f"commit {commit[:12]} of {path} is on no branch of the remote {remote} that this checkout knows of: "
            "push it, or CI cannot install it"
        )
    if git(path, "status", "--porcelain", "--untracked-files=no"):
        warnings.append(f"{path} has uncommitted changes: CI installs commit {commit[:12]}, without them")
    return InstallSource(
        f"{NAME}[{EXTRA}] @ git+{public}@{commit}{fragment}",
        f"commit {commit[:12]} of {public} (the git remote {remote} of {kind})",
        tuple(warnings),
    )
