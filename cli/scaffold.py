"""``hclforge new DIR``: a project of a team's own that passes its own checks at once.

The files come from ``hclforge/scaffold/`` (package data), with ``@@project@@``,
``@@region@@`` and the other ``@@...@@`` values filled in, and every environment
they hold is rendered into ``modules/``. The CI workflow installs hclforge the way
it was installed here (:mod:`hclforge.cli.installsource`); inside a larger git
repository it goes to that repository's ``.github/workflows/`` and runs in DIR.

Nothing is ever overwritten: every file is checked before any is written, and a
conflict anywhere refuses the whole project, naming each. A new directory, or an
empty one, takes the project as it is; a non-empty one (an existing repository)
only with ``here``.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import tempfile
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

import hclforge
from hclforge.cli.installsource import EXTRA, InstallSource, git, install_source
from hclforge.errors import HclforgeError, UsageError, printable
from hclforge.model import PROJECT_RE, REGION_RE
from hclforge.render import render
from hclforge.schema import SCHEMA_PATH, env_schema_text
from hclforge.tree import MODULES_DIR, env_names

# Files whose name in the package differs from the one written (a dotfile would be
# left out of the wheel by some tools, and would hide the template from readers).
_RENAMES = {"gitignore": ".gitignore"}
WORKFLOW = ".github/workflows/hclforge.yml"


@dataclass(frozen=True)
class Place:
    """Where the project goes: its directory, and the git repository's root that holds the CI workflow."""

    root: Path
    ci_root: Path

    @property
    def workdir(self) -> str:
        """The project's directory relative to the repository's root (``.`` when they are one)."""
        return Path(os.path.relpath(self.root.resolve(), self.ci_root.resolve())).as_posix()

    def shown(self, path: Path) -> str:
        """``path`` as the user reads it: relative to the project's directory."""
        return Path(os.path.relpath(path, self.root)).as_posix()


@dataclass(frozen=True)
class NewProject:
    """What ``new`` wrote."""

    root: Path
    project: str
    files: list[str]
    identical: list[str]
    source: InstallSource
    workflow: str


def project_name(directory: Path) -> str:
    """A valid ``project`` from a directory name: ``Sales Support`` -> ``sales-support``."""
    name = re.sub(r"[^a-z0-9-]+", "-", Path(os.path.abspath(directory)).name.lower()).strip("-")
    if name and not name[0].isalpha():
        name = "p-" + name
    return name[:20].rstrip("-")


def _walk(node: Traversable, prefix: str = "") -> list[tuple[str, Traversable]]:
    found = []
    for child in sorted(node.iterdir(), key=lambda c: c.name):
        rel = f"{prefix}{child.name}"
        if child.is_dir():
            found += _walk(child, rel + "/")
        elif not child.name.endswith((".py", ".pyc")):
            found.append((rel, child))
    return found


def _check_directory(directory: Path, *, here: bool) -> None:
    if directory.is_symlink():
        target = os.readlink(directory)
        if not directory.exists():
            raise UsageError(
                f"{directory} is a dangling symlink (to {target}); hclforge new does not write through "
                "symlinks: remove it, or pick another directory"
            )
        raise UsageError(
            f"{directory} is a symlink (to {target}); hclforge new does not write through symlinks: "
            "give the directory itself"
        )
    if directory.exists() and not directory.is_dir():
        raise UsageError(f"{directory} exists and is not a directory")
    if not here and directory.is_dir() and any(directory.iterdir()):
        raise UsageError(
            f"{directory} is not empty: pass --here to add hclforge to it (nothing is overwritten), "
            "or pick a new directory"
        )


def _place(directory: Path) -> Place:
    """The project's place; the CI workflow goes to the root of the git repository around it, if any."""
    root = Path(os.path.abspath(directory))
    existing = root
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    top = git(existing, "rev-parse", "--show-toplevel")
    if top is not None and root.resolve().is_relative_to(Path(top).resolve()):
        depth = len(root.resolve().relative_to(Path(top).resolve()).parts)
        return Place(root, root.parents[depth - 1] if depth else root)
    return Place(root, root)


def _fill(text: str, values: dict[str, str]) -> str:
    """``text`` with each ``@@key@@`` replaced; a value of several lines keeps the placeholder's indentation."""

    def line(match: re.Match[str]) -> str:
        indent, key = match.group(1), match.group(2)
        return "\n".join(indent + part if part else part for part in values[key].split("\n"))

    text = re.sub(r"^([ \t]*)(@@\w+@@)$", line, text, flags=re.M)
    for key, value in values.items():
        text = text.replace(key, value)
    return text


def _install_values(source: InstallSource, workflow: str) -> dict[str, str]:
    how = printable(source.how)
    if source.requirement is not None:
        step = "\n".join(
            [
                f"# As hclforge was installed where this project was made: {how}.",
                "run: |",
                f"  python -m pip install {shlex.quote(source.requirement)}",
            ]
        )
        readme = (
            f"CI (`{workflow}`) installs hclforge as it was installed where this project was made: {how}. "
            f"Install it the same way: `python -m pip install {shlex.quote(source.requirement)}`."
        )
        return {"@@install_step@@": step, "@@install_readme@@": readme}
    version = hclforge.__version__
    step = "\n".join(
        [
            f"# This project was made with hclforge from {how}.",
            "# Set where CI installs it from, e.g.:",
            f"#   python -m pip install 'hclforge[{EXTRA}]=={version}'   (a package index that has it)",
            f"#   python -m pip install 'hclforge[{EXTRA}] @ git+https://HOST/ORG/hclforge.git@COMMIT'",
            "run: |",
            "  echo \"::error::set where CI installs hclforge from: the 'Install hclforge' step of this workflow\"",
            "  exit 1",
        ]
    )
    readme = (
        f"CI does not know yet where to install hclforge from: this project was made with hclforge from {how}. "
        f"Set it in the 'Install hclforge' step of `{workflow}`; until then CI fails there."
    )
    return {"@@install_step@@": step, "@@install_readme@@": readme}


def project_files(place: Place, name: str, region: str, source: InstallSource) -> dict[Path, str]:
    """Every file of the new project, rendered trees included, by absolute path; nothing is written."""
    workflow = place.shown(place.ci_root / WORKFLOW)
    values = {
        "@@project@@": name,
        "@@region@@": region,
        "@@version@@": hclforge.__version__,
        "@@workdir@@": json.dumps(place.workdir),
        **_install_values(source, workflow),
    }
    files: dict[Path, str] = {}
    for rel, source_file in _walk(resources.files("hclforge") / "scaffold"):
        parent, _, base = rel.rpartition("/")
        rel = f"{parent}/{_RENAMES.get(base, base)}" if parent else _RENAMES.get(base, base)
        # Every workflow goes where GitHub runs it: the repository's .github/workflows/.
        path = place.ci_root / rel if rel.startswith(".github/workflows/") else place.root / rel
        files[path] = _fill(source_file.read_text(encoding="utf-8"), values)
    files[place.root / SCHEMA_PATH] = env_schema_text()
    # Rendered from a copy of the scaffold's environments, so that conflicts are known before anything is written.
    with tempfile.TemporaryDirectory(prefix="hclforge-new-") as tmp:
        for path, text in files.items():
            rel = place.shown(path)
            if rel.startswith("envs/") or rel == "hclforge.toml":
                (Path(tmp) / rel).parent.mkdir(parents=True, exist_ok=True)
                (Path(tmp) / rel).write_text(text, encoding="utf-8")
        for env in env_names(Path(tmp)):
            tree = render(Path(tmp), env)
            files.update({place.root / MODULES_DIR / env / rel: text for rel, text in tree.files.items()})
    return files


def _conflict(place: Place, path: Path, text: str) -> str | None:
    """What stands in the way of writing ``path``; ``"identical"`` when it holds ``text`` already."""
    base = place.ci_root if not path.is_relative_to(place.root) else place.root
    for parent in reversed(path.relative_to(base).parents[:-1]):
        at = base / parent
        if at.is_symlink():
            return f"{place.shown(at)} is a symlink"
        if at.exists() and not at.is_dir():
            return f"{place.shown(at)} is not a directory"
    if path.is_symlink():
        return f"{place.shown(path)} is a symlink"
    if not path.exists():
        return None
    if not path.is_file():
        return f"{place.shown(path)} is not a regular file"
    data = text.encode("utf-8")
    if path.stat().st_size == len(data) and path.read_bytes() == data:
        return "identical"
    return f"{place.shown(path)} exists and differs"


def _strays(place: Place, files: dict[Path, str]) -> list[str]:
    """Files in a ``modules/<env>/`` that new renders, which are not part of that render."""
    found = []
    for env_dir in sorted({p.parent for p in files if p.parent.parent == place.root / MODULES_DIR}):
        if env_dir.is_dir() and not env_dir.is_symlink():
            for dirpath, _dirs, names in os.walk(env_dir):
                found += [
                    f"{place.shown(Path(dirpath) / n)} is not part of the render of {place.shown(env_dir)}/"
                    for n in sorted(names)
                    if Path(dirpath) / n not in files
                ]
    return found


def _write(place: Place, files: dict[Path, str]) -> None:
    """Write ``files``, all or none: on any failure (or Ctrl-C) what was written is removed."""
    made: list[Path] = []
    try:
        for path, text in sorted(files.items()):
            missing = [p for p in reversed(path.parents) if not p.exists()]
            for parent in missing:
                parent.mkdir()
                made.append(parent)
            with path.open("x", encoding="utf-8") as handle:  # "x": never overwrite, never through a symlink
                made.append(path)
                handle.write(text)
    except BaseException as err:
        for path in reversed(made):
            if path.is_dir():
                path.rmdir()
            else:
                path.unlink(missing_ok=True)
        if isinstance(err, OSError):
            raise HclforgeError(f"cannot write {err.filename}: {err.strerror}; nothing was kept") from None
        raise


def new_project(
    directory: Path, *, project: str | None = None, region: str = "eu-west-1", here: bool = False
) -> NewProject:
    """Write a new project into ``directory``, rendered, overwriting nothing.

    Args:
        directory: the project's directory: new or empty, or with ``here`` any directory.
        project: the project name (default: from the directory's name).
        region: the AWS region of its environments.
        here: add to a directory that holds files already (each file new or identical).

    Raises:
        UsageError: the directory is a symlink, a file, or not empty without ``here``; a
            file would be overwritten (each named; nothing is written); the name or region
            is invalid.
    """
    name = project or project_name(directory)
    if not re.fullmatch(PROJECT_RE, name):
        raise UsageError(f"'{name}' is not a project name (allowed: {PROJECT_RE}); pass --project NAME")
    if not re.fullmatch(REGION_RE, region):
        raise UsageError(f"'{region}' is not an AWS region (e.g. eu-west-1)")
    _check_directory(directory, here=here)
    place = _place(directory)
    source = install_source()
    files = project_files(place, name, region, source)
    verdicts = {path: _conflict(place, path, text) for path, text in files.items()}
    conflicts = sorted({v for v in verdicts.values() if v not in (None, "identical")}) + _strays(place, files)
    if conflicts:
        head = (
            f"hclforge new found {len(conflicts)} conflict(s) in {directory}; it never overwrites, nothing was written:"
        )
        raise UsageError("\n  ".join([head, *conflicts]))
    _write(place, {path: text for path, text in files.items() if verdicts[path] is None})
    shown = sorted(place.shown(p) for p, v in verdicts.items() if v is None)
    identical = sorted(place.shown(p) for p, v in verdicts.items() if v == "identical")
    return NewProject(directory, name, shown, identical, source, place.shown(place.ci_root / WORKFLOW))


def summary_lines(made: NewProject) -> list[str]:
    """What ``new`` prints: the files written (a rendered tree as one line), where CI installs from, what next."""
    lines: list[str] = []
    trees: dict[str, int] = {}
    for rel in made.files:
        parts = rel.split("/")
        if parts[0] == MODULES_DIR and len(parts) > 2:
            trees[f"{MODULES_DIR}/{parts[1]}/"] = trees.get(f"{MODULES_DIR}/{parts[1]}/", 0) + 1
        else:
            lines.append(f"   create  {rel}")
    lines += [f"   render  {tree} ({count} files)" for tree, count in sorted(trees.items())]
    lines += [f"identical  {rel}" for rel in made.identical]
    ci = made.source.requirement or "nothing yet: set it in the 'Install hclforge' step"
    lines.append(f"CI installs hclforge: {ci} ({made.workflow})")
    here = Path(os.path.abspath(made.root)) == Path.cwd()
    cd = "" if here else f"cd {shlex.quote(str(made.root))} && "
    lines.append(f"new project {made.project} in {made.root}: {cd}make plan")
    return lines
