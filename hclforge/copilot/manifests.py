"""Read a Copilot workspace: the manifests, their lines, and one environment's view of each.

Copilot reads its manifests with Go's yaml.v3, which follows YAML 1.2: ``on``,
``yes`` and ``off`` are strings there (a Scheduled Job's ``on:`` key among them).
The files are parsed here with a loader that resolves booleans the same way, through
:func:`hclforge.source.load_document`, so every value keeps its file and line.

An environment's view of a workload manifest (:func:`for_env`) is Copilot's: the
``environments.<env>`` overrides merged over the manifest (maps merge, lists and
scalars replace, a value of another kind replaces, ``null`` overrides nothing), then
``${VAR}`` substituted (``COPILOT_APPLICATION_NAME``, ``COPILOT_ENVIRONMENT_NAME``,
else the shell's variables). Every value of the view remembers the manifest path it
came from, so the report can name the line the user wrote.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from hclforge.errors import ConfigError, UsageError
from hclforge.paths import confined
from hclforge.source import Document, YamlPath, load_document

BOOL_1_2 = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
BOOL_TAG = "tag:yaml.org,2002:bool"


class Yaml12Loader(yaml.SafeLoader):
    """The safe loader with YAML 1.2's booleans only: ``on``, ``yes`` and ``off`` stay strings."""


Yaml12Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != BOOL_TAG]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
Yaml12Loader.add_implicit_resolver(BOOL_TAG, BOOL_1_2, list("tTfF"))

# Copilot's ${VAR}, and \${VAR} for a literal (Copilot's interpolate.go).
VAR_RE = re.compile(r"(\\?)\$\{([_a-zA-Z][_a-zA-Z0-9]*)\}")
PREDEFINED = ("COPILOT_APPLICATION_NAME", "COPILOT_ENVIRONMENT_NAME")
# Folders of copilot/ that hold no workload.
NOT_WORKLOADS = frozenset({"environments", "pipelines", ".workspace"})


@dataclass
class Manifest:
    """One manifest file as written."""

    name: str
    file: str
    doc: Document

    @property
    def data(self) -> dict[str, Any]:
        data: dict[str, Any] = self.doc.data
        return data

    def line(self, path: YamlPath) -> int:
        """The line of ``path`` (or of its nearest parent written in the file), 0 when unknown."""
        while path:
            if path in self.doc.lines:
                return self.doc.lines[path]
            path = path[:-1]
        return 0


@dataclass
class Workspace:
    """What ``copilot/`` holds: the application's name, its workloads and environments."""

    app: str | None
    workloads: dict[str, Manifest]
    envs: dict[str, Manifest]
    extras: list[str] = field(default_factory=list)


@dataclass
class View:
    """One environment's view of a manifest: merged data and where each value came from.

    Attributes:
        data: the manifest with the environment's overrides applied and variables substituted.
        source: for every path of ``data``, the path in the file it came from.
        shell: ``{path: [VAR, ...]}`` of values that took a variable from the shell.
        unset: ``{path: [VAR, ...]}`` of values naming a variable the shell does not set.
    """

    data: dict[str, Any]
    source: dict[YamlPath, YamlPath]
    shell: dict[YamlPath, list[str]] = field(default_factory=dict)
    unset: dict[YamlPath, list[str]] = field(default_factory=dict)


def copilot_dir(directory: Path) -> Path:
    """The ``copilot/`` folder of ``directory``: its ``copilot/`` child, or itself.

    Raises:
        UsageError: neither holds a manifest.
    """
    for candidate in (directory / "copilot", directory):
        if candidate.is_dir() and (
            (candidate / ".workspace").is_file()
            or (candidate / "environments").is_dir()
            or any(candidate.glob("*/manifest.yml"))
        ):
            return candidate
    raise UsageError(
        f"{directory} holds no Copilot manifests (expected copilot/<service>/manifest.yml "
        "or copilot/environments/<env>/manifest.yml)"
    )


def read_workspace(directory: Path) -> Workspace:
    """Read every workload and environment manifest under ``directory``.

    Args:
        directory: the application's folder (holding ``copilot/``) or ``copilot/`` itself.

    Raises:
        UsageError: no manifests are there.
        ConfigError: a manifest is not YAML, or not a mapping, with file and line.
    """
    base = copilot_dir(directory)
    shown = base.parent if base.name == "copilot" else base

    def load(rel: str) -> Document:
        path = confined(base, rel)
        display = (base / rel).relative_to(shown).as_posix()
        return load_document(path, display, loader=Yaml12Loader)

    workloads: dict[str, Manifest] = {}
    extras: list[str] = []
    for child in sorted(base.iterdir(), key=lambda p: p.name):
        if child.name in NOT_WORKLOADS or not child.is_dir():
            continue
        if (child / "manifest.yml").is_file():
            workloads[child.name] = Manifest(child.name, *_named(load(f"{child.name}/manifest.yml")))
            for sub in ("addons", "overrides"):
                if (child / sub).is_dir():
                    extras.append(f"{child.name}/{sub}")
    envs: dict[str, Manifest] = {}
    env_root = base / "environments"
    if env_root.is_dir():
        for child in sorted(env_root.iterdir(), key=lambda p: p.name):
            if child.is_dir() and (child / "manifest.yml").is_file():
                envs[child.name] = Manifest(child.name, *_named(load(f"environments/{child.name}/manifest.yml")))
        for sub in ("addons", "overrides"):
            if (env_root / sub).is_dir():
                extras.append(f"environments/{sub}")
    if not workloads:
        raise UsageError(f"{base} holds no workload manifest (copilot/<service>/manifest.yml)")
    return Workspace(_app_name(base), workloads, envs, extras)


def _named(doc: Document) -> tuple[str, Document]:
    return doc.file, doc


def _app_name(base: Path) -> str | None:
    """The application named in ``copilot/.workspace`` (``application: NAME``), if any."""
    path = base / ".workspace"
    if not path.is_file():
        return None
    try:
        data = load_document(confined(base, ".workspace"), ".workspace", loader=Yaml12Loader).data
    except ConfigError:
        return None
    app = data.get("application")
    return app if isinstance(app, str) and app else None


# ------------------------------------------------------------------ overrides


def for_env(manifest: Manifest, env: str, app: str, shell: Mapping[str, str]) -> View:
    """``manifest`` as Copilot deploys it to ``env``: overrides merged, variables substituted.

    Args:
        manifest: the workload or environment manifest.
        env: the Copilot environment.
        app: the application's name (``COPILOT_APPLICATION_NAME``).
        shell: the variables of the shell (``os.environ``).
    """
    raw = manifest.data
    base = {k: v for k, v in raw.items() if k != "environments"}
    overrides = raw.get("environments")
    over = overrides.get(env) if isinstance(overrides, dict) else None
    source: dict[YamlPath, YamlPath] = {}
    data = _merge(base, over, (), ("environments", env), (), source)
    view = View(data, source)
    predefined = {"COPILOT_APPLICATION_NAME": app, "COPILOT_ENVIRONMENT_NAME": env}
    view.data = _interpolate(data, (), predefined, shell, view)
    return view


# Keys of count that autoscale; an override with spot drops them, one with them drops spot.
_SCALING = ("range", "cooldown", "cpu_percentage", "memory_percentage", "requests", "response_time", "queue_delay")


def _merge(
    base: Any, over: Any, bpath: YamlPath, opath: YamlPath, mpath: YamlPath, source: dict[YamlPath, YamlPath]
) -> Any:
    if over is None:
        return _copy(base, bpath, mpath, source)
    if not (isinstance(base, dict) and isinstance(over, dict)) or _union_entry(mpath):
        return _copy(over, opath, mpath, source)
    source[mpath] = bpath
    keep = dict(base)
    # Copilot's transformers: a field of one kind unsets its exclusive sibling (transform.go).
    if mpath == ("image",) and "build" in over:
        keep.pop("location", None)
    if mpath == ("image",) and "location" in over:
        keep.pop("build", None)
    if mpath == ("count",) and "spot" in over:
        keep = {k: v for k, v in keep.items() if k not in _SCALING}
    if mpath == ("count",) and any(k in over for k in _SCALING):
        keep.pop("spot", None)
    out: dict[str, Any] = {}
    for key in [*keep, *(k for k in over if k not in keep)]:
        child = (*mpath, key)
        if key in over and key in keep:
            out[key] = _merge(keep[key], over[key], (*bpath, key), (*opath, key), child, source)
        elif key in over:
            if over[key] is not None:
                out[key] = _copy(over[key], (*opath, key), child, source)
        else:
            out[key] = _copy(keep[key], (*bpath, key), child, source)
    return out


def _union_entry(path: YamlPath) -> bool:
    """A secret or variable entry: ``NAME``, ``{secretsmanager: …}`` or ``{from_cfn: …}``, replaced whole."""
    return len(path) >= 2 and path[-2] in ("secrets", "variables")


def _copy(value: Any, spath: YamlPath, mpath: YamlPath, source: dict[YamlPath, YamlPath]) -> Any:
    source[mpath] = spath
    if isinstance(value, dict):
        return {k: _copy(v, (*spath, k), (*mpath, k), source) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v, (*spath, i), (*mpath, i), source) for i, v in enumerate(value)]
    return value


def _interpolate(value: Any, path: YamlPath, predefined: dict[str, str], shell: Mapping[str, str], view: View) -> Any:
    if isinstance(value, dict):
        return {k: _interpolate(v, (*path, k), predefined, shell, view) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, (*path, i), predefined, shell, view) for i, v in enumerate(value)]
    if not isinstance(value, str) or "${" not in value:
        return value

    def substitute(match: re.Match[str]) -> str:
        escaped, name = match.group(1), match.group(2)
        if escaped:
            return "${" + name + "}"
        if name in predefined:
            return predefined[name]
        if name in shell:
            view.shell.setdefault(path, []).append(name)
            return shell[name]
        view.unset.setdefault(path, []).append(name)
        return match.group(0)

    return VAR_RE.sub(substitute, value)


def leaves(value: Any, path: YamlPath = ()) -> Iterator[YamlPath]:
    """Every field of ``value`` a report must account for: scalars, lists (whole) and empty maps."""
    if isinstance(value, dict) and value:
        for key, child in value.items():
            yield from leaves(child, (*path, key))
    else:
        yield path
