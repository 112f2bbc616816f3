"""What the CLI says on the emulator (issue 21, point 5): it says what it is.

One emulator, started by the first command as a user's would be, holds an ECS
service made with boto3 the way an apply makes it (moto runs no tasks, and reports
the running count it was started with: ``EMULATOR_PROCESS_SHIMS``), and its log
group. The commands run through ``main`` (exit code, stdout, stderr); ``logs
--follow`` and the rollout wait of deploy/apply through the library, on the same
emulator. No terraform runs: ``status`` reads the API endpoint through terraform,
and finding none it shows '-', as before an apply. Each assertion on what is said
failed before this change (the start was silent, an empty read printed nothing,
status said ``running 1000/1 pending -999``, run said ``exit code 0`` and exited 0).
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from hclforge.cli import deploy as lib
from hclforge.cli.emulator import Emulator
from hclforge.cli.ops import Workspace
from hclforge.cli.settings import load_settings
from hclforge.config import load_env
from hclforge.shims import EMULATOR_PROCESS_SHIMS
from tests.conftest import emulator_client, run
from tests.daytwo_helpers import create_ecs_service

pytestmark = pytest.mark.emulator
GROUP = "/ecs/sss-local/api"


def test_day_two_on_the_emulator_says_what_is_emulated(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # terraform is not needed here (status finds no endpoint without it, as before an apply).
    monkeypatch.setenv("HCLFORGE_TERRAFORM", "terraform-is-not-needed-here")

    # The first command that needs the emulator starts it, and says so once: which process, how to stop it.
    code, out, err = run(repo, capsys, "logs", "local", "api")
    assert code == 2 and f"no log group {GROUP}" in err
    record = json.loads((repo / ".hclforge/emulator.json").read_text())
    assert (
        f"started the local AWS emulator (moto server, pid {record['pid']}) on http://127.0.0.1:{record['port']}; "
        "it keeps running in the background for the next commands: stop it with 'hclforge emulator stop'"
    ) in err
    emu = Emulator(int(record["pid"]), int(record["port"]))

    # logs of an empty group: said on stderr, stdout stays empty for pipes; the second command says no start.
    logs = emulator_client(repo, "logs")
    logs.create_log_group(logGroupName=GROUP)
    code, out, err = run(repo, capsys, "logs", "local", "api", "--since", "1h")
    assert (code, out) == (0, "")
    assert err == (
        f"no log events in {GROUP} in the last 1h "
        "(the emulator runs no containers: only events put there by hand show)\n"
    )
    # --follow says it after its first poll, and goes on waiting (here: stops after that poll).
    ws = Workspace(load_settings(repo), "local")
    said: list[str] = []
    assert list(lib.log_lines(ws, "api", follow_logs=True, stop=lambda: True, on_empty=said.append)) == []
    assert said == [
        f"no log events in {GROUP} in the last 10m (the emulator runs no containers: only events put there "
        "by hand show); waiting for new ones (Ctrl-C stops)"
    ]
    logs.create_log_stream(logGroupName=GROUP, logStreamName="ecs/api/0123456789abcdef")
    now = int(time.time() * 1000)
    logs.put_log_events(
        logGroupName=GROUP,
        logStreamName="ecs/api/0123456789abcdef",
        logEvents=[{"timestamp": now, "message": "hello"}],
    )
    code, out, err = run(repo, capsys, "logs", "local", "api")
    assert code == 0 and out.endswith("  01234567  hello\n") and err == ""

    # status: the desired count, marked emulated; never the emulator's running count.
    cfg = load_env(repo, "local").config
    create_ecs_service(emu, cfg.cluster_name, "api", cfg.task_family("api"), desired=1)
    faked = int(EMULATOR_PROCESS_SHIMS["ecs_services_running"][1])
    ecs = emulator_client(repo, "ecs")
    assert ecs.describe_services(cluster=cfg.cluster_name, services=["api"])["services"][0]["runningCount"] == faked
    code, out, err = run(repo, capsys, "status", "local")
    assert code == 0, err
    api = next(line for line in out.splitlines() if line.startswith("service api:"))
    assert api == "service api: COMPLETED  desired 1, emulated (the emulator runs no tasks)  autoscaling fixed 1"
    assert max(int(n) for n in re.findall(r"-?\d+", api)) <= 1
    assert "service web: not in the cluster" in out
    code, out, _ = run(repo, capsys, "status", "local", "--json")
    row = next(s for s in json.loads(out)["services"] if s["service"] == "api")
    assert (row["desired"], row["running"], row["pending"], row["emulated"]) == (1, None, None, True)
    # The wait of deploy and apply shows its progress the same way.
    said = []
    lib.wait_services(ws, ["api"], timeout=30, since=None, on_progress=lib.progress_printer(said.append), poll=0)
    assert said == ["api  desired 1, emulated  COMPLETED"]

    # run, waiting: the command never ran, and run does not say it exited 0.
    code, out, err = run(repo, capsys, "run", "local", "api", "--", "echo", "hi")
    task = out.strip().rsplit("/", 1)[-1]
    assert code == 1 and out.startswith("arn:aws:ecs:"), err
    assert err == (
        f"error: on the emulator no container runs: task {task} was started, but its command (echo hi) "
        "did not run and has no exit code; run it against AWS for a real one\n"
    )
    # run --no-wait: the task ARN (what was asked for), and the same truth on stderr.
    code, out, err = run(repo, capsys, "run", "local", "api", "--no-wait", "--", "echo", "hi")
    task = out.strip().rsplit("/", 1)[-1]
    assert code == 0 and out.startswith("arn:aws:ecs:")
    assert err == (
        f"on the emulator no container runs: task {task} was started, but its command (echo hi) will not run\n"
    )
