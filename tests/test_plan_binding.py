"""One binding between plan and apply: what was reviewed is what is applied, or apply refuses and says why."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from hclforge.cli import emulator, planapply
from hclforge.cli.ops import Workspace
from hclforge.cli.settings import load_settings
from hclforge.cli.terraform import Terraform
from hclforge.errors import PlanRefused
from tests.conftest import MINIMAL_ENV, run

pytestmark = [pytest.mark.terraform, pytest.mark.emulator]


@pytest.fixture
def two_envs(project) -> Iterator[Path]:
    small = json.loads(json.dumps(MINIMAL_ENV))
    small["aws"]["emulator"] = True
    small["network"] = {"create": {"cidr": "10.7.0.0/16", "private_subnets": 1}}
    other = json.loads(json.dumps(small))
    other["network"]["create"]["cidr"] = "10.6.0.0/16"
    other["services"]["extra"] = {"image": "busybox:1"}
    root = project({"envs/small.yaml": small, "envs/other.yaml": other})
    yield root
    emulator.stop(root / ".hclforge")


def _ws(root: Path, env: str = "small") -> Workspace:
    return Workspace(load_settings(root), env)


def _apply(root: Path, env: str = "small") -> None:
    planapply.apply(_ws(root, env), auto_approve=True, interactive=False, confirm=lambda _s: True)


def test_an_edit_made_while_planning_makes_the_plan_stale(two_envs: Path, monkeypatch) -> None:
    real_plan = Terraform.plan
    env_file = two_envs / "envs/small.yaml"

    def plan_while_someone_edits(self: Terraform, out: Path, **kwargs: object) -> bool:
        changed = real_plan(self, out, **kwargs)
        # The YAML is edited and rendered while terraform is still planning.
        env_file.write_text(env_file.read_text().replace("nginx:1.27", "nginx:1.28"))
        _ws(two_envs).render()
        return changed

    monkeypatch.setattr(Terraform, "plan", plan_while_someone_edits)
    planapply.plan(_ws(two_envs))
    monkeypatch.setattr(Terraform, "plan", real_plan)
    assert _ws(two_envs).saved_plan_problem() == "the environment's YAML changed since the plan"
    with pytest.raises(PlanRefused, match="the saved plan is stale: the environment's YAML changed"):
        _apply(two_envs)


def test_a_plan_file_put_in_place_of_the_saved_one_is_refused(two_envs: Path, capsys) -> None:
    planapply.plan(_ws(two_envs, "other"))
    small = _ws(two_envs)
    planapply.plan(small)
    assert _ws(two_envs).saved_plan_problem() is None
    other = _ws(two_envs, "other")
    saved, saved_meta = small.root.plan_file.read_bytes(), small.root.plan_meta_file.read_bytes()

    shutil.copyfile(other.root.plan_file, small.root.plan_file)
    problem = _ws(two_envs).saved_plan_problem()
    assert problem is not None and "is not the one hclforge planned (its SHA-256 differs" in problem
    with pytest.raises(PlanRefused, match="SHA-256 differs"):
        _apply(two_envs)

    # The metadata copied along with it names the other environment.
    shutil.copyfile(other.root.plan_meta_file, small.root.plan_meta_file)
    assert _ws(two_envs).saved_plan_problem() == "the saved plan was made for environment 'other', not 'small'"

    # Nothing of other's was applied into small's state.
    assert not (two_envs / ".hclforge/state/small/terraform.tfstate").exists() or not json.loads(
        (two_envs / ".hclforge/state/small/terraform.tfstate").read_text()
    ).get("resources")
    small.root.plan_file.write_bytes(saved)
    small.root.plan_meta_file.write_bytes(saved_meta)
    assert _ws(two_envs).saved_plan_problem() is None

    # A YAML edit between the plan and its apply that breaks the YAML: refused with the place,
    # the saved plan kept; once the edit is undone, the saved plan is fresh again.
    env_file = two_envs / "envs/small.yaml"
    text = env_file.read_text()
    env_file.write_text(text.replace("port: 80", "port: 80x"))
    code, _, err = run(two_envs, capsys, "apply", "small", "--auto-approve")
    assert code == 2, err
    assert "envs/small.yaml:" in err and "services.api.port" in err and "Traceback" not in err
    assert (small.root.plan_file.read_bytes(), small.root.plan_meta_file.read_bytes()) == (saved, saved_meta)
    env_file.write_text(text)
    assert _ws(two_envs).saved_plan_problem() is None
