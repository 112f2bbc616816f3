"""SIGTERM, SIGHUP and Ctrl-C during apply: terraform is told, the CLI waits for it, the lock is
released, the state is whole, and the exit code is the signal's (143, 129, 130).

One small stack takes all three in turn: each apply is stopped after its first resource;
the environment plans again at once, and the next apply carries on from the state the last
left.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

import pytest

from hclforge.cli.main import main
from tests.conftest import MINIMAL_ENV, start_apply, write_files

pytestmark = [pytest.mark.terraform, pytest.mark.emulator, pytest.mark.slow]


def _note(path: Path) -> dict[str, Any]:
    """The record of the running apply ({} when there is none)."""
    return dict(json.loads(path.read_text())) if path.is_file() else {}


def test_sigterm_sighup_and_sigint_stop_apply_gracefully(project) -> None:
    env = json.loads(json.dumps(MINIMAL_ENV))
    env["aws"]["emulator"] = True
    env["network"] = {"create": {"cidr": "10.5.0.0/16", "private_subnets": 2}}
    root = project({})
    write_files(root, {"envs/small.yaml": env})
    state_dir = root / ".hclforge/state/small"
    stopped = False
    try:
        # SIGTERM and SIGHUP go to hclforge only, as a CI cancel does; SIGINT too: hclforge must
        # pass it on to terraform (a terminal's Ctrl-C would reach both).
        for signum, code in ((signal.SIGTERM, 143), (signal.SIGHUP, 129), (signal.SIGINT, 130)):
            name = signal.Signals(signum).name
            if stopped:  # the environment plans again at once (the stopped apply's plan is stale)
                assert main(["--root", str(root), "plan", "small"]) == 0, name
            proc, seen = start_apply(root, "small")
            note = _note(root / ".hclforge/envs/small/running.json")
            proc.send_signal(signum)
            _, rest = proc.communicate(timeout=240)
            err = "".join(seen) + rest
            assert proc.returncode == code, f"{name}: {err}"
            assert note["command"] == "apply", name
            assert f"interrupted ({name})" in err and "Traceback" not in err, err
            # terraform and its provider are gone, the lock released, the state written and whole.
            with pytest.raises(ProcessLookupError):
                os.kill(note["pid"], 0)
            assert not (root / ".hclforge/envs/small/running.json").exists(), name
            assert not (state_dir / ".terraform.tfstate.lock.info").exists(), name
            assert json.loads((state_dir / "terraform.tfstate").read_text())["resources"], name
            stopped = True
        # The environment is usable again at once: no lock left behind.
        assert main(["--root", str(root), "plan", "small"]) == 0
    finally:
        main(["--root", str(root), "emulator", "stop"])
