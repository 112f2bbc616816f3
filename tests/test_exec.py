"""``hclforge exec``: the task is found through ECS, the session is the AWS CLI's.

moto starts no tasks for a service, so the running-task case uses a ListTasks
response shaped as in the ECS API reference (ListTasks: ``taskArns``), through
botocore's Stubber; the refusals run against the real emulator.
"""

from __future__ import annotations

import os

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


def test_exec_on_the_emulator_never_hands_the_users_credentials_to_the_aws_cli(monkeypatch) -> None:
    """The AWS CLI pointed at the emulator gets the emulator's scrubbed environment, not the shell's.

    Before, it ran with the user's environment plus --endpoint-url: real keys and profile signed
    requests to 127.0.0.1.
    """
    monkeypatch.setattr("shutil.which", lambda tool: f"/usr/bin/{tool}")
    user = {"AWS_PROFILE": "prod-admin", "AWS_ACCESS_KEY_ID": "AKIAREALKEY", "AWS_SESSION_TOKEN": "t", "PATH": "/x"}
    endpoint = "http://127.0.0.1:45123"
    plan = exec_plan(load_env(ROOT, "dev").config, _ecs([TASK]), "api", [], endpoint=endpoint)
    assert plan.argv[3:5] == ["--endpoint-url", endpoint]
    env = plan.process_env(user)
    assert env["AWS_ACCESS_KEY_ID"] == "test" and env["AWS_ENDPOINT_URL"] == endpoint
    assert "AWS_PROFILE" not in env and "AWS_SESSION_TOKEN" not in env
    assert env["AWS_CONFIG_FILE"] == env["AWS_SHARED_CREDENTIALS_FILE"] == os.devnull
    # Against AWS, the user's environment stays, with the environment's profile.
    dev = exec_plan(load_env(ROOT, "dev").config, _ecs([TASK]), "api", [])
    assert dev.process_env(user) == {**user, "AWS_PROFILE": "sss-dev"}


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
