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

:func:`open_private_dir` is the one way into hclforge's working directory
(``.hclforge/``): it walks from the directory that holds ``.hclforge`` down, one
descriptor at a time, never following a link, and makes each directory the user's
own and 0700 through its descriptor. A linked ``.hclforge`` (to ``/tmp``, say) is
refused, never chmodded, never written into; so is a directory of another user's.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from pathlib import Path

from hclforge.errors import FileTooLargeError, PrivateDirError, UnsafePathError

# The largest YAML file read (an environment layer): larger ones are refused before reading.
MAX_FILE_BYTES = 1024 * 1024
# hclforge's working directory under the project root: state, plans, caches, locks.
STATE_DIR_NAME = ".hclforge"
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


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


# ------------------------------------------------------------------ .hclforge/


def _walk_parts(path: Path) -> tuple[Path, tuple[str, ...]]:
    """Where the walk to ``path`` starts, and the names it opens one by one.

    It starts at the directory holding the first ``.hclforge`` in ``path`` (the
    project root: the user's choice, links and all), so every directory from
    ``.hclforge`` down is opened without following a link. A path without
    ``.hclforge`` starts at its parent.
    """
    path = Path(os.path.abspath(path))
    parts = path.parts
    if STATE_DIR_NAME in parts:
        i = parts.index(STATE_DIR_NAME)
        return Path(*parts[:i]), parts[i:]
    return path.parent, (path.name,)


def _refusal(err: OSError, dir_fd: int, name: str, shown: str, doing: str) -> Exception:
    """The typed error for an ``OSError`` met while opening or making ``shown``."""
    if err.errno in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):
        try:
            is_link = stat.S_ISLNK(os.lstat(name, dir_fd=dir_fd).st_mode)
        except OSError:
            is_link = False
        if is_link:
            return UnsafePathError(
                f"{shown} is a symbolic link: hclforge never follows a link in its working directory "
                f"{STATE_DIR_NAME}/ (it would make the link's target private and write into it); "
                f"remove the link and run again"
            )
        return UnsafePathError(f"{shown} is not a directory: hclforge keeps its working files there; remove it")
    return PrivateDirError(f"cannot {doing} {shown}: {err.strerror or err}")


def open_private_dir(path: Path, *, create: bool = True) -> int:
    """Open ``path`` (under ``.hclforge/``) as a directory descriptor, walking down without following links.

    Each directory from ``.hclforge`` down is made if missing (with ``create``),
    opened with ``O_NOFOLLOW`` relative to its parent's descriptor, and checked
    on that descriptor: it must be the user's own, and it is made 0700 through
    the descriptor (``fchmod``), so nothing is ever chmodded through a link and
    a directory swapped in between two steps cannot redirect the walk.

    Args:
        path: the directory, e.g. ``root/.hclforge/cache/config``.
        create: make missing directories and make each 0700 (for writing);
            without it (for reading a cache) nothing is made or changed, a missing
            directory raises and one writable by group or others is refused.

    Returns:
        An open descriptor of ``path``; the caller closes it.

    Raises:
        UnsafePathError: a directory on the way is a symbolic link, not a
            directory, or belongs to another user (or, without ``create``, is
            writable by others).
        PrivateDirError: a directory cannot be made, opened or made private
            (permission denied, read-only file system).
        FileNotFoundError: without ``create``, a directory is missing.
    """
    start, names = _walk_parts(path)
    try:
        fd = os.open(start, os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0))
    except OSError as err:
        raise PrivateDirError(f"cannot open {start}: {err.strerror or err}") from None
    me = os.geteuid()
    try:
        for n, name in enumerate(names):
            shown = "/".join(names[: n + 1])
            if create:
                try:
                    os.mkdir(name, 0o700, dir_fd=fd)
                except FileExistsError:
                    pass
                except OSError as err:
                    raise _refusal(err, fd, name, shown, "create") from None
            try:
                child = os.open(name, _DIR_FLAGS, dir_fd=fd)
            except FileNotFoundError:
                raise
            except OSError as err:
                raise _refusal(err, fd, name, shown, "open") from None
            os.close(fd)
            fd = child
            info = os.fstat(fd)
            if info.st_uid != me:
                raise UnsafePathError(
                    f"{shown} belongs to user {info.st_uid}, not to you (user {me}): hclforge keeps its "
                    f"state, plans and caches there and trusts only your own; remove it or run as its owner"
                )
            if not create and info.st_mode & 0o022:
                raise UnsafePathError(f"{shown} is writable by other users: hclforge trusts nothing in it")
            if create and stat.S_IMODE(info.st_mode) != 0o700:
                try:
                    os.fchmod(fd, 0o700)
                except OSError as err:
                    raise PrivateDirError(f"cannot make {shown} private (0700): {err.strerror or err}") from None
    except BaseException:
        os.close(fd)
        raise
    return fd


def private_dir(path: Path) -> Path:
    """Make ``path`` (and each missing directory on the way) 0700, the user's own, never through a link.

    Returns:
        ``path``.

    Raises:
        UnsafePathError, PrivateDirError: as :func:`open_private_dir`.
    """
    os.close(open_private_dir(path))
    return path


def write_private(path: Path, data: str | bytes) -> None:
    """Write ``path`` atomically as a 0600 file in a private directory, never through a link.

    The temporary file is created (``O_EXCL | O_NOFOLLOW``) and renamed relative to
    the descriptor of the directory :func:`open_private_dir` walked to, so a link
    put in place of the directory or of the file is never written through.

    Raises:
        UnsafePathError, PrivateDirError: as :func:`open_private_dir`; PrivateDirError
            too when the file cannot be written.
    """
    raw = data.encode("utf-8") if isinstance(data, str) else data
    dir_fd = open_private_dir(path.parent)
    tmp = f".{path.name}-{secrets.token_hex(6)}"
    try:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
        fd = os.open(tmp, flags, 0o600, dir_fd=dir_fd)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(raw)
            os.replace(tmp, path.name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp, dir_fd=dir_fd)
            raise
    except OSError as err:
        raise PrivateDirError(f"cannot write {path.name} in {path.parent}: {err.strerror or err}") from None
    finally:
        os.close(dir_fd)


def read_private(path: Path, limit: int) -> bytes:
    """Read a file hclforge wrote under ``.hclforge/``, never through a link, never blocking on it.

    The directory is reached as :func:`open_private_dir` reaches it (``create=False``:
    no link followed from ``.hclforge`` down, each directory the user's own and
    writable by nobody else); the file is opened ``O_NOFOLLOW | O_NONBLOCK`` relative
    to it and checked on its descriptor: a regular file of the user's, writable by
    nobody else, of at most ``limit`` bytes.

    Raises:
        FileNotFoundError: it (or a directory on the way) does not exist.
        UnsafePathError: it or a directory on the way is a link, not a regular file
            (a FIFO, a device), another user's, or writable by others.
        FileTooLargeError: it holds more than ``limit`` bytes.
        PrivateDirError: it cannot be opened or read.
    """
    dir_fd = open_private_dir(path.parent, create=False)
    shown = _shown(path)
    try:
        fd = os.open(
            path.name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0), dir_fd=dir_fd
        )
    except FileNotFoundError:
        raise
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise UnsafePathError(
                f"{shown} is a symbolic link: hclforge never reads through a link in {STATE_DIR_NAME}/"
            ) from None
        raise PrivateDirError(f"cannot open {shown}: {err.strerror or err}") from None
    finally:
        os.close(dir_fd)
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise UnsafePathError(f"{shown} is not a regular file: hclforge reads only the files it wrote there")
        if info.st_uid != os.geteuid() or info.st_mode & 0o022:
            raise UnsafePathError(
                f"{shown} belongs to another user or is writable by others: hclforge trusts only its own files"
            )
        if info.st_size > limit:
            raise FileTooLargeError(info.st_size, limit)
        try:
            data = f.read(limit + 1)
        except OSError as err:
            raise PrivateDirError(f"cannot read {shown}: {err.strerror or err}") from None
    if len(data) > limit:  # it grew while it was read
        raise FileTooLargeError(len(data), limit)
    return data


def _shown(path: Path) -> str:
    """``path`` from its ``.hclforge`` on, for messages (its name alone outside one)."""
    parts = Path(os.path.abspath(path)).parts
    return "/".join(parts[parts.index(STATE_DIR_NAME) :]) if STATE_DIR_NAME in parts else path.name
