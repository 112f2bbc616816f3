"""A cache of validated environments: a command whose YAML did not change skips loading it.

Loading an environment (parse each layer, merge, validate, run the domain rules)
costs about 60 ms, most of it pydantic building its validators; the commands of the
daily loop (plan, status, deploy) mostly load an environment that has not changed
since the last command. What :func:`hclforge.config.load_env` returns depends on the
bytes of the files it parsed and on the code that parses them, so an entry is keyed
on exactly those (:func:`code_key`):

- the SHA-256 of each layer file as it was parsed (:attr:`LoadedEnv.inputs`), read
  again, through the same confinement checks, before an entry is used;
- the SHA-256 of hclforge's own modules and templates (an edited checkout counts),
  and its version;
- the files of the libraries that parse, validate and render (PyYAML, pydantic,
  pydantic-core, Jinja2): path, size and modification time;
- Python's version.

The same key, minus nothing, says whether a rendered tree is still what a render
would write (:func:`hclforge.tree.is_fresh`), so an unchanged tree is not rendered
again and the renderer is not even imported.

An entry is one JSON header line (the key's parts) and a pickle of the
:class:`~hclforge.loaded.LoadedEnv`. Entries live in ``.hclforge/cache/config/``,
which the CLI keeps private (0700); an entry is unpickled only when it and its
directory belong to the user and nobody else may write them, the same trust as
Jinja's bytecode cache beside it. A miss, or any doubt (unreadable, another key, a
pickle that does not load), loads the environment the long way and writes the entry
again, atomically. Errors are never cached: a broken file is reported the long way
every time.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import pickle
import stat
import sys
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

from hclforge import __version__
from hclforge.errors import UnsafePathError
from hclforge.loaded import LoadedEnv
from hclforge.paths import MAX_FILE_BYTES, confined, read_regular
from hclforge.tree import ENV_NAME_RE, ENVS_DIR

FORMAT = 1
PACKAGE = Path(__file__).resolve().parent
# The libraries whose code decides what an environment loads and renders to.
LIBRARIES = ("yaml", "pydantic", "pydantic_core", "jinja2")
MAX_HEADER_BYTES = 1 << 20


@cache
def code_key() -> str:
    """SHA-256 over everything but the YAML that decides what a load and a render produce."""
    digest = hashlib.sha256(f"{FORMAT}\0{__version__}\0{sys.version}\0".encode())
    templates = PACKAGE / "templates"
    for path in sorted([*PACKAGE.glob("*.py"), *templates.glob("*.j2"), *templates.glob("*/*.j2")]):
        digest.update(path.relative_to(PACKAGE).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    for name in LIBRARIES:
        spec = importlib.util.find_spec(name)
        origin = spec.origin if spec is not None else None
        info = os.stat(origin) if origin else None
        digest.update(f"{name}\0{origin}\0{info and info.st_size}\0{info and info.st_mtime_ns}\0".encode())
    return digest.hexdigest()


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
    entry = cache_dir / f"{name}.env"
    loaded = _read(entry, root, name) if ENV_NAME_RE.fullmatch(name) else None  # else load_env says why
    if loaded is None:
        from hclforge.config import load_env

        loaded = load_env(root, name)
        _write(entry, loaded)
    return loaded


def _private(path: Path, kind: int) -> bool:
    """The user's own ``kind`` of file (no symlink followed), writable by nobody else."""
    info = path.lstat()
    return stat.S_IFMT(info.st_mode) == kind and info.st_uid == os.getuid() and not info.st_mode & 0o022


def _read(entry: Path, root: Path, name: str) -> LoadedEnv | None:
    try:
        if not (_private(entry.parent, stat.S_IFDIR) and _private(entry, stat.S_IFREG)):
            return None
        with entry.open("rb") as f:
            header = json.loads(f.readline(MAX_HEADER_BYTES))
            if header.get("format") != FORMAT or header.get("name") != name or header.get("code") != code_key():
                return None
            inputs = header["inputs"]
            if f"{ENVS_DIR}/{name}.yaml" not in inputs or _digests(root, inputs) != inputs:
                return None
            loaded: Any = pickle.load(f)
    except Exception:  # unreadable, changed, unsafe, or a pickle of another pydantic: the long way
        return None
    if not isinstance(loaded, LoadedEnv) or loaded.name != name or loaded.inputs != inputs:
        return None
    return loaded


def _digests(root: Path, inputs: dict[str, str]) -> dict[str, str]:
    """SHA-256 of each named layer file now, read as the loader reads it (confined, regular, bounded)."""
    out = {}
    for display in inputs:
        folder, _, file = display.partition("/")
        if folder != ENVS_DIR:
            raise UnsafePathError(f"{display!r} is not under {ENVS_DIR}/")
        out[display] = hashlib.sha256(read_regular(confined(root / ENVS_DIR, file), MAX_FILE_BYTES)).hexdigest()
    return out


def _write(entry: Path, loaded: LoadedEnv) -> None:
    """Write the entry atomically, 0600; a cache that cannot be written is only slower."""
    header = {"format": FORMAT, "name": loaded.name, "code": code_key(), "inputs": loaded.inputs}
    data = json.dumps(header, sort_keys=True).encode() + b"\n" + pickle.dumps(loaded, protocol=5)
    try:
        if not _private(entry.parent, stat.S_IFDIR):
            return
        fd, tmp = tempfile.mkstemp(prefix=f".{entry.name}-", dir=entry.parent)  # mkstemp creates 0600
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, entry)
        finally:
            Path(tmp).unlink(missing_ok=True)
    except OSError:
        pass
