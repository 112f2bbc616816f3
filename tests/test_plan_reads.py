"""What a plan reads: on an S3 backend, the state once (terraform's own read), and the saved plan is
bound to it.

A split environment plans a root per service, so a read per plan is paid per root:
``make bench`` measures it (bench/results.md, the split environments).
"""

from __future__ import annotations

import json
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from hclforge.cli.main import main
from tests.conftest import MINIMAL_ENV, emulator_client

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
    log = tmp_path / "terraform-commands.log"
    terraform = shutil.which("terraform")
    assert terraform is not None
    wrapper = tmp_path / "bin/terraform"
    wrapper.parent.mkdir()
    # The real terraform runs; each command line is written down first.
    wrapper.write_text(f'#!/bin/sh\necho "$*" >> "{log}"\nexec "{terraform}" "$@"\n', encoding="utf-8")
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("HCLFORGE_TERRAFORM", str(wrapper))
    yield root, log
    main(["--root", str(root), "emulator", "stop"])


@pytest.mark.terraform
@pytest.mark.emulator
def test_a_plan_on_s3_reads_the_state_once_and_is_bound_to_it(reads: tuple[Path, Path], capsys) -> None:
    """Before: hclforge ran `terraform state pull` before each plan, a second terraform process
    (about a CPU-second) that read the state terraform's plan reads again."""
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
