"""``plan --affected`` (issue 24.4): exactly the roots ``hclforge affected`` lists, in its order.

One tiny split environment on the emulator, committed in a git repository: shared is
applied once (its values are what the service roots take), then a commit changes one
service's image, and ``plan --affected`` plans that service's root and nothing else.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT, run

ENV = {
    "project": "affrun",
    "aws": {"region": "ap-northeast-1", "emulator": True},
    "network": {"create": {"cidr": "10.63.0.0/16", "private_subnets": 1}},
    "services": {"api": {"image": "nginx:1.27"}, "worker": {"image": "nginx:1.27"}},
    "state": {"split": "service"},
}


def _git(root: Path, *args: str) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com"}
    env |= {"GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    subprocess.run(["git", *args], cwd=root, env=env, capture_output=True, text=True, check=True)


@pytest.mark.emulator
def test_plan_affected_plans_exactly_the_listed_roots(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "envs").mkdir()
    (tmp_path / "hclforge.toml").write_bytes((ROOT / "hclforge.toml").read_bytes())
    (tmp_path / "envs/t.yaml").write_text(yaml.safe_dump(ENV), encoding="utf-8")
    (tmp_path / ".gitignore").write_text(".hclforge/\n", encoding="utf-8")
    try:
        assert run(tmp_path, capsys, "render", "t")[0] == 0
        _git(tmp_path, "init", "-q", "-b", "main")
        _git(tmp_path, "add", "-A")
        _git(tmp_path, "commit", "-qm", "base")
        # Nothing changed: nothing is listed, and nothing runs (no emulator is started).
        code, out, _ = run(tmp_path, capsys, "plan", "--affected", "--detailed-exitcode")
        assert (code, out) == (0, "No root is affected since merge base of HEAD and main.\n")
        assert not (tmp_path / ".hclforge/emulator.json").exists()

        code, _, err = run(tmp_path, capsys, "apply", "t", "--root", "shared", "--auto-approve")
        assert code == 0, err
        _git(tmp_path, "checkout", "-qb", "feature")
        doc = yaml.safe_load((tmp_path / "envs/t.yaml").read_text(encoding="utf-8"))
        doc["services"]["worker"]["image"] = "nginx:1.28"
        (tmp_path / "envs/t.yaml").write_text(yaml.safe_dump(doc), encoding="utf-8")
        _git(tmp_path, "commit", "-qam", "worker 1.28")

        code, out, _ = run(tmp_path, capsys, "affected", "--format", "json")
        assert (code, json.loads(out)) == (0, {"include": [{"env": "t", "root": "services/worker", "after": ""}]})
        files = tmp_path / ".hclforge/envs/t"
        code, out, err = run(tmp_path, capsys, "plan", "--affected", "--detailed-exitcode")
        assert code == 3, err  # the worker root has changes
        assert [line for line in err.splitlines() if line.startswith("== ")] == ["== t/services/worker: tree"]
        assert "Plan for t:" in out and "worker" in out
        assert (files / "services/worker/plan.tfplan").is_file()
        assert not (files / "services/api/plan.tfplan").exists()  # api was not planned
        assert not (files / "services/api/tfdata").exists()  # nor even initialized
        assert not (files / "shared/plan.tfplan").exists()  # shared's plan was applied, not made again
    finally:
        run(tmp_path, capsys, "emulator", "stop")
