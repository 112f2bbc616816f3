"""One-off tasks (cli/runtask.py).

Exit codes are tested with botocore's ``Stubber`` on DescribeTasks responses shaped
like the ECS API reference (DescribeTasks: ``tasks[].lastStatus``, ``stoppedReason``,
``stopCode``, ``containers[].exitCode`` (absent when the container never ran) and
``containers[].reason``), because moto gives every container exit code 0. The
RunTask request itself is checked against DescribeServices' ``networkConfiguration.
awsvpcConfiguration`` and ``capacityProviderStrategy`` and DescribeTaskDefinition's
``taskDefinitionArn``. One test starts a task from a service created on moto.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from hclforge.cli import emulator
from hclforge.cli.runtask import run_task, wait_stopped
from hclforge.config import load_env
from hclforge.errors import TaskFailed, TaskTimeout, UsageError, exit_code_for
from hclforge.model import EnvConfig
from tests.daytwo_helpers import create_ecs_service, emu_client

CLUSTER = "demo-dev"
TD = "arn:aws:ecs:eu-west-1:111111111111:task-definition/demo-dev-api:7"
TASK = f"arn:aws:ecs:eu-west-1:111111111111:task/{CLUSTER}/5e1f0c2d9a8b4c7d6e5f4a3b2c1d0e9f"

Project = Callable[[dict[str, Any]], Path]


def env_config(project: Project, name: str = "demo") -> EnvConfig:
    root = project(
        {
            "envs/dev.yaml": {
                "project": name,
                "aws": {"region": "eu-west-1"},
                "network": {"vpc_id": "vpc-0123456789abcdef0", "private_subnet_ids": ["subnet-0123456789abcdef0"]},
                "cluster": {"capacity_providers": ["FARGATE", "FARGATE_SPOT"]},
                "services": {
                    "api": {"image": "nginx:1.27", "port": 80, "capacity": {"FARGATE": {"base": 1, "weight": 1}}}
                },
            }
        }
    )
    return load_env(root, "dev").config


@pytest.fixture
def stubbed() -> Iterator[tuple[Any, Stubber]]:
    # A discard address: with the Stubber active nothing is sent, and were it not, nothing leaves the host.
    ecs = boto3.session.Session(aws_access_key_id="x", aws_secret_access_key="x", region_name="eu-west-1").client(
        "ecs", endpoint_url="http://127.0.0.1:9"
    )
    with Stubber(ecs) as stub:
        yield ecs, stub
        stub.assert_no_pending_responses()


def service_response(**extra: Any) -> dict[str, Any]:
    svc = {
        "serviceName": "api",
        "status": "ACTIVE",
        "taskDefinition": TD.replace(":7", ":6"),
        "networkConfiguration": {
            "awsvpcConfiguration": {
                "subnets": ["subnet-0aaa", "subnet-0bbb"],
                "securityGroups": ["sg-0ccc"],
                "assignPublicIp": "DISABLED",
            }
        },
        **extra,
    }
    return {"services": [svc], "failures": []}


def taskdef_response(containers: tuple[str, ...] = ("api", "otel")) -> dict[str, Any]:
    return {
        "taskDefinition": {
            "taskDefinitionArn": TD,
            "family": "demo-dev-api",
            "revision": 7,
            "containerDefinitions": [{"name": n, "image": "nginx:1.27"} for n in containers],
        }
    }


def test_run_task_uses_the_services_network_capacity_and_latest_revision(
    stubbed: tuple[Any, Stubber], project: Project
) -> None:
    ecs, stub = stubbed
    strategy = [{"capacityProvider": "FARGATE_SPOT", "weight": 3, "base": 0}]
    stub.add_response(
        "describe_services",
        service_response(capacityProviderStrategy=strategy),
        {"cluster": CLUSTER, "services": ["api"]},
    )
    stub.add_response("describe_task_definition", taskdef_response(), {"taskDefinition": "demo-dev-api"})
    stub.add_response(
        "run_task",
        {"tasks": [{"taskArn": TASK, "lastStatus": "PROVISIONING"}], "failures": []},
        {
            "cluster": CLUSTER,
            "taskDefinition": TD,
            "count": 1,
            "startedBy": "hclforge-run",
            "networkConfiguration": {
                "awsvpcConfiguration": {
                    "subnets": ["subnet-0aaa", "subnet-0bbb"],
                    "securityGroups": ["sg-0ccc"],
                    "assignPublicIp": "DISABLED",
                }
            },
            "capacityProviderStrategy": strategy,
            "overrides": {"containerOverrides": [{"name": "api", "command": ["python", "-m", "migrate"]}]},
        },
    )
    spec = run_task(ecs, env_config(project), "api", ["python", "-m", "migrate"])
    assert spec.task_arn == TASK and spec.task_definition == TD
    assert spec.log_stream_prefix == "ecs/api/5e1f0c2d9a8b4c7d6e5f4a3b2c1d0e9f"


def test_run_task_without_reported_strategy_uses_the_yaml(stubbed: tuple[Any, Stubber], project: Project) -> None:
    """moto reports no strategy (and launchType EC2): the YAML's capacity mix is used instead."""
    ecs, stub = stubbed
    stub.add_response(
        "describe_services", service_response(launchType="EC2"), {"cluster": CLUSTER, "services": ["api"]}
    )
    stub.add_response("describe_task_definition", taskdef_response(), {"taskDefinition": TD.replace(":7", ":6")})
    stub.add_response(
        "run_task",
        {"tasks": [], "failures": [{"arn": TD, "reason": "RESOURCE:CPU", "detail": "no capacity"}]},
        {
            "cluster": CLUSTER,
            "taskDefinition": TD,
            "count": 1,
            "startedBy": "hclforge-run",
            "networkConfiguration": {
                "awsvpcConfiguration": {
                    "subnets": ["subnet-0ddd"],
                    "securityGroups": ["sg-0ccc"],
                    "assignPublicIp": "DISABLED",
                }
            },
            "capacityProviderStrategy": [{"capacityProvider": "FARGATE", "base": 1, "weight": 1}],
        },
    )
    with pytest.raises(TaskFailed, match=r"ECS did not start a task of api: RESOURCE:CPU \(no capacity\)") as info:
        run_task(ecs, env_config(project), "api", [], subnets=["subnet-0ddd"], revision="service")
    assert exit_code_for(info.value) == 1


def test_run_task_refuses_unknown_service_and_missing_container(stubbed: tuple[Any, Stubber], project: Project) -> None:
    ecs, stub = stubbed
    cfg = env_config(project)
    with pytest.raises(UsageError, match=r"no service 'web' in dev \(services: api\)"):
        run_task(ecs, cfg, "web", ["true"])
    stub.add_response("describe_services", service_response(), {"cluster": CLUSTER, "services": ["api"]})
    stub.add_response("describe_task_definition", taskdef_response(("app",)), {"taskDefinition": "demo-dev-api"})
    with pytest.raises(UsageError, match=r"task definition demo-dev-api:7 has no container api \(containers: app\)"):
        run_task(ecs, cfg, "api", ["true"])


def described(status: str, *, exit_code: int | None = None, reason: str = "", stop_code: str = "") -> dict[str, Any]:
    container: dict[str, Any] = {"name": "api", "lastStatus": status}
    if exit_code is not None:
        container["exitCode"] = exit_code
    if reason:
        container["reason"] = reason
    task: dict[str, Any] = {"taskArn": TASK, "lastStatus": status, "containers": [container]}
    if status == "STOPPED":
        task["stoppedReason"] = "Essential container in task exited" if exit_code is not None else reason
        task["stopCode"] = stop_code or ("EssentialContainerExited" if exit_code is not None else "TaskFailedToStart")
    return {"tasks": [task], "failures": []}


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.mark.parametrize("code", [0, 3])
def test_wait_stopped_returns_the_containers_exit_code(stubbed: tuple[Any, Stubber], code: int) -> None:
    ecs, stub = stubbed
    for status in ("PROVISIONING", "RUNNING", "RUNNING", "STOPPED"):
        stub.add_response(
            "describe_tasks",
            described(status, exit_code=code if status == "STOPPED" else None),
            {"cluster": CLUSTER, "tasks": [TASK]},
        )
    statuses: list[str] = []
    clock = FakeClock()
    result = wait_stopped(
        ecs, CLUSTER, TASK, 60, container="api", on_status=statuses.append, clock=clock, sleep=clock.sleep
    )
    assert (result.exit_code, result.stopped_reason, result.stop_code) == (
        code,
        "Essential container in task exited",
        "EssentialContainerExited",
    )
    assert statuses == ["PROVISIONING", "RUNNING", "STOPPED"]
    assert clock.now == 18


def test_wait_stopped_never_ran_names_stopped_reason(stubbed: tuple[Any, Stubber]) -> None:
    """No ``exitCode``: the container never started; the error names ``stoppedReason``, it is not exit 0."""
    ecs, stub = stubbed
    reason = "ResourceInitializationError: unable to pull secrets or registry auth"
    stub.add_response("describe_tasks", described("STOPPED", reason=reason), {"cluster": CLUSTER, "tasks": [TASK]})
    with pytest.raises(TaskFailed) as info:
        wait_stopped(ecs, CLUSTER, TASK, 60, container="api")
    assert str(info.value) == (
        "container api has no exit code: it never ran. task 5e1f0c2d9a8b4c7d6e5f4a3b2c1d0e9f: "
        f"{reason}; api exit none ({reason})"
    )


def test_wait_stopped_times_out(stubbed: tuple[Any, Stubber]) -> None:
    ecs, stub = stubbed
    for _ in range(3):
        stub.add_response("describe_tasks", described("RUNNING"), {"cluster": CLUSTER, "tasks": [TASK]})
    clock = FakeClock()
    with pytest.raises(TaskTimeout, match=r"task 5e1f0c2d9a8b4c7d6e5f4a3b2c1d0e9f still RUNNING after 10 s"):
        wait_stopped(ecs, CLUSTER, TASK, 10, container="api", poll=5, clock=clock, sleep=clock.sleep)


@pytest.mark.emulator
def test_moto_run_task_from_a_service(moto: emulator.Emulator, project: Project) -> None:
    """A service created on moto: run_task reads its network, starts a task, and wait_stopped sees it stop.

    moto keeps every task RUNNING until StopTask and reports exit code 0 for every
    container, so only the happy path can be shown here.
    """
    cfg = env_config(project, "runtask")
    svc = create_ecs_service(moto, cfg.cluster_name, "api", cfg.task_family("api"))
    ecs = emu_client(moto, "ecs")  # the same region as create_ecs_service; the YAML region does not matter here
    spec = run_task(ecs, cfg, "api", ["echo", "hello"])
    assert spec.task_arn.startswith("arn:aws:ecs:") and f"/{cfg.cluster_name}/" in spec.task_arn
    assert spec.task_definition == svc.task_definition_arn
    task = ecs.describe_tasks(cluster=cfg.cluster_name, tasks=[spec.task_arn])["tasks"][0]
    assert task["overrides"]["containerOverrides"] == [{"name": "api", "command": ["echo", "hello"]}]
    assert task["startedBy"] == "hclforge-run"
    ecs.stop_task(cluster=cfg.cluster_name, task=spec.task_arn, reason="done by the test")
    result = wait_stopped(ecs, cfg.cluster_name, spec.task_arn, 5, container="api", poll=0.1)
    assert (result.exit_code, result.stopped_reason) == (0, "done by the test")
