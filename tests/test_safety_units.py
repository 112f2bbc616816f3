"""Fast checks of the safety mechanisms: the protected-types table, summaries of removed services,
the signal exit codes, the bounded account check and a validate that needs no emulator."""

from __future__ import annotations

import json
import signal
import socket
import time

import pytest

from hclforge import protect, render
from hclforge.cli import awsaccess
from hclforge.cli.ops import Workspace
from hclforge.cli.settings import load_settings
from hclforge.cli.summary import summarize, summarize_events
from hclforge.cli.workcopy import protected_resources
from hclforge.errors import (
    EXIT_SIGHUP,
    EXIT_SIGINT,
    EXIT_SIGTERM,
    Interrupted,
    TerraformError,
    exit_code_for,
)
from tests.conftest import MINIMAL_ENV, ROOT


def test_the_protected_types_are_exactly_those_rendered_with_prevent_destroy() -> None:
    files = render.render(ROOT, "prod").files
    marked = set()
    for text in files.values():
        current = None
        for line in text.splitlines():
            if line.startswith("resource "):
                current = line.split('"')[1]
            elif line.strip() == "prevent_destroy = true":
                marked.add(current)
    assert marked == set(protect.PROTECTED_TYPES)
    listed = {rtype for resources in protected_resources(ROOT / "modules/prod").values() for rtype, _ in resources}
    assert listed == set(protect.PROTECTED_TYPES)


def _event(addr: str, action: str, module: str = "module.ecs") -> dict[str, object]:
    rtype, name = addr.split(".")[-2:]
    return {
        "type": "planned_change",
        "change": {
            "action": action,
            "resource": {"addr": addr, "module": module, "resource_type": rtype, "resource_name": name},
        },
    }


REMOVED_WORKER = [
    _event("module.ecs.aws_cloudwatch_log_group.worker", "delete"),
    _event("module.ecs.aws_ecs_service.worker", "delete"),
    _event("module.ecs.aws_ecs_task_definition.worker", "delete"),
    _event("module.ecs.aws_security_group.worker", "delete"),
    _event("module.iam.aws_iam_role.task_worker", "delete", "module.iam"),
    _event("module.ecs.aws_ecs_cluster.this", "update"),
    _event("module.ecs.aws_cloudwatch_log_group.api", "replace"),
    _event("module.ecs.aws_security_group.api", "delete"),
]


def test_deletions_of_protected_types_are_refused_even_without_their_blocks() -> None:
    assert protect.refused(protect.changes_of_events(REMOVED_WORKER)) == [
        "module.ecs.aws_cloudwatch_log_group.api",
        "module.ecs.aws_cloudwatch_log_group.worker",
    ]
    plan = {
        "resource_changes": [
            {"mode": "managed", "address": "module.ecs.aws_ecs_cluster.this", "change": {"actions": ["delete"]}},
            {
                "mode": "managed",
                "address": "module.a.module.b.aws_apigatewayv2_api.this[0]",
                "change": {"actions": ["create", "delete"]},
            },
            {"mode": "managed", "address": "module.ecs.aws_cloudwatch_log_group.x", "change": {"actions": ["update"]}},
            {"mode": "data", "address": "data.aws_ecs_cluster.x", "change": {"actions": ["delete"]}},
        ]
    }
    assert protect.refused(protect.changes_of_plan(plan)) == [
        "module.a.module.b.aws_apigatewayv2_api.this[0]",
        "module.ecs.aws_ecs_cluster.this",
    ]


def test_protected_resources_whose_blocks_are_gone_are_found_in_the_prior_state() -> None:
    state = {
        "resources": [
            {
                "mode": "managed",
                "module": "module.ecs",
                "type": "aws_cloudwatch_log_group",
                "name": "worker",
                "instances": [{}],
            },
            {
                "mode": "managed",
                "module": "module.ecs",
                "type": "aws_cloudwatch_log_group",
                "name": "api",
                "instances": [{}],
            },
            {
                "mode": "managed",
                "module": "module.ecs",
                "type": "aws_ecs_cluster",
                "name": "this",
                "instances": [{"index_key": 0}],
            },
            {"mode": "managed", "module": "module.ecs", "type": "aws_ecs_service", "name": "worker", "instances": [{}]},
            {"mode": "data", "type": "aws_ecs_cluster", "name": "x", "instances": [{}]},
        ]
    }
    configured = ["module.ecs.aws_cloudwatch_log_group.api", "module.ecs.aws_ecs_cluster.this"]
    assert protect.removed_blocks(state, configured) == ["module.ecs.aws_cloudwatch_log_group.worker"]
    assert protect.removed_blocks(None, configured) == []


def test_a_removed_services_rows_are_filed_under_it() -> None:
    summary = summarize_events("prod", REMOVED_WORKER, ["api"])
    rows = {(r.module, r.service): r for r in summary.rows}
    assert rows[("ecs", "worker")].delete == 4
    assert rows[("iam", "worker")].delete == 1
    assert rows[("ecs", "-")].update == 1
    assert rows[("ecs", "api")].delete == 1 and rows[("ecs", "api")].replace == 1
    plan = {
        "resource_changes": [
            {
                "mode": "managed",
                "module_address": "module.ecs",
                "name": "worker",
                "address": "module.ecs.aws_ecs_service.worker",
                "change": {"actions": ["delete"]},
            },
            {
                "mode": "managed",
                "module_address": "module.ecs",
                "name": "worker_egress",
                "address": "module.ecs.aws_security_group_rule.worker_egress",
                "change": {"actions": ["delete"]},
            },
        ]
    }
    assert [(r.module, r.service, r.delete) for r in summarize("prod", plan, ["api"]).rows] == [("ecs", "worker", 2)]


def test_signals_have_their_exit_codes_in_the_one_table() -> None:
    assert (EXIT_SIGHUP, EXIT_SIGINT, EXIT_SIGTERM) == (129, 130, 143)
    assert exit_code_for(Interrupted("x")) == 130
    assert exit_code_for(Interrupted("x", signum=signal.SIGTERM)) == 143
    assert exit_code_for(Interrupted("x", signum=signal.SIGHUP)) == 129


def test_a_sigint_stops_hclforge_even_when_it_was_started_with_sigint_ignored(tmp_path) -> None:
    """A script's background job (``nohup bash -c``, ``cmd &``) starts hclforge with SIGINT ignored.

    Python then leaves it ignored: a CI run so started saw a SIGINT to a running apply go
    unnoticed while terraform applied on (tests/test_interrupt.py starts hclforge so now).
    Here: after hclforge takes its signals, a SIGINT must end a wait with KeyboardInterrupt (130).
    """
    import subprocess
    import sys

    from tests.conftest import ignore_sigint

    script = (
        "import sys, time\n"
        "from hclforge.cli import main as m\n"
        "m._graceful_signals()\n"
        "try:\n"  # 'ready' inside: a SIGINT just after it is caught too
        "    print('ready', flush=True)\n"
        "    time.sleep(60)\n"
        "except KeyboardInterrupt:\n"
        "    sys.exit(130)\n"
        "sys.exit(0)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, preexec_fn=ignore_sigint, cwd=tmp_path
    )
    assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=30) == 130


def test_the_account_check_gives_up_on_a_dead_sts_endpoint_quickly_and_names_it(project, monkeypatch) -> None:
    env = json.loads(json.dumps(MINIMAL_ENV))
    env["aws"]["account_id"] = "111111111111"
    root = project({"envs/demo.yaml": env})
    # A server that accepts connections and never answers.
    with socket.socket() as dead:
        dead.bind(("127.0.0.1", 0))
        dead.listen(16)
        endpoint = f"http://127.0.0.1:{dead.getsockname()[1]}"
        for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("AWS_ENDPOINT_URL_STS", endpoint)
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
        monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
        # The real bound: 3 attempts of at most connect + read timeout each, under 30 s.
        cfg = awsaccess.STS_CLIENT_CONFIG
        assert cfg["retries"]["total_max_attempts"] * (cfg["connect_timeout"] + cfg["read_timeout"]) < 30
        monkeypatch.setattr(awsaccess, "STS_CLIENT_CONFIG", {**cfg, "connect_timeout": 1, "read_timeout": 1})
        started = time.monotonic()
        with pytest.raises(TerraformError, match=f"STS at {endpoint}"):
            Workspace(load_settings(root), "demo").check_account()
        assert time.monotonic() - started < 10


@pytest.mark.terraform
def test_the_readme_documents_every_exit_code() -> None:
    import re

    from hclforge import errors

    documented = {int(code) for code in re.findall(r"^\| (\d+) \|", (ROOT / "README.md").read_text(), flags=re.M)}
    codes = {value for name, value in vars(errors).items() if name.startswith("EXIT_")}
    assert codes <= documented


def test_the_command_lock_names_its_holder_and_ends_with_it(tmp_path) -> None:
    """cli/envlock.py: a second command fails at once, naming the first; a holder killed -9 leaves no lock."""
    import os
    import subprocess
    import sys

    from hclforge.cli import envlock
    from hclforge.errors import StateLocked

    path = tmp_path / ".hclforge/envs/small/command.lock"
    hold = (
        "import sys, time\nfrom pathlib import Path\nfrom hclforge.cli import envlock\n"
        "with envlock.holding(Path(sys.argv[1]), 'small', 'deploy'):\n"
        "    print('held', flush=True)\n    time.sleep(600)\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", hold, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        with pytest.raises(StateLocked) as info, envlock.holding(path, "small", "plan"):
            pass
        assert str(info.value).startswith(f"the state is locked by hclforge pid {holder.pid} (deploy), since 20")
        assert "planning or applying small in this project; try again when it is done" in str(info.value)
    finally:
        holder.kill()
        holder.wait()
    with envlock.holding(path, "small", "plan"):  # the holder was killed -9: its lock went with it
        assert json.loads(path.read_text())["pid"] == os.getpid()
    assert path.read_text() == ""  # and an unheld lock names no one
    assert path.stat().st_mode & 0o777 == 0o600
