"""Ctrl-C during apply: terraform is told, the CLI waits for it, the lock is released, exit 130."""

from __future__ import annotations

import json
import shutil
import signal
from pathlib import Path

import pytest

from hclforge.cli.main import main
from tests.conftest import ROOT, WITHOUT_LOCK, start_apply

pytestmark = [pytest.mark.terraform, pytest.mark.emulator, pytest.mark.slow]


def test_sigint_during_apply(tmp_path: Path) -> None:
    for name in ("envs", "modules"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=WITHOUT_LOCK)
    shutil.copy(ROOT / "hclforge.toml", tmp_path / "hclforge.toml")
    try:
        proc, seen = start_apply(tmp_path, "local", timeout=180)
        proc.send_signal(signal.SIGINT)  # to hclforge only: it must pass it on to terraform
        _, rest = proc.communicate(timeout=180)
        err = "".join(seen) + rest
        assert proc.returncode == 130, err
        assert "interrupted" in err and "Traceback" not in err

        state_dir = tmp_path / ".hclforge/state/local"
        assert not (state_dir / ".terraform.tfstate.lock.info").exists()  # the lock was released
        state = json.loads((state_dir / "terraform.tfstate").read_text())  # state written, and whole
        assert state["resources"], "terraform should have saved what it created before stopping"
        # The environment is usable again at once: no lock left behind.
        assert main(["--root", str(tmp_path), "plan", "local"]) == 0
    finally:
        main(["--root", str(tmp_path), "emulator", "stop"])
