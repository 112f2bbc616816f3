"""Saved-plan integrity: apply refuses a plan when anything it depends on changed, and says what."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from hclforge.cli import emulator
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
def test_each_kind_of_staleness_is_named(ws_root: Path) -> None:
    ws = _ws(ws_root)
    ws.plan()
    assert _ws(ws_root).saved_plan_problem() is None

    lock = ws.work_dir / ".terraform.lock.hcl"
    original = lock.read_text()
    lock.write_text(original + "\n# edited\n")
    assert _ws(ws_root).saved_plan_problem() == "the provider versions (.terraform.lock.hcl) changed since the plan"
    lock.write_text(original)

    meta = json.loads(ws.plan_meta_file.read_text())
    real_version = meta["terraform"]
    ws.plan_meta_file.write_text(json.dumps({**meta, "terraform": "1.0.0"}))
    assert _ws(ws_root).saved_plan_problem() == f"terraform changed since the plan (1.0.0 -> {real_version})"
    ws.plan_meta_file.write_text(json.dumps(meta))

    outputs = ws.work_dir / "outputs.tf"
    text = outputs.read_text()
    outputs.write_text(text + "\n")
    assert "the rendered tree modules/small/ changed" in str(_ws(ws_root).saved_plan_problem())
    outputs.write_text(text)

    # Keep the plan aside, apply another one, then bring the first back: the state moved on.
    aside = ws_root / "aside"
    aside.mkdir()
    for path in (ws.plan_file, ws.plan_meta_file):
        shutil.copy(path, aside / path.name)
    _ws(ws_root).apply(auto_approve=True, interactive=False, confirm=lambda _s: True)
    for path in (ws.plan_file, ws.plan_meta_file):
        shutil.copy(aside / path.name, path)
    assert _ws(ws_root).saved_plan_problem() == "the state changed since the plan (someone applied in between)"
    with pytest.raises(PlanRefused, match="the saved plan is stale: the state changed since the plan"):
        _ws(ws_root).apply(auto_approve=True, interactive=False, confirm=lambda _s: True)
