"""Read one YAML file into plain data plus the line of every YAML path.

PyYAML's ``safe_load`` forgets where values came from and silently keeps the last
of two duplicate keys. This loader composes the node graph itself, so every
error can name ``file:line`` and the dotted path, and duplicate keys, non-string
keys, explicit tags, over-large files, deep nesting, recursive aliases and alias
bombs are refused before any value is built.

YAML 1.1 reads some unquoted text as other types: ``1.10`` is the float 1.1,
``012`` is octal, ``12:30`` is 750, ``on`` is true. The loader keeps the source
text of every such plain scalar (:attr:`Document.texts`), so fields that hold
strings can take the text exactly as written.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from hclforge.errors import ConfigError, FileTooLargeError, Problem, UnsafePathError
from hclforge.paths import MAX_FILE_BYTES, read_regular

YamlPath = tuple[str | int, ...]

MAX_NODES = 100_000
MAX_DEPTH = 64
# Explicit tags that only restate a node's kind; every other one (!!int, !!binary, !!set, !foo) is refused.
ALLOWED_TAGS = frozenset({"tag:yaml.org,2002:str", "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"})
_SURROGATE_RE = re.compile("[\ud800-\udfff]")


@dataclass
class Document:
    """One parsed YAML file.

    Attributes:
        file: the name shown in messages.
        data: the plain Python value of the document.
        lines: 1-based line of every mapping key and sequence item, by YAML path.
        texts: the source text of every plain (unquoted) scalar that YAML read as
            something other than a string (``1.10``, ``on``, ``012``), by YAML path.
        digest: SHA-256 of the bytes parsed (what :mod:`hclforge.envcache` keys on).
    """

    file: str
    data: Any
    lines: dict[YamlPath, int] = field(default_factory=dict)
    texts: dict[YamlPath, str] = field(default_factory=dict)
    digest: str = ""


def dotted(path: YamlPath) -> str:
    """Format a YAML path the way messages show it: ``services.api.routes[1]``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def load_document(path: Path, display: str, *, loader: Any = None) -> Document:
    """Parse ``path`` into a :class:`Document`.

    Args:
        path: the file to read.
        display: how the file is named in messages (usually relative to the root).
        loader: the PyYAML loader class that resolves plain scalars (default: the safe
            loader, YAML 1.1); :mod:`hclforge.copilot` reads Copilot's manifests the
            YAML 1.2 way, where ``on`` is a string, as Copilot does.

    Returns:
        The document, whose data is a mapping.

    Raises:
        ConfigError: the file is missing, unreadable, not a regular file, too
            large, not UTF-8, not YAML, empty, not a mapping, has duplicate or
            non-string keys, explicit tags, or recursive or too deep structures.
    """

    def fail(message: str, line: int = 0, ypath: str = "") -> ConfigError:
        return ConfigError([Problem(display, line, ypath, message)])

    try:
        raw = read_regular(path, MAX_FILE_BYTES)
    except FileNotFoundError:
        raise fail("file not found") from None
    except (UnsafePathError, FileTooLargeError) as err:
        raise fail(str(err)) from None
    except OSError as err:
        raise fail(f"cannot read file ({err.strerror or err})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise fail(f"not valid UTF-8 (byte 0x{raw[err.start]:02x} at offset {err.start})", line) from None
    if text.startswith("\ufeff"):
        text = text[1:]

    try:
        _check_tags(text)
        node = yaml.compose(text, Loader=loader or _LOADER)
    except _Refused as err:
        raise fail(err.message, err.line) from None
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
    return Document(display, data, builder.lines, builder.texts, hashlib.sha256(raw).hexdigest())


class _Refused(yaml.YAMLError):
    """Something the loader refuses before composing; carries a message safe to show."""

    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


def _show_tag(tag: str) -> str:
    short = tag.replace("tag:yaml.org,2002:", "!!", 1)
    return short if len(short) <= 40 else short[:37] + "..."


# libyaml's parser and composer when PyYAML was built with it (its wheels are): ~10x faster, same marks.
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _check_tags(text: str) -> None:
    """Refuse explicit tags, reading only the parser's events (libyaml's: cheap).

    Only the events tell an explicit tag from an inferred one: a composed node's
    tag is the same for ``!!int 5`` and ``5``. The value is never part of the
    message, since it may be a secret.
    """
    if "!" not in text:
        return  # no tag can be written without one
    for event in yaml.parse(text, Loader=_LOADER):
        tag = getattr(event, "tag", None)
        if tag is not None and tag != "!" and tag not in ALLOWED_TAGS:
            raise _Refused(
                f"explicit tag '{_show_tag(tag)}' is not allowed (only !!str, !!map, !!seq); "
                "drop the tag, and quote the value if it is meant as a string",
                event.start_mark.line + 1 if event.start_mark else 0,
            )


class _Builder:
    """Turns a composed node graph into plain data, recording lines."""

    def __init__(self, display: str) -> None:
        self.display = display
        self.lines: dict[YamlPath, int] = {}
        self.texts: dict[YamlPath, str] = {}
        self.count = 0
        self.open: set[int] = set()  # ids of the collections being built, to catch `x: &x [*x]`
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
        if isinstance(node, yaml.MappingNode | yaml.SequenceNode):
            if len(path) >= MAX_DEPTH:
                # Python's recursion limit would end in a traceback long before 1 MiB of nesting.
                top = path[:1]
                raise self._fail(node, top, f"nested more than {MAX_DEPTH} levels deep")
            if id(node) in self.open:
                raise self._fail(node, path, "recursive alias: this value contains itself")
            self.open.add(id(node))
            try:
                return self._collection(node, path)
            finally:
                self.open.discard(id(node))
        try:
            value = self.constructor.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError, TypeError, KeyError, OverflowError):
            # The constructor's message would quote the value, which may be a secret.
            raise self._fail(
                node, path, "not a valid value of its YAML type; quote it if it is meant as a string"
            ) from None
        if isinstance(value, str):
            return self._text(value, node, path)
        if value is not None and isinstance(node, yaml.ScalarNode) and not node.style:
            self.texts[path] = str(node.value)
        return value

    def _collection(self, node: yaml.MappingNode | yaml.SequenceNode, path: YamlPath) -> Any:
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
        items = []
        for index, item in enumerate(node.value):
            child = (*path, index)
            self.lines[child] = item.start_mark.line + 1
            items.append(self.build(item, child))
        return items

    def _text(self, value: str, node: yaml.Node, path: YamlPath) -> str:
        if value.isascii():
            return value
        if _SURROGATE_RE.search(value):
            raise self._fail(node, path, "contains an unpaired surrogate (\\uD800-\\uDFFF), which is not text")
        # Terraform normalizes every string to NFC; doing it here keeps `show` and the plan in step.
        return unicodedata.normalize("NFC", value)
