"""``hclforge exec``: the task is found through ECS, the session is the AWS CLI's.

moto starts no tasks for a service, so the running-task case uses a ListTasks
response shaped as in the ECS API reference (ListTasks: ``taskArns``), through
botocore's Stubber; the refusals run against the real emulator.
"""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber

from hclforge.cli.execute import exec_plan
from hclforge.cli.main import main
from hclforge.config import load_env
from hclforge.errors import UsageError
from tests.conftest import ROOT

TASK = "arn:aws:ecs:ap-northeast-1:111111111111:task/sss-dev/0123456789abcdef0123456789abcdef"


def _ecs(tasks: list[str]):
    client = boto3.client("ecs", region_name="ap-northeast-1", aws_access_key_id="x", aws_secret_access_key="x")
    stub = Stubber(client)
    stub.add_response(
        "list_tasks",
        {"taskArns": tasks},
        {"cluster": "sss-dev", "serviceName": "api", "desiredStatus": "RUNNING"},
    )
    stub.activate()
    return client


def test_exec_builds_the_execute_command_line(monkeypatch) -> None:
    monkeypatch.setattr("shutil.which", lambda tool: f"/usr/bin/{tool}")
    plan = exec_plan(load_env(ROOT, "dev").config, _ecs([TASK]), "api", ["python", "-m", "shell"])
    assert plan.argv == [
        "aws", "ecs", "execute-command", "--region", "ap-northeast-1", "--cluster", "sss-dev",
        "--task", TASK, "--container", "api", "--interactive", "--command", "python -m shell",
    ]  # fmt: skip
    assert plan.env == {"AWS_PROFILE": "sss-dev"}
    assert plan.missing == []


def test_exec_names_what_is_missing(monkeypatch) -> None:
    monkeypatch.setattr("shutil.which", lambda tool: None if tool == "session-manager-plugin" else "/usr/bin/aws")
    plan = exec_plan(load_env(ROOT, "dev").config, _ecs([TASK]), "api", [])
    assert plan.command_line.startswith("AWS_PROFILE=sss-dev aws ecs execute-command --region ap-northeast-1")
    assert plan.command_line.endswith("--interactive --command /bin/sh")
    assert len(plan.missing) == 1 and plan.missing[0].startswith("session-manager-plugin (")


def test_exec_without_a_running_task_is_refused() -> None:
    with pytest.raises(UsageError, match="no running task of api in cluster sss-dev"):
        exec_plan(load_env(ROOT, "dev").config, _ecs([]), "api", [])


def test_exec_refusals_need_no_aws(capsys) -> None:
    # Checked before any client is made: no emulator starts, no credentials are read.
    # local's services do not set exec: true.
    assert main(["--root", str(ROOT), "exec", "local", "api"]) == 2
    err = capsys.readouterr().err
    assert "ECS Exec is off for api: set services.api.exec: true, then apply" in err
    assert main(["--root", str(ROOT), "exec", "local", "nope"]) == 2
    assert "no service 'nope' in local" in capsys.readouterr().err
