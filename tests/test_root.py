"""A root is the unit of work: where its tree, working files, state and saved plan are.

The layout on disk is the one hclforge has always used (a saved plan, a data dir or a
state file left by an earlier version is found where it was), and the rooms below the
workspace work on a bare :class:`~hclforge.cli.root.Root`, with no workspace at all.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from hclforge.cli import binding, runs
from hclforge.cli.ops import Workspace
from hclforge.cli.root import Root, env_root
from hclforge.cli.settings import Settings, load_settings
from hclforge.model import BackendConfig
from tests.conftest import MINIMAL_ENV

S3 = {"type": "s3", "bucket": "demo-state"}


def _layout(root: Root) -> dict[str, Any]:
    def rel(path: Path | None) -> str | None:
        return None if path is None else path.relative_to(root.project_dir).as_posix()

    return {
        "work": rel(root.work_dir),
        "data": rel(root.data_dir),
        "plan": rel(root.plan_file),
        "meta": rel(root.plan_meta_file),
        "stamp": rel(root.init_stamp),
        "lock": rel(root.provider_lock),
        "running": rel(runs.running_note(root)),
        "command_lock": rel(root.command_lock),
        "state": rel(root.state_file),
        "key": root.state_key,
    }


E = ".hclforge/envs/dev"


@pytest.mark.parametrize(
    ("env", "flags", "expected"),
    [
        (
            {},
            {},
            {
                "work": "modules/dev",
                "data": f"{E}/tfdata",
                "plan": f"{E}/plan.tfplan",
                "meta": f"{E}/plan.meta.json",
                "stamp": f"{E}/init.stamp",
                "lock": "modules/dev/.terraform.lock.hcl",
                "running": f"{E}/running.json",
                "command_lock": f"{E}/command.lock",
                "state": ".hclforge/state/dev/terraform.tfstate",
                "key": None,
            },
        ),
        (
            {},
            {"emulator": True},
            {
                "work": f"{E}/emulator-tree",
                "data": f"{E}/emulator-tfdata",
                "plan": f"{E}/emulator.tfplan",
                "meta": f"{E}/emulator.meta.json",
                "stamp": f"{E}/emulator-init.stamp",
                "lock": f"{E}/emulator-tree/.terraform.lock.hcl",
                "running": f"{E}/emulator-running.json",
                "command_lock": f"{E}/emulator-command.lock",
                "state": f"{E}/emulator.tfstate",
                "key": None,
            },
        ),
        (
            {"backend": S3},
            {"allow_replace": True},
            {
                "work": f"{E}/unprotected-tree",
                "data": f"{E}/unprotected-tfdata",
                "plan": f"{E}/unprotected.tfplan",
                "meta": f"{E}/unprotected.meta.json",
                "stamp": f"{E}/unprotected-init.stamp",
                "lock": f"{E}/unprotected-tree/.terraform.lock.hcl",
                "running": f"{E}/running.json",
                "command_lock": f"{E}/command.lock",
                "state": None,
                "key": "demo/dev/terraform.tfstate",
            },
        ),
        (
            {"backend": S3},
            {"emulator": True, "allow_replace": True},
            {
                "work": f"{E}/emulator-unprotected-tree",
                "data": f"{E}/emulator-unprotected-tfdata",
                "plan": f"{E}/emulator-unprotected.tfplan",
                "meta": f"{E}/emulator-unprotected.meta.json",
                "stamp": f"{E}/emulator-unprotected-init.stamp",
                "lock": f"{E}/emulator-unprotected-tree/.terraform.lock.hcl",
                "running": f"{E}/emulator-running.json",
                "command_lock": f"{E}/emulator-command.lock",
                "state": f"{E}/emulator.tfstate",
                "key": None,
            },
        ),
        (
            # An emulator environment run with --emulator needs no copy.
            {"aws": {"region": "eu-west-1", "emulator": True}},
            {"emulator": True},
            {
                "work": "modules/dev",
                "data": f"{E}/tfdata",
                "plan": f"{E}/plan.tfplan",
                "meta": f"{E}/plan.meta.json",
                "stamp": f"{E}/init.stamp",
                "lock": "modules/dev/.terraform.lock.hcl",
                "running": f"{E}/running.json",
                "command_lock": f"{E}/command.lock",
                "state": ".hclforge/state/dev/terraform.tfstate",
                "key": None,
            },
        ),
    ],
    ids=["local", "emulator-copy", "s3-unprotected", "s3-emulator-unprotected", "emulator-env"],
)
def test_an_environment_is_one_root_where_its_files_always_were(
    project, env: dict[str, Any], flags: dict[str, bool], expected: dict[str, Any]
) -> None:
    root_dir = project({"envs/dev.yaml": {**MINIMAL_ENV, **env}})
    root = Workspace(load_settings(root_dir), "dev", **flags).root
    assert (root.env, root.name, root.tree_dir) == ("dev", "", root_dir.resolve() / "modules/dev")
    assert _layout(root) == expected


def test_a_forced_destroy_moves_the_workspace_to_the_unprotected_copy(project) -> None:
    ws = Workspace(load_settings(project({"envs/dev.yaml": MINIMAL_ENV})), "dev")
    assert ws.root.work_dir.name == "dev"
    ws.lift_protection()
    assert ws.allow_replace and ws.root.unprotected
    assert ws.root.work_dir.name == "unprotected-tree"


def _planned(tmp_path: Path) -> Root:
    """A root with a saved plan and its metadata, as ``plan`` leaves them (no terraform)."""
    root = env_root(Settings(root=tmp_path), "dev", BackendConfig())
    root.files_dir.mkdir(parents=True)
    root.plan_file.write_bytes(b"a plan")
    meta = {"env": "dev", "plan_sha256": binding.sha256_file(root.plan_file), "targets": []}
    root.plan_meta_file.write_text(json.dumps(meta), encoding="utf-8")
    return root


def test_the_saved_plan_is_checked_on_a_bare_root(tmp_path: Path) -> None:
    root = _planned(tmp_path)
    assert binding.file_problem(root) is None
    assert binding.file_problem(root, targets=["module.ecs.aws_ecs_service.api"]) == (
        "the saved plan covers the whole environment, not what this command applies"
    )
    root.plan_file.write_bytes(b"another plan")
    assert binding.file_problem(root) == (
        "the plan file .hclforge/envs/dev/plan.tfplan is not the one hclforge planned "
        "(its SHA-256 differs from the one recorded)"
    )
    meta = binding.saved_meta(root)
    root.plan_meta_file.write_text(json.dumps({**meta, "env": "prod"}), encoding="utf-8")
    assert binding.file_problem(root) == "the saved plan was made for environment 'prod', not 'dev'"
    assert binding.terraform_problem({"terraform": "1.9.0"}, "1.9.1") == (
        "terraform changed since the plan (1.9.0 -> 1.9.1)"
    )
    binding.discard_plan(root)
    assert binding.file_problem(root) == binding.NO_SAVED_PLAN
    assert not root.plan_file.exists() and not root.plan_meta_file.exists()


def test_a_run_left_behind_is_settled_on_a_bare_root(tmp_path: Path) -> None:
    """The record of an apply whose hclforge died: said how it ended, and its spent plan thrown away."""
    root = _planned(tmp_path)
    log = root.files_dir / "apply.1.log"
    log.write_text("Apply complete! Resources: 1 added, 0 changed, 0 destroyed.\n", encoding="utf-8")
    note = {
        "command": "apply",
        "pid": 0,  # no process: it has ended
        "hclforge_pid": 0,
        "hclforge_start_time": 0,
        "started": "2026-12-01 10:00:00 UTC",
        "log": str(log),
        "plan_sha256": binding.saved_meta(root)["plan_sha256"],
    }
    runs.running_note(root).write_text(json.dumps(note), encoding="utf-8")
    said: list[str] = []
    assert runs.settle_interrupted_run(root, said.append) == note
    assert said == [
        f"an apply of dev started at 2026-12-01 10:00:00 UTC by pid 0 finished after hclforge stopped watching it; "
        f"its log is {log}",
        "its saved plan is spent; planning again from the state it left",
    ]
    assert binding.file_problem(root) == binding.NO_SAVED_PLAN
    assert not runs.running_note(root).exists()
