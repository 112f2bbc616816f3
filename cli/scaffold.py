"""``hclforge new DIR``: a project of a team's own, runnable at once on the emulator.

The files come from ``hclforge/scaffold/`` (package data), with ``@@project@@``,
``@@region@@`` and ``@@version@@`` filled in. Nothing is ever overwritten: the
directory must be new or empty.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

import hclforge
from hclforge.errors import UsageError
from hclforge.model import PROJECT_RE, REGION_RE
from hclforge.schema import env_schema_text

# Files whose name in the package differs from the one written (a dotfile would be
# left out of the wheel by some tools, and would hide the template from readers).
_RENAMES = {"gitignore": ".gitignore"}


@dataclass(frozen=True)
class NewProject:
    """What ``new`` wrote."""

    root: Path
    project: str
    files: list[str]


def project_name(directory: Path) -> str:
    """A valid ``project`` from a directory name: ``Sales Support`` -> ``sales-support``."""
    name = re.sub(r"[^a-z0-9-]+", "-", directory.name.lower()).strip("-")
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


def new_project(directory: Path, *, project: str | None = None, region: str = "eu-west-1") -> NewProject:
    """Write a new project into ``directory`` (created; must be new or empty).

    Raises:
        UsageError: the directory holds files, or the project name or region is invalid.
    """
    name = project or project_name(directory)
    if not re.fullmatch(PROJECT_RE, name):
        raise UsageError(f"'{name}' is not a project name (allowed: {PROJECT_RE}); pass --project NAME")
    if not re.fullmatch(REGION_RE, region):
        raise UsageError(f"'{region}' is not an AWS region (e.g. eu-west-1)")
    if directory.is_symlink() or (directory.exists() and not directory.is_dir()):
        raise UsageError(f"{directory} exists and is not a directory")
    if directory.is_dir() and any(directory.iterdir()):
        raise UsageError(f"{directory} is not empty; hclforge new never overwrites (pick a new directory)")
    values = {"@@project@@": name, "@@region@@": region, "@@version@@": hclforge.__version__}
    files: dict[str, str] = {}
    for rel, source in _walk(resources.files("hclforge") / "scaffold"):
        text = source.read_text(encoding="utf-8")
        for key, value in values.items():
            text = text.replace(key, value)
        parent, _, base = rel.rpartition("/")
        files[f"{parent}/{_RENAMES.get(base, base)}" if parent else _RENAMES.get(base, base)] = text
    files["schema/hclforge-env.schema.json"] = env_schema_text()
    for rel, text in sorted(files.items()):
        path = directory / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("x", encoding="utf-8") as handle:  # "x": never overwrite
            handle.write(text)
    return NewProject(directory, name, sorted(files))
