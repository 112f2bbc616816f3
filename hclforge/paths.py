"""Confine file access to one directory, and read only regular files.

Every path built from user input (a layer name in ``extends``, an environment
name, later the files under ``modules/``) goes through :func:`confined` before
it is opened. It resolves the path, symlinks included, and refuses anything that
lands outside the base directory, so ``extends: [../../x]`` or a symlink to
``/etc`` cannot read beyond ``envs/``. It also refuses existing non-regular files:
opening a FIFO for reading blocks until a writer appears, and a device can
stream without end.

:func:`read_regular` then opens the file without blocking, checks again on the
open descriptor (the file may have been swapped since), and reads at most
``limit + 1`` bytes, so a huge file costs no memory.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from hclforge.errors import FileTooLargeError, UnsafePathError

# The largest YAML file read (an environment layer): larger ones are refused before reading.
MAX_FILE_BYTES = 1024 * 1024


def confined(base: Path, rel: str | os.PathLike[str], *, allow_dir: bool = False) -> Path:
    """Resolve ``rel`` under ``base`` and refuse anything that escapes it.

    Args:
        base: the directory the path must stay in (e.g. ``root / "envs"``).
        rel: a relative path from user input (``"_base.yaml"``, ``"dev/main.tf"``), as text or a path.
        allow_dir: accept an existing directory too (for a caller that lists or
            creates files inside it); otherwise an existing path must be a regular file.

    Returns:
        The resolved path (no symlinks left), inside the resolved ``base``. It may
        not exist yet.

    Raises:
        UnsafePathError: ``rel`` is empty, absolute, contains a NUL byte, resolves
            outside ``base`` (through ``..`` or a symlink), or names an existing
            file that is not a regular file (a FIFO, socket or device, or a
            directory unless ``allow_dir``).
    """
    rel = os.fspath(rel)
    if not rel or "\0" in rel:
        raise UnsafePathError(f"{rel!r} is not a file name")
    if Path(rel).is_absolute():
        raise UnsafePathError(f"{rel!r} is an absolute path; only paths inside {base.name}/ are allowed")
    top = base.resolve()
    try:
        target = (top / rel).resolve()
    except (OSError, RuntimeError) as err:  # a symlink loop, or a name the OS refuses
        raise UnsafePathError(f"{rel!r} cannot be resolved ({getattr(err, 'strerror', None) or err})") from None
    if not target.is_relative_to(top):
        raise UnsafePathError(f"{rel!r} leads outside {base.name}/ (through '..' or a symlink)")
    try:
        mode = target.stat().st_mode
    except FileNotFoundError:
        return target
    except OSError as err:
        raise UnsafePathError(f"{rel!r} cannot be read ({err.strerror or err})") from None
    if not (stat.S_ISREG(mode) or (allow_dir and stat.S_ISDIR(mode))):
        raise UnsafePathError(f"{rel!r} is not a regular file")
    return target


def read_regular(path: Path, limit: int) -> bytes:
    """Read a regular file of at most ``limit`` bytes, without ever blocking on it.

    Args:
        path: the file, best already checked by :func:`confined`.
        limit: the largest size accepted, in bytes.

    Returns:
        The whole content.

    Raises:
        FileNotFoundError: the file does not exist.
        UnsafePathError: it is a symlink (``path`` should be resolved) or not a regular file.
        FileTooLargeError: it holds more than ``limit`` bytes.
        OSError: it cannot be read.
    """
    # O_NONBLOCK: opening a FIFO never waits for a writer; O_NOFOLLOW: no symlink swapped in since.
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as err:
        if err.errno == getattr(os, "ELOOP", -1) or (path.is_symlink()):
            raise UnsafePathError(f"'{path.name}' is a symlink") from None
        raise
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise UnsafePathError(f"'{path.name}' is not a regular file")
        if info.st_size > limit:
            raise FileTooLargeError(info.st_size, limit)
        data = f.read(limit + 1)
    if len(data) > limit:  # it grew while we read
        raise FileTooLargeError(len(data), limit)
    return data


def confined_path(root: Path, rel: str, *, kind: str = "file") -> Path:
    """``root/rel``, checked component by component with ``lstat``, never following a link.

    Every existing component under ``root`` must be a real directory, and the last
    one a regular file (``kind="file"``) or directory (``kind="dir"``); a missing
    component is fine (it will be created). ``rel`` may not leave ``root``.
    For what hclforge writes (``modules/``): unlike :func:`confined`, no link is followed at all.

    Raises:
        UnsafePathError: a component is a symlink, or of the wrong kind (a FIFO, a device...).
    """
    parts = Path(rel).parts
    if not parts or Path(rel).is_absolute() or ".." in parts:
        raise UnsafePathError(f"{rel!r} is not a path inside {root}")
    path = root
    for n, part in enumerate(parts):
        path = path / part
        try:
            mode = os.lstat(path).st_mode
        except FileNotFoundError:
            return root.joinpath(*parts)
        last = n == len(parts) - 1
        where = path.relative_to(root).as_posix()
        if stat.S_ISLNK(mode):
            raise UnsafePathError(f"{where} is a symbolic link: refusing to write or read through it")
        wanted_file = last and kind == "file"
        if wanted_file and not stat.S_ISREG(mode):
            raise UnsafePathError(f"{where} is not a regular file: refusing to open it")
        if not wanted_file and not stat.S_ISDIR(mode):
            raise UnsafePathError(f"{where} is not a directory")
    return path
