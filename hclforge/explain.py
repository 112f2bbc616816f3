"""Explaining config: where each resolved value came from, how two environments differ, which there are."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hclforge.config import LoadedEnv, env_names, load_env
from hclforge.errors import ConfigError, Problem
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


def origin_lines(rows: list[tuple[str, str, str]]) -> list[str]:
    """:func:`origin_rows` as aligned text: path, value (aligned up to 60 columns), origin."""
    if not rows:
        return []
    width = max(len(p) for p, _, _ in rows)
    vwidth = min(max(len(v) for _, v, _ in rows), 60)
    return [f"{path:<{width}}  {value:<{vwidth}}  {where}" for path, value, where in rows]


def origin_json(rows: list[tuple[str, str, str]]) -> str:
    """:func:`origin_rows` as a JSON list of ``{path, value, origin}``."""
    return json.dumps([{"path": p, "value": json.loads(v), "origin": o} for p, v, o in rows], indent=2)


def diff_lines(rows: list[tuple[str, str, str, str]]) -> list[tuple[str, str]]:
    """:func:`diff_rows` as ``(sign, text)``: ``~ path: a -> b``, ``- path: a``, ``+ path: b``."""
    lines = []
    for sign, path, a, b in rows:
        text = f"~ {path}: {a} -> {b}" if sign == "~" else f"- {path}: {a}" if sign == "-" else f"+ {path}: {b}"
        lines.append((sign, text))
    return lines


def env_lines(root: Path) -> tuple[list[str], list[Problem]]:
    """``envs``: a header and one row per environment (region, account, backend, services).

    Returns:
        The lines, and the problems of the environments that failed to load (their rows say so).
    """
    lines = [f"{'env':<12} {'region':<16} {'account':<14} {'backend':<8} services"]
    problems: list[Problem] = []
    for name in env_names(root):
        try:
            cfg = load_env(root, name).config
        except ConfigError as err:
            problems += err.problems
            lines.append(f"{name:<12} (invalid: see below)")
            continue
        account = "emulator" if cfg.aws.emulator else (cfg.aws.account_id or "-")
        lines.append(f"{name:<12} {cfg.aws.region:<16} {account:<14} {cfg.backend.type:<8} {', '.join(cfg.services)}")
    return lines, problems
