"""Waiting for ECS rollouts (cli/rollout.py).

The failure paths moto cannot produce (it never fails a deployment, never stops a
service's tasks, and never moves a rollout on after creation) are tested with
botocore's ``Stubber`` on responses shaped like the ECS API reference:

- ECS API reference, DescribeServices: Deployment.rolloutState. ``services[].deployments[]`` (``Deployment``:
  ``status`` PRIMARY/ACTIVE, ``rolloutState`` IN_PROGRESS/COMPLETED/FAILED,
  ``rolloutStateReason``, ``runningCount``/``desiredCount``/``pendingCount``,
  ``failedTasks``) and ``services[].events[]`` (``ServiceEvent``: id, createdAt, message;
  newest first).
- ECS API reference, ListTasks: ``serviceName`` and ``desiredStatus=STOPPED`` give ``taskArns``.
- ECS API reference, DescribeTasks: ``tasks[].stoppedReason``, ``stopCode``, ``startedBy`` (the deployment
  id for a service's tasks), ``containers[].exitCode`` and ``containers[].reason``.

Two tests run on a real moto server: one whose services are created while the server
has ``MOTO_ECS_SERVICE_RUNNING`` set (moto then reports the deployment COMPLETED), and
one on the shared emulator, where the rollout stays IN_PROGRESS and the wait times out.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from hclforge.cli import emulator
from hclforge.cli.rollout import ServiceProgress, format_progress, wait_for_rollouts
from hclforge.errors import (
    AwsError,
    RolloutFailed,
    RolloutTimeout,
    TaskFailed,
    TaskTimeout,
    UsageError,
    exit_code_for,
)
from tests.daytwo_helpers import create_ecs_service, emu_client

CLUSTER = "sss-dev"
T0 = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
TD1 = "arn:aws:ecs:ap-northeast-1:111111111111:task-definition/sss-dev-api:1"
TD2 = "arn:aws:ecs:ap-northeast-1:111111111111:task-definition/sss-dev-api:2"


class FakeClock:
    """A monotonic clock that only moves when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def stubbed() -> Iterator[tuple[Any, Stubber]]:
    # A discard address: with the Stubber active nothing is sent, and were it not, nothing leaves the host.
    ecs = boto3.session.Session(aws_access_key_id="x", aws_secret_access_key="x", region_name="ap-northeast-1").client(
        "ecs", endpoint_url="http://127.0.0.1:9"
    )
    with Stubber(ecs) as stub:
        yield ecs, stub
        stub.assert_no_pending_responses()


def deployment(
    state: str | None,
    *,
    status: str = "PRIMARY",
    td: str = TD2,
    running: int = 0,
    desired: int = 2,
    pending: int = 0,
    failed: int = 0,
    dep_id: str = "ecs-svc/2222",
    reason: str = "",
) -> dict[str, Any]:
    dep: dict[str, Any] = {
        "id": dep_id,
        "status": status,
        "taskDefinition": td,
        "desiredCount": desired,
        "pendingCount": pending,
        "runningCount": running,
        "failedTasks": failed,
        "createdAt": T0,
    }
    if state is not None:
        dep["rolloutState"] = state
        dep["rolloutStateReason"] = reason or f"ECS deployment {dep_id} {state.lower().replace('_', ' ')}."
    return dep


def service(name: str, deployments: list[dict[str, Any]], events: list[str] | None = None) -> dict[str, Any]:
    """A DescribeServices ``Service``; ``events`` newest first, as ECS lists them."""
    evs = [
        {"id": f"ev-{abs(hash(m)) % 10**8}", "createdAt": T0 + timedelta(seconds=len(events or []) - i), "message": m}
        for i, m in enumerate(events or [])
    ]
    return {
        "serviceName": name,
        "clusterArn": f"arn:aws:ecs:ap-northeast-1:111111111111:cluster/{CLUSTER}",
        "status": "ACTIVE",
        "taskDefinition": deployments[0]["taskDefinition"],
        "deployments": deployments,
        "events": evs,
    }


def describe(stub: Stubber, services: list[dict[str, Any]], names: list[str] | None = None) -> None:
    stub.add_response(
        "describe_services",
        {"services": services, "failures": []},
        {"cluster": CLUSTER, "services": names or [s["serviceName"] for s in services]},
    )


def test_completed_after_in_progress(stubbed: tuple[Any, Stubber]) -> None:
    """IN_PROGRESS at the first poll, COMPLETED at the second: returns, having slept one poll."""
    ecs, stub = stubbed
    started = "(service api) has started 1 tasks"
    describe(stub, [service("api", [deployment("IN_PROGRESS", running=1, pending=1)], [started])])
    describe(stub, [service("api", [deployment("COMPLETED", running=2)])])
    clock, seen = FakeClock(), []
    result = wait_for_rollouts(
        ecs, CLUSTER, ["api"], timeout=60, poll=5, on_progress=seen.append, clock=clock, sleep=clock.sleep
    )
    assert [p.state for p in result] == ["COMPLETED"]
    assert clock.sleeps == [5]
    assert format_progress(seen[0]) == [
        "api  running 1/2 pending 1  IN_PROGRESS  (event: (service api) has started 1 tasks)"
    ]
    assert format_progress(seen[1]) == ["api  running 2/2 pending 0  COMPLETED"]


def test_failed_rollback_names_stopped_tasks_and_exit_code(stubbed: tuple[Any, Stubber]) -> None:
    """Circuit breaker with rollback: the failed deployment is ACTIVE/FAILED beside a new PRIMARY (rollback).

    The error names the service, ``rolloutStateReason``, and each stopped task's
    ``stoppedReason`` and container exit code, preferring tasks the failed deployment started.
    """
    ecs, stub = stubbed
    describe(
        stub,
        [
            service(
                "api",
                [
                    deployment("IN_PROGRESS", td=TD1, running=1, desired=2, pending=1, dep_id="ecs-svc/3333"),
                    deployment(
                        "FAILED",
                        status="ACTIVE",
                        failed=3,
                        reason="ECS deployment circuit breaker: tasks failed to start.",
                    ),
                ],
            )
        ],
    )
    arns = [f"arn:aws:ecs:ap-northeast-1:111111111111:task/{CLUSTER}/{tid}" for tid in ("aaaa1111", "bbbb2222")]
    stub.add_response(
        "list_tasks", {"taskArns": arns}, {"cluster": CLUSTER, "serviceName": "api", "desiredStatus": "STOPPED"}
    )
    stub.add_response(
        "describe_tasks",
        {
            "tasks": [
                {
                    "taskArn": arns[0],
                    "startedBy": "ecs-svc/2222",
                    "stopCode": "EssentialContainerExited",
                    "stoppedReason": "Essential container in task exited",
                    "stoppedAt": T0 + timedelta(minutes=2),
                    "containers": [{"name": "api", "exitCode": 1, "lastStatus": "STOPPED"}],
                },
                {
                    "taskArn": arns[1],
                    "startedBy": "ecs-svc/1111",  # an older deployment's task: not this failure
                    "stoppedReason": "Scaling activity initiated by (deployment ecs-svc/1111)",
                    "stoppedAt": T0,
                    "containers": [{"name": "api", "exitCode": 0, "lastStatus": "STOPPED"}],
                },
            ],
            "failures": [],
        },
        {"cluster": CLUSTER, "tasks": arns},
    )
    clock = FakeClock()
    with pytest.raises(RolloutFailed) as info:
        wait_for_rollouts(ecs, CLUSTER, ["api"], timeout=60, clock=clock, sleep=clock.sleep)
    message = str(info.value)
    assert message.splitlines() == [
        "api: rollout failed: ECS deployment circuit breaker: tasks failed to start.; rolling back to sss-dev-api:1",
        "  task aaaa1111: Essential container in task exited; api exit 1",
    ]
    assert exit_code_for(info.value) == 1


def test_failed_primary_never_started_shows_reason(stubbed: tuple[Any, Stubber]) -> None:
    """PRIMARY ``rolloutState: FAILED`` (no rollback); a container that never ran has no exitCode."""
    ecs, stub = stubbed
    describe(stub, [service("worker", [deployment("FAILED", failed=2, reason="tasks failed to start")])])
    arn = f"arn:aws:ecs:ap-northeast-1:111111111111:task/{CLUSTER}/cccc3333"
    stub.add_response(
        "list_tasks", {"taskArns": [arn]}, {"cluster": CLUSTER, "serviceName": "worker", "desiredStatus": "STOPPED"}
    )
    stub.add_response(
        "describe_tasks",
        {
            "tasks": [
                {
                    "taskArn": arn,
                    "startedBy": "ecs-svc/2222",
                    "stopCode": "TaskFailedToStart",
                    "stoppedReason": "CannotPullContainerError: pull image manifest has been retried 5 time(s)",
                    "containers": [{"name": "worker", "reason": "CannotPullContainerError", "lastStatus": "STOPPED"}],
                }
            ]
        },
        {"cluster": CLUSTER, "tasks": [arn]},
    )
    with pytest.raises(RolloutFailed, match=r"worker: rollout failed: tasks failed to start") as info:
        wait_for_rollouts(ecs, CLUSTER, ["worker"], timeout=60, sleep=lambda s: None)
    message = str(info.value)
    assert "task cccc3333: CannotPullContainerError: pull image manifest has been retried 5 time(s); " in message
    assert "worker exit none (CannotPullContainerError)" in str(info.value)


def test_primary_on_other_task_definition_counts_as_rolled_back(stubbed: tuple[Any, Stubber]) -> None:
    """Once the failed deployment is gone, only the PRIMARY's task definition tells a rollback apart."""
    ecs, stub = stubbed
    describe(stub, [service("api", [deployment("COMPLETED", td=TD1, running=2)])])
    stub.add_response(
        "list_tasks", {"taskArns": []}, {"cluster": CLUSTER, "serviceName": "api", "desiredStatus": "STOPPED"}
    )
    with pytest.raises(RolloutFailed, match=r"runs sss-dev-api:1, not the deployed sss-dev-api:2 \(rolled back\?\)"):
        wait_for_rollouts(ecs, CLUSTER, ["api"], timeout=60, expected_task_definitions={"api": TD2})


def test_timeout_names_every_service_in_progress(stubbed: tuple[Any, Stubber]) -> None:
    ecs, stub = stubbed
    for _ in range(3):  # at t=0, 6, 10 (the last sleep is cut to the deadline)
        describe(
            stub,
            [
                service("api", [deployment("COMPLETED", running=2)]),
                service("worker", [deployment("IN_PROGRESS", running=0, desired=1, pending=1)]),
                service("admin", [deployment("IN_PROGRESS", running=1, desired=2, pending=0)]),
            ],
        )
    clock = FakeClock()
    with pytest.raises(RolloutTimeout) as info:
        wait_for_rollouts(ecs, CLUSTER, ["api", "worker", "admin"], timeout=10, clock=clock, sleep=clock.sleep)
    assert clock.sleeps == [6, 4]
    assert str(info.value) == (
        "rollout not finished after 10s in cluster sss-dev: "
        "worker running 0/1 pending 1 IN_PROGRESS; admin running 1/2 pending 0 IN_PROGRESS"
    )


def test_events_reported_once(stubbed: tuple[Any, Stubber]) -> None:
    """Older events at the first poll are not news; each later event is reported exactly once, oldest first."""
    ecs, stub = stubbed
    dep = deployment("IN_PROGRESS", running=0, desired=1, pending=1)
    e1, e2, e3, e4 = (f"(service api) event {n}" for n in range(1, 5))
    describe(stub, [service("api", [dep], [e2, e1])])
    describe(stub, [service("api", [dep], [e2, e1])])
    describe(stub, [service("api", [dep], [e4, e3, e2, e1])])
    describe(stub, [service("api", [deployment("COMPLETED", running=1, desired=1)], [e4, e3, e2, e1])])
    seen: list[list[ServiceProgress]] = []
    wait_for_rollouts(ecs, CLUSTER, ["api"], timeout=60, on_progress=seen.append, sleep=lambda s: None)
    assert [p[0].new_events for p in seen] == [(e2,), (), (e3, e4), ()]
    assert format_progress(seen[2]) == [
        "api  event: (service api) event 3",
        "api  running 0/1 pending 1  IN_PROGRESS  (event: (service api) event 4)",
    ]


def test_events_since_filters_old_events(stubbed: tuple[Any, Stubber]) -> None:
    ecs, stub = stubbed
    describe(stub, [service("api", [deployment("COMPLETED", running=2)], ["new", "old"])])
    seen: list[list[ServiceProgress]] = []
    wait_for_rollouts(ecs, CLUSTER, ["api"], timeout=1, on_progress=seen.append, events_since=T0 + timedelta(seconds=2))
    assert seen[0][0].new_events == ("new",)


def test_describe_services_in_batches_of_ten(stubbed: tuple[Any, Stubber]) -> None:
    ecs, stub = stubbed
    names = [f"svc{n:02d}" for n in range(12)]
    completed = [deployment("COMPLETED", running=2)]
    describe(stub, [service(n, completed) for n in names[:10]])
    describe(stub, [service(n, completed) for n in names[10:]])
    assert len(wait_for_rollouts(ecs, CLUSTER, names, timeout=1)) == 12


def test_missing_service_is_a_usage_error(stubbed: tuple[Any, Stubber]) -> None:
    ecs, stub = stubbed
    stub.add_response(
        "describe_services",
        {
            "services": [],
            "failures": [{"arn": "arn:aws:ecs:ap-northeast-1:111111111111:service/x", "reason": "MISSING"}],
        },
        {"cluster": CLUSTER, "services": ["api"]},
    )
    with pytest.raises(UsageError, match="no ECS service api in cluster sss-dev"):
        wait_for_rollouts(ecs, CLUSTER, ["api"], timeout=1)


@pytest.mark.parametrize("error", [RolloutFailed, RolloutTimeout, TaskFailed, TaskTimeout, AwsError])
def test_day_two_errors_exit_1(error: type[Exception]) -> None:
    assert exit_code_for(error("x")) == 1


def test_aws_errors_become_aws_error(stubbed: tuple[Any, Stubber]) -> None:
    ecs, stub = stubbed
    stub.add_client_error("describe_services", "AccessDeniedException", "not allowed: ecs:DescribeServices")
    with pytest.raises(AwsError, match=r"ecs describe_services failed: .*AccessDeniedException.*not allowed"):
        wait_for_rollouts(ecs, CLUSTER, ["api"], timeout=1)


@pytest.mark.emulator
def test_moto_rollout_completes_on_the_emulator(moto: emulator.Emulator) -> None:
    """moto starts no tasks: the emulator runs with process shim ecs_services_running
    (hclforge/shims.py), so moto reports that many running and the rollout COMPLETED."""
    svc = create_ecs_service(moto, "rollout-done", "api", "rollout-done-api", desired=2)
    seen: list[list[ServiceProgress]] = []
    result = wait_for_rollouts(
        emu_client(moto, "ecs"), "rollout-done", ["api"], timeout=5, poll=0.1, on_progress=seen.append
    )
    assert [(p.service, p.state, p.desired) for p in result] == [("api", "COMPLETED", 2)]
    assert result[0].running >= 2
    assert result[0].task_definition == svc.task_definition_arn
    assert format_progress(seen[-1])[0].startswith("api  running ")
