"""Raw terraform planning a split environment's roots as hclforge orders them, minus hclforge.

``python bench/rawplan.py SPEC.json``: SPEC names the roots (shared first), the
environment terraform runs with and the parallelism. Shared is planned first, then
the service roots ``jobs`` at a time, each ``terraform plan -input=false -no-color
-json -detailed-exitcode -var-file=... -out=...`` (hclforge's flags) in the tree, with the data dir hclforge initialized
(``TF_DATA_DIR``): no render check, no init check, no state read, no plan binding.
The yardstick of ``hclforge plan ENV -j N`` in ``make bench`` (bench/run.py).

This file imports nothing of hclforge, so its own start costs what a shell script's would.
"""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any


def plan_root(root: dict[str, Any], env: dict[str, str]) -> None:
    # The flags hclforge passes (cli/terraform.py): -json costs terraform less than its text output.
    argv = ["terraform", "plan", "-input=false", "-no-color", "-json", "-detailed-exitcode", f"-out={root['out']}"]
    if root.get("var_file"):
        argv.append(f"-var-file={root['var_file']}")
    done = subprocess.run(
        argv, cwd=root["tree"], env={**env, "TF_DATA_DIR": root["data_dir"]}, capture_output=True, text=True
    )
    if done.returncode not in (0, 2):  # 2: changes (-detailed-exitcode)
        raise RuntimeError(f"{root['tree']}: terraform plan exited {done.returncode}:\n{done.stderr[-2000:]}")


def main(spec_path: str) -> int:
    spec = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    env, roots = spec["env"], spec["roots"]
    plan_root(roots[0], env)  # shared
    with ThreadPoolExecutor(max_workers=spec["jobs"]) as pool:
        list(pool.map(lambda root: plan_root(root, env), roots[1:]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
