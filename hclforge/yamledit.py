"""Pin a service's image in an environment file, changing that one line only (``set-image``).

The file is parsed with ruamel.yaml's round-trip composer, which keeps the exact
position of every node; the edit is then a splice of the original text at those
positions. ruamel's *dumper* is not used on purpose: it re-indents sequences,
re-wraps long lines and respaces flow maps, so "load, change, dump" would touch
lines nobody asked to change. A splice keeps every other byte as it was:
comments, key order, quoting, flow-style maps, blank lines, and CRLF line ends
(a CRLF file stays CRLF; inserted lines use the file's own line end).

When the file has no ``services.<service>.image`` (the image comes from a layer
such as ``_base.yaml``), the smallest insertion that sets it is made: an
``image:`` line under ``<service>:``, creating ``services:`` and ``<service>:``
only if missing, indented like the file. Before anything is written, the new
text is read back with hclforge's own YAML loader and must equal the old data
with exactly that one value set; otherwise nothing is written.

Edits of one file are serialized: :func:`edit_lock` holds an exclusive ``flock``
on a lock file of its own under the project's ``.hclforge/locks/`` (not on the
YAML itself: the write replaces the file's inode, so a lock on the old inode
would not exclude a process that opened the new one; and a sibling lock file
would leave a stray file in ``envs/``). Read, splice and replace all happen
under it. Every write, the rollback too, is a temporary file in the same
directory, fsynced, given the file's mode, then renamed over the file; the
rollback only puts the old text back while the file still holds what this
edit wrote, so it never clobbers someone else's later write.
"""

from __future__ import annotations

import contextlib
import difflib
import fcntl
import hashlib
import os
import stat
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from hclforge.errors import ConfigError, Problem, UnsafePathError, UsageError, printable
from hclforge.paths import MAX_FILE_BYTES, read_regular
from hclforge.rules import IMAGE_RE
from hclforge.source import load_document

BOM = "\ufeff"


@dataclass(frozen=True)
class EditResult:
    """What :func:`set_image` did.

    Attributes:
        old_text: the file before.
        new_text: the file after (equal to ``old_text`` when the image was already set).
        changed_line: 1-based line of the ``image:`` value in ``new_text``.
        inserted: True when an ``image:`` key was added rather than changed.
        old_data: the document ``old_text`` parses to (what :func:`write` checks the edit against).
    """

    old_text: str
    new_text: str
    changed_line: int
    inserted: bool = False
    old_data: Any = field(default=None, repr=False, compare=False)

    @property
    def changed(self) -> bool:
        return self.old_text != self.new_text

    def diff(self, name: str = "file") -> str:
        """A unified diff of the edit (empty when nothing changed); it always ends with a line break.

        A last line without a line break is followed by ``\\ No newline at end of file``,
        as ``diff`` and ``git diff`` write it, so the next diff printed after this one
        starts on a line of its own.
        """
        out = []
        for line in difflib.unified_diff(_lines(self.old_text), _lines(self.new_text), f"a/{name}", f"b/{name}"):
            out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
        return "".join(out)


def _lines(text: str) -> list[str]:
    """``text`` split after each ``\\n`` only (``str.splitlines`` would also split at a form feed or U+2028)."""
    parts = text.split("\n")
    return [part + "\n" for part in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def check_image(image: str) -> None:
    """Refuse anything but a container image reference (the rule the loader applies).

    Raises:
        UsageError: ``image`` does not fully match :data:`hclforge.rules.IMAGE_RE`.
    """
    if not IMAGE_RE.fullmatch(image):
        raise UsageError(
            f"{printable(image)!r} is not a container image reference (no spaces or quotes; e.g. repo/name:tag)"
        )


def set_image(
    path: Path, service: str, image: str, *, lock_dir: Path, known_services: list[str] | None = None
) -> EditResult:
    """Set ``services.<service>.image`` in one YAML file, changing only that line, and write it atomically.

    The whole read, splice and replace runs under :func:`edit_lock`.

    Args:
        path: the environment file or layer to edit (resolve and confine it first,
            e.g. with :func:`hclforge.paths.confined`).
        service: the service whose image is pinned.
        image: the new image reference (``repo/name:tag`` or ``repo/name@sha256:...``).
        lock_dir: where the lock file lives (the CLI uses ``.hclforge/locks`` under the root).
        known_services: the services of the *layered* environment; ``service`` must
            be one of them (a service only named in this file may not exist after
            layering, and a typo must not create a new one).

    Returns:
        The old and new text and the changed line. Nothing is written when the
        image was already pinned to ``image``.

    Raises:
        UsageError: a bad image reference, an unknown service, or a file whose
            shape gives no safe place for the key (e.g. ``services`` or the service
            is not a mapping in this file).
        UnsafePathError: ``path`` is a symlink or not a regular file.
        ConfigError: the file is not valid YAML (hclforge's loader rules).
    """
    check_image(image)  # before the lock: a bad argument creates nothing
    with edit_lock(path, lock_dir):
        result = propose(path, service, image, known_services=known_services)
        if result.changed:
            write(path, result, service, image)
        return result


def propose(path: Path, service: str, image: str, *, known_services: list[str] | None = None) -> EditResult:
    """The edit :func:`set_image` would make, from the file as it is now; nothing is written.

    Hold :func:`edit_lock` from this call until :func:`write`, so nobody else writes in between.

    Raises:
        UsageError, UnsafePathError, ConfigError: as :func:`set_image`.
    """
    check_image(image)
    if known_services is not None and service not in known_services:
        raise UsageError(
            f"no service {printable(service)!r} in the environment (services: {', '.join(known_services)})"
        )
    if path.is_symlink():
        raise UnsafePathError(f"'{path.name}' is a symlink; edit the file it points to")
    raw = read_regular(path, MAX_FILE_BYTES)
    try:
        old_text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError([Problem(path.name, 0, "", "not UTF-8 text")]) from None
    before = load_document(path, path.name)
    if before.digest != hashlib.sha256(raw).hexdigest():  # a writer outside hclforge, between the two reads
        raise UsageError(f"{path.name} changed while it was read; nothing written, run the command again")
    new_text, line, inserted = _edit(old_text, service, image, path.name)
    return EditResult(old_text, new_text, line, inserted, before.data)


@contextlib.contextmanager
def edit_lock(path: Path, lock_dir: Path) -> Iterator[None]:
    """Hold the exclusive lock of the YAML file ``path``: one hclforge edit of a file at a time.

    The lock file is ``lock_dir/yaml-<name>-<hash of the resolved path>.lock``: the
    name says which file it guards, the hash keeps two files of one name apart.
    ``lock_dir`` and its parent are created private (0700); the lock file stays
    (removing it would let a third process lock a new inode while the second still
    waits on the old one).
    """
    key = hashlib.sha256(os.fsencode(path.resolve())).hexdigest()[:16]
    lock_dir.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    lock_dir.mkdir(mode=0o700, exist_ok=True)
    flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(lock_dir / f"yaml-{path.name}-{key}.lock", flags, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the only descriptor releases the lock


# ------------------------------------------------------------------ the edit


def _edit(text: str, service: str, image: str, name: str) -> tuple[str, int, bool]:
    """The new text, the 1-based line of the image, and whether the key was inserted."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError
    from ruamel.yaml.nodes import MappingNode, ScalarNode

    bom = BOM if text.startswith(BOM) else ""
    body = text[len(bom) :]
    nl = "\r\n" if body.split("\n", 1)[0].endswith("\r") else "\n"  # the file's own line end, from line 1
    try:
        root = YAML(typ="rt").compose(body)
    except YAMLError as err:  # the loader accepted it; ruamel (YAML 1.2) may still differ
        raise ConfigError([Problem(name, 0, "", f"cannot be edited safely: {printable(str(err))}")]) from None
    if not isinstance(root, MappingNode) or root.flow_style:
        raise UsageError(f"{name}: the document is not a block mapping; set services.{service}.image by hand")

    services = _child(root, "services")
    if services is None:
        step = _indent_step(root) or 2
        lines = ["services:", " " * step + f"{service}:", " " * 2 * step + f"image: {_token(image, None)}"]
        # A file without a final line break keeps none: the new lines go after a break of their own.
        ends = not body or body.endswith("\n")
        new = body + ("" if ends else nl) + nl.join(lines) + (nl if ends else "")
        return bom + new, new.count("\n") + (0 if ends else 1), True
    svc_key, svc_node = services
    if not isinstance(svc_node, MappingNode):
        raise UsageError(f"{name}: services is not a mapping; set services.{service}.image by hand")

    found = _child(svc_node, service)
    if found is None:
        if svc_node.flow_style:
            at = svc_node.start_mark.index + 1
            entry = f"{service}: {{image: {_token(image, None)}}}" + (", " if svc_node.value else "")
            return bom + body[:at] + entry + body[at:], svc_node.start_mark.line + 1, True
        col = svc_node.value[0][0].start_mark.column if svc_node.value else (_indent_step(root) or 2)
        step = _indent_step(svc_node) or col or 2
        lines = [" " * col + f"{service}:", " " * (col + step) + f"image: {_token(image, None)}"]
        at = _line_end(body, svc_key.start_mark.line)
        return bom + body[:at] + nl.join(lines) + nl + body[at:], svc_key.start_mark.line + 3, True
    name_key, one = found
    if not isinstance(one, MappingNode):
        raise UsageError(f"{name}: services.{service} is not a mapping; set its image by hand")

    current = _child(one, "image")
    if current is not None:
        key, node = current
        if not isinstance(node, ScalarNode):
            raise UsageError(f"{name}: services.{service}.image is not a plain value; set it by hand")
        if node.start_mark.index < key.end_mark.index:  # an alias: the node lives at its anchor
            raise UsageError(f"{name}: services.{service}.image is an alias (*anchor); set it by hand")
        start, end = node.start_mark.index, node.end_mark.index
        if node.value == image:
            return text, node.start_mark.line + 1, False
        return bom + body[:start] + _token(image, node.style) + body[end:], node.start_mark.line + 1, False
    if one.flow_style:
        at = one.start_mark.index + 1
        entry = f"image: {_token(image, None)}" + (", " if one.value else "")
        return bom + body[:at] + entry + body[at:], one.start_mark.line + 1, True
    if not one.value:  # `api: {}` is flow; a block mapping always has a key
        raise UsageError(f"{name}: services.{service} is empty; set its image by hand")
    col = one.value[0][0].start_mark.column
    at = _line_end(body, name_key.start_mark.line)
    return (
        bom + body[:at] + " " * col + f"image: {_token(image, None)}" + nl + body[at:],
        name_key.start_mark.line + 2,
        True,
    )


def _child(mapping: Any, key: str) -> tuple[Any, Any] | None:
    from ruamel.yaml.nodes import ScalarNode

    for k, v in mapping.value:
        if isinstance(k, ScalarNode) and k.value == key:
            return k, v
    return None


def _indent_step(mapping: Any) -> int:
    """How far the file indents a nested block mapping, from the first one found under ``mapping`` (0: none)."""
    from ruamel.yaml.nodes import MappingNode

    for k, v in mapping.value:
        if isinstance(v, MappingNode) and not v.flow_style and v.value:
            step = int(v.value[0][0].start_mark.column - k.start_mark.column)
            if step > 0:
                return step
    return 0


def _line_end(text: str, line: int) -> int:
    """Index just after the line break ending 0-based ``line`` (the end of the text if it has none)."""
    pos = 0
    for _ in range(line + 1):
        nxt = text.find("\n", pos)
        if nxt < 0:
            return len(text)
        pos = nxt + 1
    return pos


def _token(image: str, style: str | None) -> str:
    """``image`` as a YAML scalar: in the original quote style, else plain when it reads back as that string."""
    if style in ("'", '"'):
        return f"{style}{image}{style}"  # IMAGE_RE allows no quote or backslash: nothing to escape
    if yaml.safe_load(f"k: {image}") == {"k": image} and not image.startswith(("-", "@")):
        return image
    return f'"{image}"'  # e.g. 1.10 or 0123 would read back as numbers


# ----------------------------------------------------------------- the write


def write(path: Path, result: EditResult, service: str, image: str) -> None:
    """Install ``result.new_text`` as ``path`` atomically, after checking it reads back right.

    Call under :func:`edit_lock`, with ``result`` from :func:`propose` in the same hold.

    Raises:
        UsageError: the new text would not load, would change more than the one
            value, or the file no longer holds ``result.old_text`` (changed outside
            hclforge since it was read); nothing is written.
        UnsafePathError: ``path`` became a symlink.
    """
    mode = stat.S_IMODE(os.stat(path, follow_symlinks=False).st_mode)
    with _staged(path, result.new_text, mode) as tmp:
        try:
            after = load_document(tmp, path.name).data
        except ConfigError as err:  # e.g. an anchor spliced away: never install a file that does not load
            raise UsageError(f"{path.name}: the edit would not load ({err}); nothing written") from None
        if after != _with_image(result.old_data, service, image):
            raise UsageError(f"{path.name}: the edit would change more than services.{service}.image; nothing written")
        if _current_text(path) != result.old_text:
            raise UsageError(f"{path.name} changed while set-image ran; nothing written, run the command again")
        _install(tmp, path)


def restore(path: Path, result: EditResult) -> bool:
    """Put ``result.old_text`` back atomically, but only while ``path`` still holds ``result.new_text``.

    Call under the same :func:`edit_lock` hold as the :func:`write` it undoes.

    Returns:
        True when the old text was put back; False when the file holds something
        else (a later write, kept as it is) or is gone.
    """
    try:
        if _current_text(path) != result.new_text:
            return False
        mode = stat.S_IMODE(os.stat(path, follow_symlinks=False).st_mode)
    except (OSError, UnsafePathError):
        return False
    with _staged(path, result.old_text, mode) as tmp:
        _install(tmp, path)
    return True


def _current_text(path: Path) -> str | None:
    """What ``path`` holds now, or None when it is not UTF-8 text."""
    try:
        return read_regular(path, MAX_FILE_BYTES).decode("utf-8")
    except UnicodeDecodeError:
        return None


@contextlib.contextmanager
def _staged(path: Path, text: str, mode: int) -> Iterator[Path]:
    """``text`` in a temporary file beside ``path`` (same file system: the rename is atomic), fsynced, with ``mode``.

    The temporary file is removed on the way out unless :func:`_install` moved it.
    """
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(text.encode("utf-8"))
            f.flush()
            os.fchmod(f.fileno(), mode)
            os.fsync(f.fileno())
        yield tmp
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _install(tmp: Path, path: Path) -> None:
    """Rename ``tmp`` over ``path``, then fsync the directory so the rename itself survives a crash."""
    if path.is_symlink():  # swapped in while we worked
        raise UnsafePathError(f"'{path.name}' is a symlink; edit the file it points to")
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _with_image(data: Any, service: str, image: str) -> Any:
    import copy

    out = copy.deepcopy(data) if isinstance(data, dict) else {}
    services = out.setdefault("services", {})
    services.setdefault(service, {})["image"] = image
    return out
