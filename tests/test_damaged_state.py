"""``drift`` and ``status`` on a damaged state file: they say what is wrong, and write nothing.

A local state is written in place, so a full disk or a killed copy can leave it cut short
or empty. terraform then refuses it at its lock ("Error acquiring the state lock", with
no one holding the lock), or, for an empty file, reads it as no state at all.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from hclforge.cli import emulator
from tests.conftest import MINIMAL_ENV, run

pytestmark = [pytest.mark.terraform, pytest.mark.emulator]
# A state as terraform writes it (format 4): its endpoint output is what status shows.
STATE = {
    "version": 4,
    "terraform_version": "1.11.4",
    "serial": 7,
    "lineage": "5f0c3c52-8a4e-4f3e-9d55-0d7f3f7e1a01",
    "outputs": {"api_endpoint": {"value": "https://abc123.execute-api.eu-west-1.amazonaws.com", "type": "string"}},
    "resources": [],
    "check_results": None,
}


@pytest.fixture
def small(project) -> Iterator[Path]:
    env = json.loads(json.dumps(MINIMAL_ENV))
    env["aws"]["emulator"] = True
    env["network"] = {"create": {"cidr": "10.8.0.0/16", "private_subnets": 1}}
    root = project({"envs/small.yaml": env})
    yield root
    emulator.stop(root / ".hclforge")


def test_drift_and_status_on_a_cut_or_empty_state(small: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state = small / ".hclforge/state/small/terraform.tfstate"
    state.parent.mkdir(parents=True)
    whole = json.dumps(STATE, indent=2).encode()
    state.write_bytes(whole)
    code, out, err = run(small, capsys, "status", "small")
    assert code == 0, err
    assert f"api endpoint: {STATE['outputs']['api_endpoint']['value']}" in out  # the state is read

    # Cut short: drift fails naming the damage (no one holds a lock), status says it cannot read it.
    state.write_bytes(whole[:200])
    code, out, err = run(small, capsys, "drift", "small")
    assert code == 1, out + err
    assert "the state is locked" not in err and "force-unlock" not in err
    assert "could not read the state" in err and "syntax error at byte offset 200" in err
    assert "terraform.tfstate.backup" in err  # where a local state's last good copy is
    assert "Traceback" not in err
    code, out, err = run(small, capsys, "status", "small")
    assert code == 0, err
    assert "api endpoint: -" in out and "service api: not in the cluster" in out
    assert "warning: the api endpoint is unknown" in err and "Unsupported state file format" in err
    assert state.read_bytes() == whole[:200]  # nothing was written over it

    # Empty: terraform reads it as no state; drift does not call that "matches the state".
    state.write_bytes(b"")
    code, out, err = run(small, capsys, "drift", "small")
    assert code == 0, err
    assert "matches the state" not in out
    assert "No drift in small: its state holds no resources, so there is nothing to compare" in out
    assert state.read_bytes() == b""
