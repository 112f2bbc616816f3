"""What a plan reads: on an S3 backend, the state once (terraform's own read), and the saved plan is
bound to it; in a run of a split environment's roots, the rendered tree once for all of them.

A split environment plans a root per service, so a read per plan is paid per root:
``make bench`` measures it (bench/results.md, the split environments).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from hclforge import tree
from hclforge.cli import splitrun, workcopy
from hclforge.cli.main import main
from hclforge.cli.ops import Workspace
from hclforge.cli.settings import load_settings
from hclforge.roots import RootLayout
from tests.conftest import MINIMAL_ENV, ROOT, emulator_client, logged_terraform

BUCKET = "reads-state"
KEY = "demo/reads/terraform.tfstate"


def empty_state(serial: int) -> str:
    return json.dumps(
        {
            "version": 4,
            "terraform_version": "1.10.0",
            "serial": serial,
            "lineage": "reads-lineage",
            "outputs": {},
            "resources": [],
            "check_results": None,
        }
    )


@pytest.fixture
def reads(project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, Path]]:
    """An emulator environment on an S3 backend, and the log of every terraform command hclforge runs."""
    env = json.loads(json.dumps(MINIMAL_ENV))
    env.update({"aws": {"region": "eu-west-1", "emulator": True}, "backend": {"type": "s3", "bucket": BUCKET}})
    env["network"] = {"create": {"cidr": "10.9.0.0/16", "private_subnets": 1}}
    root = project({"envs/reads.yaml": env})
    yield root, logged_terraform(tmp_path, monkeypatch)
    main(["--root", str(root), "emulator", "stop"])


@pytest.mark.terraform
@pytest.mark.emulator
def test_a_plan_on_s3_reads_the_state_once_and_is_bound_to_it(reads: tuple[Path, Path], capsys) -> None:
    """Before: hclforge ran `terraform state pull` before each plan, a second terraform process
    (about a CPU-second) that read the state terraform's plan reads again; a protected
    environment still did, until its removed blocks were read from the plan file."""
    root, log = reads
    assert main(["--root", str(root), "bootstrap", "reads"]) == 0
    s3 = emulator_client(root, "s3", "eu-west-1")
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=empty_state(7).encode())

    assert main(["--root", str(root), "plan", "reads"]) == 0, capsys.readouterr().err
    commands = [
        " ".join(line.split()[:2]) if line.startswith("state ") else line.split()[0]
        for line in log.read_text().splitlines()
    ]
    assert "state pull" not in commands
    assert commands.count("plan") == 1
    meta = json.loads((root / ".hclforge/envs/reads/plan.meta.json").read_text())
    assert meta["state"] == {"lineage": "reads-lineage", "serial": 7}  # the state terraform planned against

    # Still bound to it: someone applies in between, and the saved plan is refused.
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=empty_state(8).encode())
    capsys.readouterr()
    assert main(["--root", str(root), "apply", "reads", "--auto-approve"]) == 1
    assert "the state changed since the plan (someone applied in between)" in capsys.readouterr().err

    # Protected, the same: the resources whose blocks are gone come from the plan's stored state.
    env_file = root / "envs/reads.yaml"
    env_file.write_text(env_file.read_text(encoding="utf-8") + "protect: true\n", encoding="utf-8")
    log.write_text("")
    assert main(["--root", str(root), "plan", "reads"]) == 0, capsys.readouterr().err
    commands = [" ".join(line.split()[:2]) for line in log.read_text().splitlines()]
    assert "state pull" not in commands and [c for c in commands if c.startswith("plan ")], commands


def test_a_run_of_the_roots_checks_the_render_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The check digests every file of modules/<env>/: each root checked it, 201 times for 200 services."""
    root = tmp_path / "p"
    shutil.copytree(ROOT / "tests/fixtures/split", root, ignore=shutil.ignore_patterns(".terraform", ".hclforge"))
    env_file = root / "envs/_base.yaml"
    env_file.write_text(env_file.read_text().replace("shop-api:1.0.0", "shop-api:1.0.1"))
    checks: list[str] = []

    def is_fresh(*args: object) -> bool:  # the real check, counted
        checks.append(str(args[1]))
        return tree.is_fresh(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(workcopy, "is_fresh", is_fresh)
    settings = load_settings(root)
    said: list[str] = []

    def make(layout: RootLayout) -> Workspace:
        return Workspace(settings, "team", info=said.append, layout=layout)

    cfg = Workspace(settings, "team").loaded.config
    run = splitrun.runs_of(make, "team", cfg)
    assert [r.name for r in run.roots] == ["shared", "services/api", "services/payments", "services/worker"]
    assert [r.workspace.render() for r in run.roots if r.workspace is not None] == [[], [], [], []]
    assert checks == ["team"]
    assert said == ["rendered modules/team/ (1 files changed)"]  # the stale YAML was rendered, before any root ran
    assert "shop-api:1.0.1" in (root / "modules/team/services/api/ecs/main.tf").read_text()
