"""One binding between plan and apply: what was reviewed is what is applied, or apply refuses and says why.

One small stack takes it all in turn (one emulator, one init): an edit made while planning;
another environment's plan put in place of the saved one; a YAML edit between plan and
apply that breaks the YAML; then each kind of staleness (provider versions, terraform,
the tree, the state), the apply, and an emulator restart, after which the state is set aside.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from hclforge.cli import emulator, planapply
from hclforge.cli.main import main
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


@pytest.mark.slow
def test_apply_refuses_a_plan_other_than_the_one_reviewed_and_says_why(
    two_envs: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _an_edit_made_while_planning_makes_the_plan_stale(two_envs, monkeypatch)
    _a_plan_file_put_in_place_of_the_saved_one_is_refused(two_envs, capsys)
    _each_kind_of_staleness_is_named(two_envs, capsys)


def _an_edit_made_while_planning_makes_the_plan_stale(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_plan = Terraform.plan
    env_file = root / "envs/small.yaml"

    def plan_while_someone_edits(self: Terraform, out: Path, **kwargs: object) -> bool:
        changed = real_plan(self, out, **kwargs)
        # The YAML is edited and rendered while terraform is still planning.
        env_file.write_text(env_file.read_text().replace("nginx:1.27", "nginx:1.28"))
        _ws(root).render()
        return changed

    monkeypatch.setattr(Terraform, "plan", plan_while_someone_edits)
    planapply.plan(_ws(root))
    monkeypatch.setattr(Terraform, "plan", real_plan)
    assert _ws(root).saved_plan_problem() == "the environment's YAML changed since the plan"
    with pytest.raises(PlanRefused, match="the saved plan is stale: the environment's YAML changed"):
        _apply(root)


def _a_plan_file_put_in_place_of_the_saved_one_is_refused(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    planapply.plan(_ws(root, "other"))
    small = _ws(root)
    planapply.plan(small)
    assert _ws(root).saved_plan_problem() is None
    other = _ws(root, "other")
    saved, saved_meta = small.root.plan_file.read_bytes(), small.root.plan_meta_file.read_bytes()

    shutil.copyfile(other.root.plan_file, small.root.plan_file)
    problem = _ws(root).saved_plan_problem()
    assert problem is not None and "is not the one hclforge planned (its SHA-256 differs" in problem
    with pytest.raises(PlanRefused, match="SHA-256 differs"):
        _apply(root)

    # The metadata copied along with it names the other environment.
    shutil.copyfile(other.root.plan_meta_file, small.root.plan_meta_file)
    assert _ws(root).saved_plan_problem() == "the saved plan was made for environment 'other', not 'small'"

    # Nothing of other's was applied into small's state.
    assert not (root / ".hclforge/state/small/terraform.tfstate").exists() or not json.loads(
        (root / ".hclforge/state/small/terraform.tfstate").read_text()
    ).get("resources")
    small.root.plan_file.write_bytes(saved)
    small.root.plan_meta_file.write_bytes(saved_meta)
    assert _ws(root).saved_plan_problem() is None

    # A YAML edit between the plan and its apply that breaks the YAML: refused with the place,
    # the saved plan kept; once the edit is undone, the saved plan is fresh again.
    env_file = root / "envs/small.yaml"
    text = env_file.read_text()
    env_file.write_text(text.replace("port: 80", "port: 80x"))
    code, _, err = run(root, capsys, "apply", "small", "--auto-approve")
    assert code == 2, err
    assert "envs/small.yaml:" in err and "services.api.port" in err and "Traceback" not in err
    assert (small.root.plan_file.read_bytes(), small.root.plan_meta_file.read_bytes()) == (saved, saved_meta)
    env_file.write_text(text)
    assert _ws(root).saved_plan_problem() is None


def _each_kind_of_staleness_is_named(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """On the fresh saved plan left above: each input it depends on, changed in turn, is named."""
    ws = _ws(root)
    assert ws.saved_plan_problem() is None

    lock = ws.root.work_dir / ".terraform.lock.hcl"
    original = lock.read_text()
    lock.write_text(original + "\n# edited\n")
    assert _ws(root).saved_plan_problem() == "the provider versions (.terraform.lock.hcl) changed since the plan"
    lock.write_text(original)

    meta = json.loads(ws.root.plan_meta_file.read_text())
    real_version = meta["terraform"]
    ws.root.plan_meta_file.write_text(json.dumps({**meta, "terraform": "1.0.0"}))
    assert _ws(root).saved_plan_problem() == f"terraform changed since the plan (1.0.0 -> {real_version})"
    ws.root.plan_meta_file.write_text(json.dumps(meta))

    outputs = ws.root.work_dir / "outputs.tf"
    text = outputs.read_text()
    outputs.write_text(text + "\n")
    assert "the rendered tree modules/small/ changed" in str(_ws(root).saved_plan_problem())
    outputs.write_text(text)

    # Keep the plan aside, apply another one, then bring the first back: the state moved on.
    aside = root / "aside"
    aside.mkdir()
    for path in (ws.root.plan_file, ws.root.plan_meta_file):
        shutil.copy(path, aside / path.name)
    _apply(root)
    for path in (ws.root.plan_file, ws.root.plan_meta_file):
        shutil.copy(aside / path.name, path)
    assert _ws(root).saved_plan_problem() == "the state changed since the plan (someone applied in between)"
    with pytest.raises(PlanRefused, match="the saved plan is stale: the state changed since the plan"):
        _apply(root)

    # The emulator restarts empty: state written against the earlier one would make terraform
    # refresh resources that are gone, so it is set aside and the plan starts from empty state.
    state = root / ".hclforge/state/small/terraform.tfstate"
    created = len(json.loads(state.read_text())["resources"])
    assert created
    emulator.stop(root / ".hclforge")
    capsys.readouterr()
    code = main(["--no-color", "--root", str(root), "plan", "small", "--detailed-exitcode"])
    out, err = capsys.readouterr()
    assert code == 3, err
    assert "Plan for small:" in out
    assert "the emulator was restarted: its resources are gone, so small starts from empty state" in err
    assert list(state.parent.glob("terraform.tfstate.void-*"))
    assert not state.exists() or not json.loads(state.read_text()).get("resources")
