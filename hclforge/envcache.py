"""A cache of validated environments: a command whose YAML did not change skips loading it.

Loading an environment (parse each layer, merge, validate, run the domain rules)
costs about 60 ms, most of it pydantic building its validators; the commands of the
daily loop (plan, status, deploy) mostly load an environment that has not changed
since the last command. What :func:`hclforge.config.load_env` returns depends on the
bytes of the files it parsed and on the code that parses them, so an entry is keyed
on exactly those (:func:`code_key`):

- the SHA-256 of each layer file as it was parsed (:attr:`LoadedEnv.inputs`), read
  again, through the same confinement checks, before an entry is used; likewise the
  digest of each of its addons folders (:mod:`hclforge.addons`);
- the SHA-256 of hclforge's own modules and templates (an edited checkout counts),
  and its version;
- each library that parses, validates and renders, with what it depends on
  (:data:`LIBRARIES`: PyYAML, pydantic, pydantic-core, annotated-types,
  typing-extensions, typing-inspection, Jinja2, MarkupSafe, tzdata): the SHA-256 of
  its wheel's ``RECORD`` (which holds the hash of every file installed, compiled
  modules and data included), and the size and modification time of each file
  listed there (a file patched in place);
- the system's time-zone directories the rules read (``zoneinfo.TZPATH``);
- Python's version.

The same key, minus nothing, says whether a rendered tree is still what a render
would write (:func:`hclforge.tree.is_fresh`), so an unchanged tree is not rendered
again and the renderer is not even imported.

An entry is one JSON header line (the key's parts) and a pickle of the
:class:`~hclforge.loaded.LoadedEnv`, sealed with this user's key
(:mod:`hclforge.sealed`): a pickle runs code when it is loaded, so an entry is
unpickled only when its seal shows this user's hclforge wrote it, whatever the
file system says (a folder swapped between a check and an open, a ``.hclforge/``
restored from another build's cache). Entries live in ``.hclforge/cache/config/``,
reached by descriptor without following a link (:func:`hclforge.paths.open_private_dir`).
A miss, or any doubt (unreadable, another key, a pickle that does not load), loads
the environment the long way and writes the entry again, atomically. Errors are
never cached: a broken file is reported the long way every time.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import pickle
import sys
from functools import cache
from pathlib import Path
from typing import Any

from hclforge import __version__, sealed
from hclforge.addons import ADDONS_DIR, folder_digest
from hclforge.errors import UnsafePathError
from hclforge.loaded import LoadedEnv
from hclforge.paths import MAX_FILE_BYTES, confined, read_regular
from hclforge.tree import ENV_NAME_RE, ENVS_DIR

FORMAT = 2
PACKAGE = Path(__file__).resolve().parent
# The libraries whose code or data decides what an environment loads and renders to, by import
# name, with the name their .dist-info directory carries (normalised: lower case, "_" for "-").
LIBRARIES: dict[str, str] = {
    "yaml": "pyyaml",
    "pydantic": "pydantic",
    "pydantic_core": "pydantic_core",
    "annotated_types": "annotated_types",
    "typing_extensions": "typing_extensions",
    "typing_inspection": "typing_inspection",
    "jinja2": "jinja2",
    "markupsafe": "markupsafe",
    "tzdata": "tzdata",
}
_DIST_INFO = ".dist-info"
# Files patched in place are caught by their size and time: the code, and the one data file the
# rules read (the zone names). tzdata's 600 zone files are covered by its RECORD alone.
_CODE_SUFFIXES = (".py", ".so", ".pyd")
_DATA_FILES = frozenset({"tzdata/zones"})


@cache
def code_key() -> str:
    """SHA-256 over everything but the YAML that decides what a load and a render produce."""
    digest = hashlib.sha256(f"{FORMAT}\0{__version__}\0{sys.version}\0".encode())
    templates = PACKAGE / "templates"
    for path in sorted([*PACKAGE.glob("*.py"), *templates.glob("*.j2"), *templates.glob("*/*.j2")]):
        digest.update(path.relative_to(PACKAGE).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    for module, dist in sorted(LIBRARIES.items()):
        digest.update(f"{module}\0{dist}\0".encode())
        for name, value in _library_files(module, dist):
            digest.update(f"{name}\0{value}\0".encode())
    for root in _tz_roots():
        digest.update(f"tz\0{root}\0{_stat_key(root)}\0{_stat_key(os.path.join(root, 'tzdata.zi'))}\0".encode())
    return digest.hexdigest()


def _stat_key(path: str) -> str:
    """Size and modification time of ``path`` ("-" when it is missing): what a rewrite changes."""
    try:
        info = os.stat(path)
    except OSError:
        return "-"
    return f"{info.st_size}:{info.st_mtime_ns}"


def _library_files(module: str, dist: str) -> list[tuple[str, str]]:
    """What identifies the installed copy of a library: its RECORD, and every file it lists.

    The wheel's ``RECORD`` holds the SHA-256 of every file installed, compiled modules
    (pydantic-core's ``.so``) and data (tzdata's zones) included, so a new version or
    build changes it; the size and modification time of each code file it lists (and
    of tzdata's list of zone names) catch a file patched in place after installing.
    Read straight from the ``.dist-info`` directory beside the package: importing
    :mod:`importlib.metadata` alone costs about 25 ms, more than the rest of a cache
    hit. A library not installed from a wheel (no RECORD) is keyed on each of its
    files, found by a walk.
    """
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        return [(module, "absent")]
    # Plain strings, not Path: a thousand Path joins cost more than the stats themselves.
    origin = spec.origin
    package = os.path.dirname(origin) if spec.submodule_search_locations else None
    site = os.path.dirname(package) if package is not None else os.path.dirname(origin)
    info = _dist_infos(site).get(dist)
    if info is None:
        files = sorted(str(p) for p in Path(package).rglob("*") if p.is_file()) if package is not None else [origin]
        return [(p, _stat_key(p)) for p in files if not p.endswith(".pyc")]
    try:
        with open(os.path.join(site, info, "RECORD"), "rb") as f:
            record = f.read()
    except OSError:
        return [(module, f"{info} without RECORD")]
    out = [(f"{info}/RECORD", hashlib.sha256(record).hexdigest())]
    for line in record.decode("utf-8", "replace").splitlines():
        name = line.rsplit(",", 2)[0].strip('"')
        if name.endswith(_CODE_SUFFIXES) or name in _DATA_FILES:
            out.append((name, _stat_key(os.path.join(site, name))))
    return out


@cache
def _dist_infos(site: str) -> dict[str, str]:
    """The ``.dist-info`` directories in ``site``, by normalised distribution name."""
    try:
        names = os.listdir(site)
    except OSError:
        return {}
    out = {}
    for name in sorted(names):
        if name.endswith(_DIST_INFO):
            project = name[: -len(_DIST_INFO)].split("-")[0]
            out[project.lower().replace(".", "_")] = name
    return out


def _tz_roots() -> list[str]:
    """The system's zone directories Python reads (``zoneinfo.TZPATH``), without importing zoneinfo.

    The rules check time zones against these and the tzdata package; an OS update of
    its zone files rewrites ``tzdata.zi`` and so changes the directory's key.
    """
    if "zoneinfo" in sys.modules:
        return list(sys.modules["zoneinfo"].TZPATH)
    env = os.environ.get("PYTHONTZPATH")
    if env is None:
        import sysconfig

        env = sysconfig.get_config_var("TZPATH") or ""
    return [p for p in env.split(os.pathsep) if os.path.isabs(p)]


def inputs_key(inputs: dict[str, str]) -> str:
    """The key of a load (and of a render) from layer files with these digests."""
    return hashlib.sha256(json.dumps([code_key(), inputs], sort_keys=True).encode()).hexdigest()


def load(root: Path, name: str, cache_dir: Path) -> LoadedEnv:
    """:func:`hclforge.config.load_env`, answered from ``cache_dir`` when no input changed.

    ``cache_dir`` should exist, private to the user (the CLI makes it so); when it
    does not, nothing is cached.

    Raises:
        ConfigError: as :func:`~hclforge.config.load_env` (errors are never cached).
    """
    entry = f"{name}.env"
    loaded = _read(cache_dir, entry, root, name) if ENV_NAME_RE.fullmatch(name) else None  # else load_env says why
    if loaded is None:
        from hclforge.config import load_env

        loaded = load_env(root, name)
        _write(cache_dir, entry, loaded)
    return loaded


def _read(cache_dir: Path, entry: str, root: Path, name: str) -> LoadedEnv | None:
    body = sealed.load(cache_dir, entry)  # None unless this user's hclforge wrote it (see hclforge/sealed.py)
    if body is None:
        return None
    try:
        line, _, data = body.partition(b"\n")
        header = json.loads(line)
        if header.get("format") != FORMAT or header.get("name") != name or header.get("code") != code_key():
            return None
        inputs = header["inputs"]
        if f"{ENVS_DIR}/{name}.yaml" not in inputs or _digests(root, inputs) != inputs:
            return None
        loaded: Any = pickle.loads(data)
    except Exception:  # unreadable, changed, unsafe, or a pickle of another pydantic: the long way
        return None
    if not isinstance(loaded, LoadedEnv) or loaded.name != name or loaded.inputs != inputs:
        return None
    return loaded


def _digests(root: Path, inputs: dict[str, str]) -> dict[str, str]:
    """SHA-256 of each named layer file now, read as the loader reads it (confined, regular, bounded),
    and the digest of each addons folder now (a file added, changed or removed changes it)."""
    out = {}
    for display in inputs:
        folder, _, file = display.partition("/")
        if folder == ADDONS_DIR and display.endswith("/"):
            out[display] = folder_digest(root, display.removesuffix("/"))
            continue
        if folder != ENVS_DIR:
            raise UnsafePathError(f"{display!r} is not under {ENVS_DIR}/")
        out[display] = hashlib.sha256(read_regular(confined(root / ENVS_DIR, file), MAX_FILE_BYTES)).hexdigest()
    return out


def _write(cache_dir: Path, entry: str, loaded: LoadedEnv) -> None:
    """Write the entry sealed, atomically, 0600; a cache that cannot be written is only slower."""
    header = {"format": FORMAT, "name": loaded.name, "code": code_key(), "inputs": loaded.inputs}
    sealed.store(
        cache_dir, entry, json.dumps(header, sort_keys=True).encode() + b"\n" + pickle.dumps(loaded, protocol=5)
    )
