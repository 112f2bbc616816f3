"""Read one YAML file into plain data plus the line of every YAML path.

PyYAML's ``safe_load`` forgets where values came from and silently keeps the last
of two duplicate keys. This loader composes the node graph itself, so every
error can name ``file:line`` and the dotted path, and duplicate keys, non-string
keys, over-large files and alias bombs are refused before any value is built.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from hclforge.errors import ConfigError, Problem

YamlPath = tuple[str | int, ...]

MAX_FILE_BYTES = 1024 * 1024
# libyaml's composer when PyYAML was built with it (its wheels are): ~10x faster, same marks.
_LOADER: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
MAX_NODES = 100_000
_SURROGATE_RE = re.compile("[\ud800-\udfff]")


@dataclass
class Document:
    """One parsed YAML file.

    Attributes:
        file: the name shown in messages.
        data: the plain Python value of the document.
        lines: 1-based line of every mapping key and sequence item, by YAML path.
    """

    file: str
    data: Any
    lines: dict[YamlPath, int] = field(default_factory=dict)


def dotted(path: YamlPath) -> str:
    """Format a YAML path the way messages show it: ``services.api.routes[1]``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def load_document(path: Path, display: str) -> Document:
    """Parse ``path`` into a :class:`Document`.

    Args:
        path: the file to read.
        display: how the file is named in messages (usually relative to the root).

    Returns:
        The document, whose data is a mapping.

    Raises:
        ConfigError: the file is missing, unreadable, too large, not UTF-8, not
            YAML, empty, not a mapping, or has duplicate or non-string keys.
    """

    def fail(message: str, line: int = 0, ypath: str = "") -> ConfigError:
        return ConfigError([Problem(display, line, ypath, message)])

    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise fail("file not found") from None
    except OSError as err:
        raise fail(f"cannot read file ({err.strerror or err})") from None
    if len(raw) > MAX_FILE_BYTES:
        raise fail(f"file is {len(raw)} bytes; at most {MAX_FILE_BYTES} are allowed")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise fail(f"not valid UTF-8 (byte 0x{raw[err.start]:02x} at offset {err.start})", line) from None
    if text.startswith("\ufeff"):
        text = text[1:]

    try:
        node = yaml.compose(text, Loader=_LOADER)
    except yaml.MarkedYAMLError as err:
        text_lines = text.splitlines()
        mark = err.problem_mark or err.context_mark
        if err.context_mark is not None and (mark is None or mark.line >= len(text_lines)):
            # The problem is the end of the file: point at where the construct began.
            mark = err.context_mark
        line = mark.line + 1 if mark else 0
        what = " ".join(p for p in (err.context, err.problem) if p).replace("'<stream end>'", "the end of the file")
        if 0 < line <= len(text_lines) and "\t" in text_lines[line - 1]:
            what += " (tabs are not allowed for indentation; use spaces)"
        raise fail(f"invalid YAML: {what}", line) from None
    except yaml.YAMLError as err:
        raise fail(f"invalid YAML: {err}") from None

    if node is None:
        raise fail("file is empty; an environment needs at least 'project'")
    if not isinstance(node, yaml.MappingNode):
        raise fail("the document must be a mapping of keys to values", node.start_mark.line + 1)

    builder = _Builder(display)
    data = builder.build(node, ())
    return Document(display, data, builder.lines)


class _Builder:
    """Turns a composed node graph into plain data, recording lines."""

    def __init__(self, display: str) -> None:
        self.display = display
        self.lines: dict[YamlPath, int] = {}
        self.count = 0
        self.constructor = yaml.SafeLoader("")

    def _fail(self, node: yaml.Node, path: YamlPath, message: str) -> ConfigError:
        return ConfigError([Problem(self.display, node.start_mark.line + 1, dotted(path), message)])

    def build(self, node: yaml.Node, path: YamlPath) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            # Aliases share nodes, so a small file can expand to billions of values.
            top = path[:1]
            line = self.lines.get(top, node.start_mark.line + 1)
            raise ConfigError(
                [
                    Problem(
                        self.display,
                        line,
                        dotted(top),
                        f"document expands to more than {MAX_NODES} values (alias bomb?)",
                    )
                ]
            )
        if isinstance(node, yaml.MappingNode):
            result: dict[str, Any] = {}
            for key_node, value_node in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    raise self._fail(key_node, path, "merge keys ('<<') are not supported; use 'extends' layers")
                if not isinstance(key_node, yaml.ScalarNode) or key_node.tag != "tag:yaml.org,2002:str":
                    raise self._fail(key_node, path, "keys must be plain strings")
                key = self._text(str(key_node.value), key_node, path)
                child = (*path, key)
                if key in result or child in self.lines:
                    first = self.lines.get(child, 0)
                    raise self._fail(key_node, child, f"duplicate key (first defined at line {first})")
                self.lines[child] = key_node.start_mark.line + 1
                result[key] = self.build(value_node, child)
            return result
        if isinstance(node, yaml.SequenceNode):
            items = []
            for index, item in enumerate(node.value):
                child = (*path, index)
                self.lines[child] = item.start_mark.line + 1
                items.append(self.build(item, child))
            return items
        try:
            value = self.constructor.construct_object(node, deep=True)
        except yaml.YAMLError as err:
            raise self._fail(node, path, f"invalid value: {err}") from None
        if isinstance(value, str):
            return self._text(value, node, path)
        return value

    def _text(self, value: str, node: yaml.Node, path: YamlPath) -> str:
        if value.isascii():
            return value
        if _SURROGATE_RE.search(value):
            raise self._fail(node, path, "contains an unpaired surrogate (\\uD800-\\uDFFF), which is not text")
        # Terraform normalizes every string to NFC; doing it here keeps `show` and the plan in step.
        return unicodedata.normalize("NFC", value)
