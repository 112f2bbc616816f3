"""SIGTERM, SIGHUP and Ctrl-C during apply: terraform is told, the CLI waits for it, the lock is
released, the state is whole, and the exit code is the signal's (143, 129, 130).

One small stack takes all three in turn: each apply is stopped after its first resource;
the environment plans again at once, and the next apply carries on from the state the last
left. Then deploy on it: stopped in its rollout wait and in its plan, and a second deploy
(of the other service) started between the first's plan and its apply.

Its emulator reports no task running, as ECS does until tasks start, so a rollout stays
IN_PROGRESS and deploy waits (hclforge's emulator otherwise reports every rollout done).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from hclforge import shims
from hclforge.cli import emulator, planapply
from hclforge.cli.main import main
from hclforge.cli.ops import Workspace
from tests.conftest import MINIMAL_ENV, ignore_sigint, start_apply, write_files

pytestmark = [pytest.mark.terraform, pytest.mark.emulator, pytest.mark.slow]
HCLFORGE = str(Path(sys.executable).parent / "hclforge")


def _note(path: Path) -> dict[str, Any]:
    """The record of the running apply ({} when there is none)."""
    return dict(json.loads(path.read_text())) if path.is_file() else {}


def _small(project, monkeypatch) -> Path:
    """A small emulator environment whose services never reach their running count (a rollout waits)."""
    env = json.loads(json.dumps(MINIMAL_ENV))
    env["aws"]["emulator"] = True
    env["network"] = {"create": {"cidr": "10.5.0.0/16", "private_subnets": 2}}
    env["services"]["web"] = {"image": "nginx:1.27"}
    root = project({})
    write_files(root, {"envs/small.yaml": env})
    monkeypatch.setitem(shims.EMULATOR_PROCESS_SHIMS, "ecs_services_running", ("MOTO_ECS_SERVICE_RUNNING", "0"))
    emulator.start(root / ".hclforge", 0)  # the CLI's commands use this one
    return root


def test_sigterm_sighup_and_sigint_stop_apply_gracefully(project, monkeypatch, capsys) -> None:
    root = _small(project, monkeypatch)
    state_dir = root / ".hclforge/state/small"
    # One resource at a time, so each stop leaves the next apply something to do. With
    # terraform's ten at a time, the emulator's creates (tens of ms each) could all finish
    # before hclforge, on a loaded machine, passes the signal on: the next plan would find
    # no changes, and its apply exit 0 before any signal.
    monkeypatch.setenv("TF_CLI_ARGS_apply", "-parallelism=1")
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
    finally:
        main(["--root", str(root), "emulator", "stop"])


def test_deploy_stopped_in_its_wait_or_its_plan_and_a_second_deploy_meanwhile(project, monkeypatch, capsys) -> None:
    """On a stack of its own (a stopped apply's creates cut off in flight leave resources no state holds)."""
    root = _small(project, monkeypatch)
    try:
        _deploy_stopped_in_its_wait_and_its_plan(root)
        _a_second_deploy_between_the_firsts_plan_and_apply(root, monkeypatch, capsys)
    finally:
        main(["--root", str(root), "emulator", "stop"])


def _deploy(root: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [HCLFORGE, "--no-color", "--root", str(root), "deploy", "small", "--auto-approve", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=ignore_sigint,
    )


def _deploy_stopped_in_its_wait_and_its_plan(root: Path) -> None:
    files, state = root / ".hclforge/envs/small", root / ".hclforge/state/small/terraform.tfstate"
    # SIGTERM in the rollout wait: the apply had finished, and the message says so (it said
    # only "aborted (SIGTERM)", as if the deploy had been stopped before anything changed).
    proc = _deploy(root, "--timeout", "10m")
    assert proc.stderr is not None
    seen = []
    for line in proc.stderr:  # plain progress lines: "api  running 0/1 pending 1  IN_PROGRESS"
        seen.append(line)
        if "IN_PROGRESS" in line:
            break
    proc.send_signal(signal.SIGTERM)
    _, rest = proc.communicate(timeout=120)
    err = "".join(seen) + rest
    assert proc.returncode == 143, err
    assert (
        "error: interrupted (SIGTERM) while waiting for the rollouts of api, web: the apply of small had finished ("
        in err
    )
    assert "ECS goes on rolling out; see 'hclforge status small'" in err and "Traceback" not in err
    applied = json.loads(state.read_text())
    assert {r["name"] for r in applied["resources"] if r["type"] == "aws_ecs_service"} == {"api", "web"}
    assert not (files / "plan.tfplan").exists() and not (files / "running.json").exists()

    # Ctrl-C in its plan (once terraform holds the state lock): nothing is applied, and no
    # plan is left behind (terraform had written the stopped plan to plan.tfplan).
    env_file = root / "envs/small.yaml"
    env_file.write_text(env_file.read_text().replace("nginx:1.27", "nginx:1.28"))
    proc = _deploy(root, "--timeout", "10m")
    lock = state.with_name(".terraform.tfstate.lock.info")
    while not lock.exists():
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "interrupted (SIGINT): terraform plan stopped" in err and "Traceback" not in err
    assert json.loads(state.read_text())["serial"] == applied["serial"]
    assert not lock.exists()
    # The stopped plan's log stays, as an apply's does (plan runs detached too: cli/runs.py).
    assert sorted(p.name for p in files.glob("plan*") if not p.name.startswith("plan.log")) == []


def _a_second_deploy_between_the_firsts_plan_and_apply(root: Path, monkeypatch, capsys) -> None:
    """The second deploy fails at once, naming the first; the first applies its own plan.

    (The second planned over the first's saved plan and applied; the first then found no
    plan of its own and planned again, or was refused for the second's plan.)
    """
    capsys.readouterr()
    second: list[subprocess.CompletedProcess[str]] = []
    apply = planapply.apply

    def another_deploy_first(ws: Workspace, **kwargs: Any) -> Any:
        web = [HCLFORGE, "--no-color", "--root", str(root), "deploy", "small", "--service", "web"]
        second.append(subprocess.run([*web, "--auto-approve", "--no-wait"], capture_output=True, text=True))
        return apply(ws, **kwargs)

    monkeypatch.setattr(planapply, "apply", another_deploy_first)
    code = main(
        ["--no-color", "--root", str(root), "deploy", "small", "--service", "api", "--auto-approve", "--no-wait"]
    )
    out, err = capsys.readouterr()
    monkeypatch.setattr(planapply, "apply", apply)
    assert code == 0, err
    assert "applied small: 0 created, 1 updated, 1 replaced, 0 deleted" in out  # api's task definition and service
    assert "planning again" not in err and "no saved plan" not in err
    [web] = second
    assert web.returncode == 1, web.stdout + web.stderr
    assert f"error: the state is locked by hclforge pid {os.getpid()} (deploy), since 20" in web.stderr
    assert "Traceback" not in web.stderr
    # Once the first is done, the second goes through.
    code = main(
        ["--no-color", "--root", str(root), "deploy", "small", "--service", "web", "--auto-approve", "--no-wait"]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "applied small: 0 created, 1 updated, 1 replaced, 0 deleted" in out
