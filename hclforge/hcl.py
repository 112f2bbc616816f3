"""HCL output: the one escaping filter, value rendering and ``terraform fmt`` alignment.

Every string that comes from YAML reaches HCL through :func:`quote`, which
escapes quotes, backslashes, control characters, template sequences (``${``,
``%{``) and every non-ASCII character, so no value can add or change HCL
structure. :class:`HclText` marks text that is already safe HCL; the Jinja
environment refuses to print any plain ``str`` that is not marked.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any


class HclText(str):
    """A string that is already valid, escaped HCL."""


_SIMPLE_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def quote(value: str) -> HclText:
    """Render ``value`` as an HCL quoted string literal that evaluates to exactly ``value``.

    Args:
        value: any text; lone surrogates are refused earlier by the loader.

    Returns:
        The literal, with surrounding double quotes.
    """
    out = ['"']
    n = len(value)
    for i, ch in enumerate(value):
        if ch in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[ch])
        elif ch in "$%" and i + 1 < n and value[i + 1] == "{":
            # "$${" and "%%{" are HCL's escapes for a literal "${" / "%{".
            out.append(ch + ch)
        elif " " <= ch <= "~":
            out.append(ch)
        elif ord(ch) <= 0xFFFF:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(f"\\U{ord(ch):08X}")
    out.append('"')
    return HclText("".join(out))


_IDENT_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
_LABEL_RE = re.compile(r"^[A-Za-z0-9_.-]+$")


def ident(name: str) -> HclText:
    """A Terraform identifier from a validated name: ``api-gw`` -> ``api_gw``.

    Raises:
        ValueError: the name cannot be an identifier (the model should have refused it).
    """
    result = name.replace("-", "_")
    if not _IDENT_RE.fullmatch(result):
        raise ValueError(f"{name!r} cannot be a Terraform identifier")
    return HclText(result)


def label(name: str) -> HclText:
    """A validated name printed bare (in comments): only ``[A-Za-z0-9_.-]``."""
    if not _LABEL_RE.fullmatch(name):
        raise ValueError(f"{name!r} cannot be printed unquoted")
    return HclText(name)


def key(name: str) -> HclText:
    """An object key: bare when it is an identifier, else a quoted string."""
    return HclText(name) if _IDENT_RE.fullmatch(name) else quote(name)


def value(obj: Any, indent: int = 0) -> HclText:
    """Render a YAML-derived value as an HCL expression.

    Scalars and lists of scalars stay on one line; maps and lists of maps are
    spread over lines, indented by ``indent`` spaces for the closing bracket.

    Args:
        obj: ``str``, ``bool``, ``int``, ``float``, ``None``, a mapping or a sequence of these.
            :class:`HclText` passes through unchanged (an expression written by a template).
        indent: the indentation of the line the expression starts on.
    """
    if isinstance(obj, HclText):
        return obj
    if isinstance(obj, str):
        return quote(obj)
    if obj is None:
        return HclText("null")
    if isinstance(obj, bool):
        return HclText("true" if obj else "false")
    if isinstance(obj, int | float):
        return HclText(repr(obj))
    pad = " " * indent
    if isinstance(obj, Mapping):
        if not obj:
            return HclText("{}")
        lines = [f"{pad}  {key(str(k))} = {value(v, indent + 2)}" for k, v in obj.items()]
        return HclText("{\n" + "\n".join(lines) + f"\n{pad}}}")
    if isinstance(obj, Sequence):
        if any(isinstance(item, Mapping) for item in obj):
            items = [f"{pad}  {value(item, indent + 2)}," for item in obj]
            return HclText("[\n" + "\n".join(items) + f"\n{pad}]")
        return HclText("[" + ", ".join(value(item, indent) for item in obj) + "]")
    raise TypeError(f"cannot render {type(obj).__name__} as HCL")


# ----------------------------------------------------------------- formatting

_ASSIGN_RE = re.compile(r'^(\s*)([A-Za-z_][A-Za-z0-9_-]*|"(?:[^"\\]|\\.)*")\s*=(?!=)\s*(.*)$')
_STRING_RE = re.compile(r'"(?:[^"\\]|\\.)*"')


def _net_brackets(expr: str) -> int:
    code = _STRING_RE.sub('""', expr) if '"' in expr else expr
    return sum(code.count(c) for c in "{[(") - sum(code.count(c) for c in "}])")


def format_hcl(text: str) -> str:
    """Align ``=`` the way ``terraform fmt`` does, and tidy blank lines.

    Consecutive single-line attribute assignments form a group whose ``=``
    signs line up one space past the longest name; a line that is not such an
    assignment (a block, a blank, a comment, an opening bracket) ends the group.
    This mirrors hclwrite's ``formatCells``, so rendered files pass
    ``terraform fmt -check`` without running terraform at render time.
    """
    raw = [line.rstrip() for line in text.split("\n")]
    lines: list[str] = []
    for line in raw:
        if line == "" and (not lines or lines[-1] == "" or lines[-1].endswith(("{", "["))):
            continue
        if line.strip() in ("}", "]", ")") and lines and lines[-1] == "":
            lines.pop()
        lines.append(line)
    while lines and lines[-1] == "":
        lines.pop()

    parsed: list[tuple[str, str] | None] = []
    for line in lines:
        m = _ASSIGN_RE.fullmatch(line) if "=" in line else None
        if m and _net_brackets(m.group(3)) == 0:
            parsed.append((m.group(1) + m.group(2), m.group(3)))
        else:
            parsed.append(None)

    out: list[str] = []
    i = 0
    while i < len(lines):
        if parsed[i] is None:
            out.append(lines[i])
            i += 1
            continue
        j = i
        while j < len(lines) and parsed[j] is not None:
            j += 1
        width = max(len(p[0]) for p in parsed[i:j] if p is not None)
        for p in parsed[i:j]:
            assert p is not None
            out.append(f"{p[0].ljust(width)} = {p[1]}")
        i = j
    return "\n".join(out) + "\n"
