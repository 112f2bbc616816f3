"""Saved-plan integrity: apply refuses a plan when anything it depends on changed, and says what.

The applied stack is then reused: after an emulator restart its state is set aside.
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
from hclforge.errors import PlanRefused
from tests.conftest import MINIMAL_ENV

pytestmark = [pytest.mark.terraform, pytest.mark.emulator]


@pytest.fixture
def ws_root(project) -> Iterator[Path]:
    env = json.loads(json.dumps(MINIMAL_ENV))
    env["aws"]["emulator"] = True
    env["network"] = {"create": {"cidr": "10.7.0.0/16", "private_subnets": 1}}
    root = project({"envs/small.yaml": env})
    yield root
    emulator.stop(root / ".hclforge")


def _ws(root: Path) -> Workspace:
    return Workspace(load_settings(root), "small")


@pytest.mark.slow
def test_each_kind_of_staleness_is_named(ws_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ws = _ws(ws_root)
    planapply.plan(ws)
    assert _ws(ws_root).saved_plan_problem() is None

    lock = ws.root.work_dir / ".terraform.lock.hcl"
    original = lock.read_text()
    lock.write_text(original + "\n# edited\n")
    assert _ws(ws_root).saved_plan_problem() == "the provider versions (.terraform.lock.hcl) changed since the plan"
    lock.write_text(original)

    meta = json.loads(ws.root.plan_meta_file.read_text())
    real_version = meta["terraform"]
    ws.root.plan_meta_file.write_text(json.dumps({**meta, "terraform": "1.0.0"}))
    assert _ws(ws_root).saved_plan_problem() == f"terraform changed since the plan (1.0.0 -> {real_version})"
    ws.root.plan_meta_file.write_text(json.dumps(meta))

    outputs = ws.root.work_dir / "outputs.tf"
    text = outputs.read_text()
    outputs.write_text(text + "\n")
    assert "the rendered tree modules/small/ changed" in str(_ws(ws_root).saved_plan_problem())
    outputs.write_text(text)

    # Keep the plan aside, apply another one, then bring the first back: the state moved on.
    aside = ws_root / "aside"
    aside.mkdir()
    for path in (ws.root.plan_file, ws.root.plan_meta_file):
        shutil.copy(path, aside / path.name)
    planapply.apply(_ws(ws_root), auto_approve=True, interactive=False, confirm=lambda _s: True)
    for path in (ws.root.plan_file, ws.root.plan_meta_file):
        shutil.copy(aside / path.name, path)
    assert _ws(ws_root).saved_plan_problem() == "the state changed since the plan (someone applied in between)"
    with pytest.raises(PlanRefused, match="the saved plan is stale: the state changed since the plan"):
        planapply.apply(_ws(ws_root), auto_approve=True, interactive=False, confirm=lambda _s: True)

    # The emulator restarts empty: state written against the earlier one would make terraform
    # refresh resources that are gone, so it is set aside and the plan starts from empty state.
    state = ws_root / ".hclforge/state/small/terraform.tfstate"
    created = len(json.loads(state.read_text())["resources"])
    assert created
    emulator.stop(ws_root / ".hclforge")
    code = main(["--no-color", "--root", str(ws_root), "plan", "small", "--detailed-exitcode"])
    out, err = capsys.readouterr()
    assert code == 3, err
    assert "Plan for small:" in out
    assert "the emulator was restarted: its resources are gone, so small starts from empty state" in err
    assert list(state.parent.glob("terraform.tfstate.void-*"))
    assert not state.exists() or not json.loads(state.read_text()).get("resources")
