"""Which blocks of a rendered root an output depends on, and whether any of them changed between two renders.

``affected`` asks it of a split environment's shared root: a service root takes
literal values from shared's outputs (:data:`hclforge.roots.SHARED_VALUES`), so it
must be planned again after shared applies exactly when one of those values can
change. A value can change when anything it is computed from changed: the output
itself, the resources, data sources, locals and module arguments it refers to,
transitively across the root's child modules, and what every block depends on (the
``provider`` and ``terraform`` blocks, the provider lock). Tags, descriptions and
the like count too: the rule is conservative within a block, and exact between
blocks, so a new service's security group leaves every other service's value alone.

``security_group_ids`` is a map, and each service root takes only some of its keys
(:func:`hclforge.roots.security_group_keys`): a key's dependencies are those of its
own entry in the map literal, so one group's change marks only the roots naming it.

The parser reads what hclforge renders, fmt-clean: top-level blocks open at
column 0 with ``kind "label"... {`` and close with ``}`` at column 0, and their
attributes sit at two spaces. Whitespace is collapsed before texts are compared
(``terraform fmt`` aligns ``=`` over a group, so a new longer name realigns its
neighbours). Anything else it does not understand makes every value "can change".
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

_BLOCK = re.compile(r'^([a-z_]+)((?: "[^"]*")*) \{(\})?$')
_LABEL = re.compile(r'"([^"]*)"')
_ATTRIBUTE = re.compile(r"^  ([A-Za-z_][\w-]*)\s*=")
_MAP_OPEN = re.compile(r"^  value\s*=\s*\{$")
_MAP_KEY = re.compile(r'^    "?([^"\s=]+)"?\s*=')
_FORWARD = re.compile(r"^  value\s*=\s*module\.([A-Za-z_][\w-]*)\.([A-Za-z_][\w-]*)$")
_REFERENCE = re.compile(r"(?<![\w.-])(data\.)?([a-z][a-z0-9_]*)\.([A-Za-z_][\w-]*)(?:\.([A-Za-z_][\w-]*))?")
# Module-call arguments that are not input variables: they concern every output of the module.
_META_ARGUMENTS = frozenset({"source", "version", "count", "for_each", "depends_on", "providers"})
# Blocks every value depends on: the provider's configuration, the backend and version constraints.
_GLOBAL_KINDS = frozenset({"provider", "terraform"})
_KNOWN_KINDS = frozenset({"resource", "data", "output", "variable", "locals", "module", *_GLOBAL_KINDS})

# A node: (module folder, kind, name, part); its text is compared between the two renders.
Node = tuple[str, str, str, str]


class _Unparsed(Exception):
    """The text is not what hclforge renders: every value is then taken as one that can change."""


def _squash(text: str) -> str:
    return " ".join(text.split())


def _blocks(text: str) -> Iterator[tuple[str, tuple[str, ...], list[str]]]:
    """The top-level blocks of a file: kind, labels, lines (header to closing brace)."""
    lines = text.split("\n")
    at = 0
    while at < len(lines):
        line = lines[at]
        match = _BLOCK.match(line)
        if match is None:
            if line.strip() and not line.startswith("#"):
                raise _Unparsed(line)
            at += 1
            continue
        if match.group(3):  # an empty block on one line: kind "label" {}
            yield match.group(1), tuple(_LABEL.findall(match.group(2))), [line]
            at += 1
            continue
        end = at + 1
        while end < len(lines) and lines[end] != "}":
            end += 1
        if end == len(lines):
            raise _Unparsed(line)
        yield match.group(1), tuple(_LABEL.findall(match.group(2))), lines[at : end + 1]
        at = end + 1


def _attributes(lines: list[str]) -> dict[str, str]:
    """A block's two-space attributes, each with its continuation lines (nested blocks stay with the one before)."""
    found: dict[str, str] = {}
    current = None
    for line in lines[1:-1]:
        match = _ATTRIBUTE.match(line)
        if match is not None:
            current = match.group(1)
            found[current] = line
        elif current is not None:
            found[current] += "\n" + line
    return found


def _map_span(lines: list[str]) -> tuple[int, int] | None:
    """Where an output's map-literal value is (``value = {`` to its ``}``), or None when it is not one."""
    start = next((i for i, line in enumerate(lines) if _MAP_OPEN.match(line)), None)
    if start is None:
        return None
    end = next((i for i in range(start + 1, len(lines)) if lines[i] == "  }"), None)
    if end is None:
        raise _Unparsed(lines[0])
    return start, end


def _map_entries(lines: list[str]) -> dict[str, str] | None:
    """The entries of an output whose value is a map literal (``value = { "key" = ... }``), or None."""
    span = _map_span(lines)
    if span is None:
        return None
    entries: dict[str, str] = {}
    current = None
    for line in lines[span[0] + 1 : span[1]]:
        match = _MAP_KEY.match(line)
        if match is not None:
            current = match.group(1)
            entries[current] = line
        elif current is not None:
            entries[current] += "\n" + line
    return entries


@dataclass
class _Module:
    """One folder of a root: its blocks by node, the module calls it makes, and what it declares."""

    texts: dict[Node, str] = field(default_factory=dict)
    lines: dict[Node, list[str]] = field(default_factory=dict)
    calls: dict[str, str] = field(default_factory=dict)  # module name -> its folder
    declared: set[str] = field(default_factory=set)  # "type.name" of resources, "data.type.name" of data sources
    everywhere: list[Node] = field(default_factory=list)


def _parse(files: Mapping[str, str]) -> dict[str, _Module]:
    """Parse a root's ``.tf`` files (paths relative to the root) into its folders ("" is the root itself)."""
    modules: dict[str, _Module] = {}
    for path, text in sorted(files.items()):
        if not path.endswith(".tf"):
            continue
        folder = posixpath.dirname(path)
        mod = modules.setdefault(folder, _Module())
        for kind, labels, lines in _blocks(text):
            if kind in ("resource", "data") and len(labels) == 2:
                name = f"{labels[0]}.{labels[1]}"
                mod.declared.add(name if kind == "resource" else f"data.{name}")
                _put(mod, (folder, kind, name, ""), lines)
            elif kind in ("output", "variable") and len(labels) == 1:
                _put(mod, (folder, kind, labels[0], ""), lines)
                if kind == "output":
                    # Its head: the block without a map literal's entries, compared on its own for a keyed value.
                    span = _map_span(lines)
                    head = lines if span is None else lines[: span[0]] + lines[span[1] + 1 :]
                    _put(mod, (folder, "head", labels[0], ""), head)
                    for key, entry in (_map_entries(lines) or {}).items():
                        _put(mod, (folder, "key", labels[0], key), [entry])
            elif kind == "locals" and not labels:
                for name, entry in _attributes(lines).items():
                    _put(mod, (folder, "local", name, ""), [entry])
            elif kind == "module" and len(labels) == 1:
                args = _attributes(lines)
                meta = [entry for arg, entry in args.items() if arg in _META_ARGUMENTS]
                _put(mod, (folder, "meta", labels[0], ""), meta)
                for arg, entry in args.items():
                    if arg not in _META_ARGUMENTS:
                        _put(mod, (folder, "arg", labels[0], arg), [entry])
                source = re.search(r'source\s*=\s*"(\./[^"]+)"', args.get("source", ""))
                if source is None:
                    raise _Unparsed(lines[0])  # only local child modules are rendered
                mod.calls[labels[0]] = posixpath.normpath(posixpath.join(folder, source.group(1)))
            else:
                # provider, terraform, and any kind this parser does not know: every value depends on it.
                node = (folder, kind, " ".join(labels), str(len(mod.everywhere)))
                _put(mod, node, lines)
                mod.everywhere.append(node)
    return modules


def _put(mod: _Module, node: Node, lines: list[str]) -> None:
    if node in mod.texts:
        raise _Unparsed(f"{node} twice")
    mod.lines[node] = lines
    mod.texts[node] = _squash("\n".join(lines))


class SharedChanges:
    """Whether each output of a root can change between the ``base`` and ``work`` renders of it.

    Args:
        base: the root's files at the base (path relative to the root -> text); empty when
            the root did not exist there.
        work: the root's files as rendered now.
        lock_changed: the root's provider lock differs: every value is taken as changeable.
    """

    def __init__(self, base: Mapping[str, str], work: Mapping[str, str], *, lock_changed: bool = False) -> None:
        self._all = lock_changed or not base
        self._cache: dict[tuple[str, str], bool] = {}
        try:
            self._base = _parse(base)
            self._work = _parse(work)
        except _Unparsed:
            self._all = True
            self._base, self._work = {}, {}
        self._parents = {
            child: (folder, name) for folder, mod in self._work.items() for name, child in mod.calls.items()
        }

    def can_change(self, output: str, key: str = "") -> bool:
        """Whether the root's ``output`` (or, for a map, its entry ``key``) can differ after an apply of ``work``."""
        if self._all:
            return True
        if (output, key) not in self._cache:
            start: Node = ("", "key", output, key) if key else ("", "output", output, "")
            self._cache[output, key] = any(self._changed(node) for node in self._closure(start))
        return self._cache[output, key]

    def _text(self, side: dict[str, _Module], node: Node) -> str | None:
        mod = side.get(node[0])
        return None if mod is None else mod.texts.get(node)

    def _changed(self, node: Node) -> bool:
        work = self._text(self._work, node)
        if work is None and node[1] == "key":
            # No literal entry: the output forwards or computes its map, and its block is compared itself.
            block = self._work.get(node[0], _Module()).lines.get((node[0], "output", node[2], ""))
            return block is None or _map_entries(block) is not None
        return work is None or work != self._text(self._base, node)

    def _closure(self, start: Node) -> set[Node]:
        everywhere = [node for mod in self._work.values() for node in mod.everywhere]
        everywhere += [node for mod in self._base.values() for node in mod.everywhere]
        seen = {start, *everywhere}
        todo = [start]
        while todo:
            for nxt in self._edges(todo.pop()):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    def _edges(self, node: Node) -> list[Node]:
        folder, kind, name, part = node
        mod = self._work.get(folder)
        if mod is None:
            return []
        if kind == "key":
            block: Node = (folder, "output", name, "")
            head: Node = (folder, "head", name, "")
            lines = mod.lines.get(block)
            if lines is None:
                return []
            forward = next((m for m in map(_FORWARD.match, lines) if m), None)
            if forward is not None and forward.group(1) in mod.calls:
                # The same entry of the child's map: not the whole map, or one group would mark every root.
                child = mod.calls[forward.group(1)]
                return [head, (folder, "meta", forward.group(1), ""), (child, "key", forward.group(2), part)]
            if node not in mod.lines:
                return [block]  # a map computed some other way: all of it
            # The entry itself, and what the rest of the block says (depends_on), not the other entries.
            return [head, *self._references(folder, "\n".join([*mod.lines[node], *mod.lines[head]]))]
        if node not in mod.lines or kind == "head":
            return []
        if kind == "variable" and folder in self._parents:
            parent, call = self._parents[folder]
            return [(parent, "arg", call, name), (parent, "meta", call, "")]
        return self._references(folder, "\n".join(mod.lines[node]))

    def _references(self, folder: str, text: str) -> list[Node]:
        mod = self._work[folder]
        found: list[Node] = []
        for match in _REFERENCE.finditer(text):
            data, first, second, third = match.groups()
            if data:
                name = f"data.{first}.{second}"
                if name in mod.declared:
                    found.append((folder, "data", f"{first}.{second}", ""))
            elif first == "module" and second in mod.calls and third:
                child = mod.calls[second]
                found += [(folder, "meta", second, ""), (child, "output", third, "")]
            elif first == "var":
                found.append((folder, "variable", second, ""))
            elif first == "local":
                found.append((folder, "local", second, ""))
            elif f"{first}.{second}" in mod.declared:
                found.append((folder, "resource", f"{first}.{second}", ""))
        return found
