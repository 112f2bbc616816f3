"""Durations given on the command line: ``--since 10m`` (logs, run), ``--timeout 15m`` (deploy, wait).

A module of its own that imports nothing of the CLI: the commands and
:mod:`~hclforge.cli.oneoff` parse with it, beside the AWS reads (:mod:`~hclforge.cli.logs`).
"""

from __future__ import annotations

import re

from hclforge.errors import UsageError, printable

_UNITS_MS = {"s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 7 * 86_400_000}
_SINCE_RE = re.compile(r"(?:[0-9]{1,6}[smhdw])+")
_PART_RE = re.compile(r"([0-9]+)([smhdw])")
MAX_SINCE_MS = 3660 * 86_400_000  # about ten years: longer than any CloudWatch retention but "never expire"


def parse_since(text: str) -> int:
    """A duration like ``30s``, ``10m``, ``1h``, ``2d``, ``1w`` or ``1h30m``, in milliseconds.

    Raises:
        UsageError: anything else, or a zero or absurdly long duration.
    """
    value = text.strip().lower()
    if not _SINCE_RE.fullmatch(value):
        raise UsageError(
            f"--since {printable(text)!r} is not a duration: use a number and a unit s, m, h, d or w "
            "(30s, 10m, 1h, 2d, 1h30m)"
        )
    total = sum(int(n) * _UNITS_MS[unit] for n, unit in _PART_RE.findall(value))
    if total <= 0:
        raise UsageError(f"--since {printable(text)!r} is zero: give a duration such as 10m")
    if total > MAX_SINCE_MS:
        raise UsageError(f"--since {printable(text)!r} is longer than ten years")
    return total


def seconds(text: str) -> float:
    """A duration option (``15m``, ``90s``, ``1h``) in seconds; UsageError otherwise."""
    return parse_since(text) / 1000
