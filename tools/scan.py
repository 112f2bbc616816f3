"""``make scan``: checkov on every environment's plan JSON (planned against the emulator).

Prints passed / failed / skipped per environment and writes scan/results.json.
Exits 1 when a protected environment (protect: true, as prod) has a failed
check. Skips are written in the templates, next to the resource, with a reason.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HCLFORGE = str(ROOT / ".venv/bin/hclforge")
CHECKOV = str(ROOT / ".venv-scan/bin/checkov")
sys.path.insert(0, str(ROOT))

from hclforge.config import env_names, load_env  # noqa: E402


def scan(env: str) -> dict[str, object]:
    out = ROOT / "scan" / f"{env}.plan.json"
    subprocess.run(
        [HCLFORGE, "plan", env, "--emulator", "--json-out", str(out)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    result = subprocess.run(
        [
            CHECKOV,
            "-f",
            str(out),
            "--framework",
            "terraform_plan",
            "--quiet",
            "-o",
            "json",
            "--skip-download",
            "--repo-root-for-plan-enrichment",
            str(ROOT / "modules" / env),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "BC_SKIP_MAPPING": "TRUE"},
    )
    data = json.loads(result.stdout)
    data = data if isinstance(data, dict) else data[0]
    results = data.get("results", {})
    out.unlink()
    return {
        "summary": data["summary"],
        "failed": sorted(f"{f['check_id']} {f['resource']}" for f in results.get("failed_checks", [])),
        "skipped": sorted(
            f"{f['check_id']} {f['resource']}: {f['check_result'].get('suppress_comment', '')}"
            for f in results.get("skipped_checks", [])
        ),
    }


def main() -> int:
    report = {env: scan(env) for env in env_names(ROOT)}
    (ROOT / "scan").mkdir(exist_ok=True)
    (ROOT / "scan/results.json").write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    bad = []
    print(f"{'env':<8} {'passed':>6} {'failed':>6} {'skipped':>7}")
    for env, r in report.items():
        s = r["summary"]
        print(f"{env:<8} {s['passed']:>6} {s['failed']:>6} {s['skipped']:>7}")  # type: ignore[index]
        if load_env(ROOT, env).config.protect and s["failed"]:  # type: ignore[index]
            bad.append(env)
    for env, r in report.items():
        for line in r["failed"]:  # type: ignore[attr-defined]
            print(f"  {env}: failed {line}")
        for line in r["skipped"]:  # type: ignore[attr-defined]
            print(f"  {env}: skipped {line}")
    if bad:
        print(f"protected environments with failed checks: {', '.join(bad)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
