"""``plan --baseline REF``: a pull request's plan shows what it changes, not "create everything"."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from hclforge.cli.main import main
from tests.conftest import ROOT

pytestmark = [pytest.mark.terraform, pytest.mark.emulator, pytest.mark.slow]

SMALL = """\
project: base
aws: {region: eu-west-1, emulator: true}
network:
  create: {cidr: 10.77.0.0/16, private_subnets: 1}
services:
  web:
    image: nginx:1.27
    port: 80
    routes: ["GET /"]
    environment: {LOG_LEVEL: info}
"""


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True)


def test_plan_against_the_base_branch_shows_only_the_change(tmp_path: Path, capsys) -> None:
    root = tmp_path / "repo"
    (root / "envs").mkdir(parents=True)
    shutil.copy(ROOT / "hclforge.toml", root / "hclforge.toml")
    (root / "envs/small.yaml").write_text(SMALL)
    assert main(["--root", str(root), "render", "small"]) == 0
    _git(root, "init", "-q", "-b", "main")
    _git(root, "-c", "user.email=t@t", "-c", "user.name=t", "add", "envs", "modules")
    _git(root, "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-q", "-m", "base")
    (root / "envs/small.yaml").write_text(SMALL.replace("LOG_LEVEL: info", "LOG_LEVEL: debug"))
    capsys.readouterr()
    try:
        code = main(["--root", str(root), "plan", "small", "--baseline", "main", "--format", "json"])
        out, err = capsys.readouterr()
        assert code == 0, err
        assert "applying main's modules/small/ on the emulator as the baseline" in err
        summary = json.loads(out)
        # Only the task definition (a new revision) and the service that runs it change.
        assert summary["totals"] == {"create": 0, "update": 1, "replace": 1, "delete": 0}
        assert summary["replaced"] == ["module.ecs.aws_ecs_task_definition.web"]
    finally:
        main(["--root", str(root), "emulator", "stop"])
