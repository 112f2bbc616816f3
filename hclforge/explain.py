"""Explaining config: where each resolved value came from, and how two environments differ."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from hclforge.config import LoadedEnv
from hclforge.source import YamlPath, dotted

MISSING = object()


def leaves(data: Any, path: YamlPath = ()) -> Iterator[tuple[YamlPath, Any]]:
    """Leaf values of a config dump; lists and empty maps count as one value."""
    if isinstance(data, dict) and data:
        for key, value in data.items():
            yield from leaves(value, (*path, key))
    else:
        yield path, data


def origin_rows(loaded: LoadedEnv) -> list[tuple[str, str, str]]:
    """``(yaml path, value as JSON, origin)`` for every resolved value.

    The origin is ``file:line`` of the layer that set the value, ``file name`` for
    the environment name, or ``default`` when the model supplied it.
    """
    data = loaded.config.model_dump(mode="json")
    rows = []
    for path, value in leaves(data):
        if path in loaded.origins:
            file, line = loaded.origins[path]
            origin = f"{file}:{line}"
        elif path == ("environment",):
            origin = "file name"
        else:
            origin = "default"
        rows.append((dotted(path), json.dumps(value, ensure_ascii=False), origin))
    return rows


def _show(value: Any) -> str:
    return "" if value is MISSING else json.dumps(value, ensure_ascii=False)


def diff_rows(left: LoadedEnv, right: LoadedEnv) -> list[tuple[str, str, str, str]]:
    """``(sign, yaml path, left value, right value)`` for every value that differs.

    Sign ``~`` changed, ``-`` only in the left environment, ``+`` only in the right.
    The environment name itself is left out: it always differs.
    """
    a = dict(leaves(left.config.model_dump(mode="json")))
    b = dict(leaves(right.config.model_dump(mode="json")))
    rows = []
    for path in sorted(set(a) | set(b), key=lambda p: [str(x) for x in p]):
        if path == ("environment",):
            continue
        va, vb = a.get(path, MISSING), b.get(path, MISSING)
        if va == vb:
            continue
        sign = "~" if va is not MISSING and vb is not MISSING else ("-" if vb is MISSING else "+")
        rows.append((sign, dotted(path), _show(va), _show(vb)))
    return rows
