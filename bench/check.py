"""Compare bench/results.json with the targets; print each figure and what falls short.

Exit 1 when a target is missed (this is a report, kept out of the test suite).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.targets import TARGETS


def main() -> int:
    results = json.loads((Path(__file__).resolve().parent / "results.json").read_text())
    short = []
    for key, (label, unit, op, target) in TARGETS.items():
        value = results.get(key)
        met = value is not None and (value <= target if op == "<=" else value >= target)
        shown = f"{value:.3f}" if isinstance(value, float) else str(value)
        wall = results.get(key.replace("_cpu_", "_")) if "_cpu_" in key else None
        beside = f"; wall time {wall:.3f} {unit}" if isinstance(wall, float) else ""
        print(f"{'ok  ' if met else 'SHORT'} {label}: {shown} {unit} (target {op} {target} {unit}{beside})")
        if not met:
            short.append(label)
    if short:
        print(f"\nFALLS SHORT of {len(short)} target(s):", file=sys.stderr)
        for label in short:
            print(f"  - {label}", file=sys.stderr)
        return 1
    print("every target met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
