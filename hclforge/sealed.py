"""Sealed cache entries: hclforge loads back from its caches only what it wrote itself.

Two caches under ``.hclforge/cache/`` hold what Python executes when it is loaded:
pickles of validated environments (:mod:`hclforge.envcache`) and Jinja's compiled
templates (:class:`hclforge.render.SealedBytecodeCache`). Where a file sits, and
who owns it, is not enough to trust it: a directory can be swapped between a check
and an open, and ``.hclforge/`` is the kind of folder CI caches restore from other
builds. So every entry carries an HMAC-SHA256 of its name and content under a key
only this user holds, and an entry whose seal does not match is never loaded.

- The key is 32 random bytes in ``$XDG_STATE_HOME/hclforge/cache.key`` (default
  ``~/.local/state/hclforge/``), 0600, made on first use. Not under ``~/.cache``:
  that is where CI caches the provider plugins, and a key restored with a cache
  would seal what the cache brings.
- Entries are read and written by descriptor: the directory is reached through
  :func:`hclforge.paths.open_private_dir` (no link followed from ``.hclforge``
  down, each directory the user's own), the entry opened ``O_NOFOLLOW`` relative
  to it and checked with ``fstat`` on the open descriptor.
- Without a usable key (no home, a key file of another user's or readable by
  others), nothing is cached: commands are slower, never wrong.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
import stat
from functools import cache
from pathlib import Path

from hclforge.errors import HclforgeError
from hclforge.paths import open_private_dir, write_private

MAGIC = b"hclforge-sealed-1\n"
KEY_BYTES = 32
# The largest entry read: a validated environment of hundreds of services pickles to a few MiB.
MAX_ENTRY_BYTES = 64 * 1024 * 1024
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)


def key_path() -> Path:
    """Where this user's cache key lives (see the module's docstring)."""
    state = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(state) / "hclforge" / "cache.key"


def _own_private_file(fd: int) -> bool:
    info = os.fstat(fd)
    return stat.S_ISREG(info.st_mode) and info.st_uid == os.geteuid() and not info.st_mode & 0o077


@cache
def secret() -> bytes | None:
    """This user's cache key, made on first use; None when there is none to trust (nothing is cached)."""
    path = key_path()
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not path.exists():
            # Written whole, then linked into place: a concurrent first use never reads half a key.
            tmp = path.with_name(f".cache.key-{secrets.token_hex(6)}")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(secrets.token_bytes(KEY_BYTES))
            try:
                os.link(tmp, path)
            except FileExistsError:
                pass
            finally:
                tmp.unlink()
        fd = os.open(path, _READ_FLAGS)
        with os.fdopen(fd, "rb") as f:
            if not _own_private_file(f.fileno()):
                return None
            key = f.read(KEY_BYTES + 1)
    except OSError:
        return None
    return key if len(key) == KEY_BYTES else None


def _seal(key: bytes, name: str, body: bytes) -> bytes:
    return hmac.new(key, name.encode() + b"\0" + body, hashlib.sha256).digest()


def load(directory: Path, name: str) -> bytes | None:
    """The body of entry ``name`` in ``directory``, if this user's hclforge sealed it; else None.

    None on any doubt: no key, a directory or entry that is a link, not the user's,
    writable by others, too large, or a seal that does not match (another key,
    another name, other bytes).
    """
    key = secret()
    if key is None:
        return None
    try:
        dir_fd = open_private_dir(directory, create=False)
    except (OSError, HclforgeError):
        return None
    try:
        fd = os.open(name, _READ_FLAGS, dir_fd=dir_fd)
    except OSError:
        return None
    finally:
        os.close(dir_fd)
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o022:
            return None
        if info.st_size > MAX_ENTRY_BYTES:
            return None
        data = f.read(MAX_ENTRY_BYTES + 1)
    head = len(MAGIC) + hashlib.sha256().digest_size
    if len(data) < head or not data.startswith(MAGIC):
        return None
    mac, body = data[len(MAGIC) : head], data[head:]
    return body if hmac.compare_digest(mac, _seal(key, name, body)) else None


def store(directory: Path, name: str, body: bytes) -> None:
    """Write entry ``name`` sealed, atomically, 0600; a cache that cannot be written is only slower."""
    key = secret()
    if key is None or len(body) > MAX_ENTRY_BYTES:
        return
    with contextlib.suppress(OSError, HclforgeError):
        write_private(directory / name, MAGIC + _seal(key, name, body) + body)
