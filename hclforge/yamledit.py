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
"""

from __future__ import annotations

import contextlib
import difflib
import os
import stat
import tempfile
from dataclasses import dataclass
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
    """

    old_text: str
    new_text: str
    changed_line: int
    inserted: bool = False

    @property
    def changed(self) -> bool:
        return self.old_text != self.new_text

    def diff(self, name: str = "file") -> str:
        """A unified diff of the edit (empty when nothing changed)."""
        return "".join(
            difflib.unified_diff(
                self.old_text.splitlines(keepends=True),
                self.new_text.splitlines(keepends=True),
                f"a/{name}",
                f"b/{name}",
            )
        )


def check_image(image: str) -> None:
    """Refuse anything but a container image reference (the rule the loader applies).

    Raises:
        UsageError: ``image`` does not fully match :data:`hclforge.rules.IMAGE_RE`.
    """
    if not IMAGE_RE.fullmatch(image):
        raise UsageError(
            f"{printable(image)!r} is not a container image reference (no spaces or quotes; e.g. repo/name:tag)"
        )


def set_image(path: Path, service: str, image: str, *, known_services: list[str] | None = None) -> EditResult:
    """Set ``services.<service>.image`` in one YAML file, changing only that line, and write it atomically.

    Args:
        path: the environment file or layer to edit (resolve and confine it first,
            e.g. with :func:`hclforge.paths.confined`).
        service: the service whose image is pinned.
        image: the new image reference (``repo/name:tag`` or ``repo/name@sha256:...``).
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
    new_text, line, inserted = _edit(old_text, service, image, path.name)
    result = EditResult(old_text, new_text, line, inserted)
    if not result.changed:
        return result
    _write_checked(path, new_text, before.data, service, image)
    return result


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
        sep = "" if not body or body.endswith("\n") else nl
        new = body + sep + nl.join(lines) + nl
        return bom + new, new.count("\n"), True
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


def _write_checked(path: Path, new_text: str, old_data: Any, service: str, image: str) -> None:
    """Write ``new_text`` next to ``path``, check it reads back right, then move it over ``path``."""
    mode = stat.S_IMODE(os.stat(path, follow_symlinks=False).st_mode)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(new_text.encode("utf-8"))
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        try:
            after = load_document(tmp, path.name).data
        except ConfigError as err:  # e.g. an anchor spliced away: never install a file that does not load
            raise UsageError(f"{path.name}: the edit would not load ({err}); nothing written") from None
        expected = _with_image(old_data, service, image)
        if after != expected:
            raise UsageError(f"{path.name}: the edit would change more than services.{service}.image; nothing written")
        if path.is_symlink():  # swapped in while we worked
            raise UnsafePathError(f"'{path.name}' is a symlink; edit the file it points to")
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _with_image(data: Any, service: str, image: str) -> Any:
    import copy

    out = copy.deepcopy(data) if isinstance(data, dict) else {}
    services = out.setdefault("services", {})
    services.setdefault(service, {})["image"] = image
    return out
