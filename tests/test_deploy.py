"""Day-two commands (issue 12): set-image, deploy, status, logs, run.

The round trip on the emulator is in tests/test_life.py; the failure paths
(a FAILED rollout, a timeout, a non-zero container exit code), which moto cannot
produce, run the library functions against botocore's Stubber with response
shapes of the ECS API reference (DescribeServices, ListTasks, DescribeTasks,
RunTask).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from hclforge.cli import deploy as lib
from hclforge.cli.runtask import TaskSpec
from hclforge.config import load_env
from hclforge.errors import RolloutFailed, RolloutTimeout, TaskExitCode, exit_code_for
from tests.conftest import ROOT

NEW_IMAGE = "111111111111.dkr.ecr.ap-northeast-1.amazonaws.com/sss-api:1.5.0"


# ----------------------------------------------------------------- library units


def test_rollout_services_from_plan_events() -> None:
    def change(kind: str, name: str, action: str) -> dict[str, Any]:
        return {
            "type": "planned_change",
            "change": {"action": action, "resource": {"resource_type": kind, "resource_name": name}},
        }

    events = [
        change("aws_ecs_task_definition", "api", "replace"),
        change("aws_cloudwatch_log_group", "web", "update"),
        change("aws_ecs_service", "my_worker", "update"),
        change("aws_ecs_service", "web", "delete"),
    ]
    assert lib.rollout_services(events, ["api", "web", "my-worker"]) == ["api", "my-worker"]
    # In the environment's order, whatever the order of the events.
    assert lib.rollout_services(events[::-1], ["api", "web", "my-worker"]) == ["api", "my-worker"]


def test_service_targets_and_unknown_service() -> None:
    cfg = load_env(ROOT, "local").config
    assert lib.service_targets(cfg, ["api"]) == [
        "module.ecs.aws_ecs_service.api",
        "module.ecs.aws_ecs_task_definition.api",
    ]
    with pytest.raises(lib.UsageError):
        lib.service_targets(cfg, ["nope"])


def test_task_exit_code_is_read_from_the_instance() -> None:
    assert exit_code_for(TaskExitCode(3)) == 3
    assert exit_code_for(TaskExitCode(255)) == 255
    assert exit_code_for(TaskExitCode(0)) == 1  # never "success" for an error
    assert exit_code_for(TaskExitCode(300)) == 1


def _ecs() -> Any:
    return boto3.client("ecs", region_name="ap-northeast-1", aws_access_key_id="x", aws_secret_access_key="x")


def _workspace(ecs: Any, logs: Any = None, *, on_emulator: bool = True) -> Any:
    cfg = load_env(ROOT, "local").config
    clients = {"ecs": ecs, "logs": logs}
    return SimpleNamespace(
        env="local", loaded=SimpleNamespace(config=cfg), on_emulator=on_emulator, aws_client=clients.__getitem__
    )


CLUSTER = "sss-local"
TD_NEW = "arn:aws:ecs:ap-northeast-1:111111111111:task-definition/sss-local-api:8"


def _service(state: str, reason: str, running: int) -> dict[str, Any]:
    """DescribeServices ``services[]`` (ECS API reference: Service, Deployment)."""
    return {
        "serviceName": "api",
        "serviceArn": f"arn:aws:ecs:ap-northeast-1:111111111111:service/{CLUSTER}/api",
        "status": "ACTIVE",
        "desiredCount": 2,
        "runningCount": running,
        "pendingCount": 0,
        "taskDefinition": TD_NEW,
        "deployments": [
            {
                "id": "ecs-svc/1111",
                "status": "PRIMARY",
                "taskDefinition": TD_NEW,
                "desiredCount": 2,
                "pendingCount": 0,
                "runningCount": running,
                "failedTasks": 2 if state == "FAILED" else 0,
                "rolloutState": state,
                "rolloutStateReason": reason,
                "createdAt": datetime(2026, 11, 27, 12, 0, tzinfo=UTC),
            }
        ],
        "events": [],
    }


def test_deploy_wait_fails_with_the_reason_and_stopped_tasks() -> None:
    ecs = _ecs()
    task = f"arn:aws:ecs:ap-northeast-1:111111111111:task/{CLUSTER}/abc123"
    reason = "ECS deployment circuit breaker: tasks failed to start."
    with Stubber(ecs) as stub:
        stub.add_response("describe_services", {"services": [_service("FAILED", reason, 0)], "failures": []})
        stub.add_response(
            "list_tasks", {"taskArns": [task]}, {"cluster": CLUSTER, "serviceName": "api", "desiredStatus": "STOPPED"}
        )
        stub.add_response(
            "describe_tasks",
            {
                "tasks": [
                    {
                        "taskArn": task,
                        "lastStatus": "STOPPED",
                        "stopCode": "TaskFailedToStart",
                        "stoppedReason": "CannotPullContainerError: pull access denied",
                        "startedBy": "ecs-svc/1111",
                        "containers": [{"name": "api", "lastStatus": "STOPPED", "reason": "image not found"}],
                    }
                ],
                "failures": [],
            },
            {"cluster": CLUSTER, "tasks": [task]},
        )
        with pytest.raises(RolloutFailed) as info:
            lib.wait_services(_workspace(ecs), ["api"], timeout=60, since=None, poll=0)
    assert "api" in str(info.value) and reason in str(info.value)
    assert "CannotPullContainerError" in str(info.value)
    assert exit_code_for(info.value) == 1


def test_deploy_wait_times_out_naming_the_service() -> None:
    ecs = _ecs()
    with Stubber(ecs) as stub:
        stub.add_response("describe_services", {"services": [_service("IN_PROGRESS", "", 1)], "failures": []})
        with pytest.raises(RolloutTimeout) as info:
            lib.wait_services(_workspace(ecs), ["api"], timeout=0, since=None, poll=0)
    assert "api" in str(info.value) and "running 1/2" in str(info.value)
    assert exit_code_for(info.value) == 1


def test_run_exits_with_the_containers_exit_code() -> None:
    ecs = _ecs()
    logs = boto3.client("logs", region_name="ap-northeast-1", aws_access_key_id="x", aws_secret_access_key="x")
    task = f"arn:aws:ecs:ap-northeast-1:111111111111:task/{CLUSTER}/feed1234"
    stopped = {
        "taskArn": task,
        "lastStatus": "STOPPED",
        "stopCode": "EssentialContainerExited",
        "stoppedReason": "Essential container in task exited",
        "containers": [{"name": "api", "lastStatus": "STOPPED", "exitCode": 3}],
    }
    calls: list[str] = []

    def fake_run_task(_ecs: Any, _cfg: Any, service: str, command: Any) -> Any:
        calls.append(service)
        return TaskSpec(task, TD_NEW, "api", "ecs/api/feed1234")

    with Stubber(ecs) as stub, Stubber(logs) as log_stub, pytest.MonkeyPatch.context() as mp:
        from hclforge.cli import oneoff

        mp.setattr(oneoff, "run_task", fake_run_task)
        # follow: one FilterLogEvents, then the stop check (DescribeTasks: STOPPED)
        log_stub.add_response(
            "filter_log_events",
            {"events": [{"logStreamName": "ecs/api/feed1234", "timestamp": 1, "message": "boom", "eventId": "e1"}]},
        )
        stub.add_response("describe_tasks", {"tasks": [stopped], "failures": []})
        stub.add_response("describe_tasks", {"tasks": [stopped], "failures": []})  # wait_stopped
        log_stub.add_response("filter_log_events", {"events": []})  # the last read
        lines: list[str] = []
        with pytest.raises(TaskExitCode) as info:
            # Responses as AWS gives them: not the emulator, whose containers never run.
            ws = _workspace(ecs, logs, on_emulator=False)
            lib.run_one(ws, "api", ["false"], on_line=lines.append, poll=0, sleep=lambda _s: None)
    assert calls == ["api"]
    assert exit_code_for(info.value) == 3
    assert "exited with code 3" in str(info.value)
    assert any("boom" in line for line in lines)


def test_status_reads_services_schedules_and_alarms() -> None:
    """prod: a missing cluster, a schedule (EventBridge Scheduler GetSchedule), an alarm in ALARM (DescribeAlarms)."""
    cfg = load_env(ROOT, "prod").config
    keys = {"region_name": "ap-northeast-1", "aws_access_key_id": "x", "aws_secret_access_key": "x"}
    ecs, scheduler, cloudwatch = (boto3.client(s, **keys) for s in ("ecs", "scheduler", "cloudwatch"))
    ws = SimpleNamespace(
        env="prod",
        on_emulator=False,
        loaded=SimpleNamespace(config=cfg),
        aws_client={"ecs": ecs, "scheduler": scheduler, "cloudwatch": cloudwatch}.__getitem__,
        outputs=lambda: {"api_endpoint": {"value": "https://api.example.com/"}},
    )
    alarm = f"{cfg.prefix}-api-cpu"
    with Stubber(ecs) as e, Stubber(scheduler) as s, Stubber(cloudwatch) as c:
        e.add_response(
            "describe_clusters", {"clusters": [], "failures": [{"arn": cfg.cluster_name, "reason": "MISSING"}]}
        )
        s.add_response(
            "get_schedule",
            {
                "Name": f"{cfg.prefix}-nightly-report",
                "ScheduleExpression": "cron(0 18 * * ? *)",
                "ScheduleExpressionTimezone": "Asia/Tokyo",
                "State": "ENABLED",
                "FlexibleTimeWindow": {"Mode": "OFF"},
                "Target": {
                    "Arn": "arn:aws:ecs:ap-northeast-1:222222222222:cluster/x",
                    "RoleArn": "arn:aws:iam::2:role/r",
                },
            },
            {"Name": f"{cfg.prefix}-nightly-report"},
        )
        c.add_response(
            "describe_alarms",
            {"MetricAlarms": [{"AlarmName": alarm, "StateValue": "ALARM", "StateReason": "Threshold Crossed"}]},
            {"AlarmNamePrefix": f"{cfg.prefix}-", "StateValue": "ALARM"},
        )
        doc = lib.status(ws)
    text = "\n".join(lib.status_lines(doc))
    assert "service api: not in the cluster" in text
    assert "api endpoint: https://api.example.com/" in text
    assert "schedule nightly-report (api): cron(0 18 * * ? *) Asia/Tokyo  ENABLED" in text
    assert f"! {alarm}: Threshold Crossed" in text


def test_progress_printer_repeats_no_unchanged_line() -> None:
    def poll(running: int, events: tuple[str, ...] = ()) -> list[Any]:
        return [lib.ServiceProgress("api", "IN_PROGRESS", "", running, 2, 0, 0, TD_NEW, "ecs-svc/1", events)]

    printed: list[str] = []
    show = lib.progress_printer(printed.append)
    show(poll(1))
    show(poll(1))
    show(poll(1, ("e1", "e2")))
    show(poll(2))
    assert printed == [
        "api  running 1/2 pending 0  IN_PROGRESS",
        "api  event: e1",
        "api  running 1/2 pending 0  IN_PROGRESS  (event: e2)",
        "api  running 2/2 pending 0  IN_PROGRESS",
    ]


def test_applied_services_fall_back_to_the_summary(tmp_path: Path) -> None:
    from hclforge.cli.summary import Row, Summary

    cfg = load_env(ROOT, "local").config
    ws = SimpleNamespace(
        loaded=SimpleNamespace(config=cfg),
        runner=lambda: SimpleNamespace(last_events=[]),
        applied_meta={},  # a saved plan from before "rollout" was recorded
    )
    summary = Summary("local", [Row("ecs", "web", update=1), Row("iam", "api", update=1), Row("ecs", "-", create=1)])
    assert lib.applied_services(ws, summary) == ["web"]
    # A plan saved by another process names what it rolls out in its metadata.
    ws.applied_meta = {"rollout": ["api", "gone"]}
    assert lib.applied_services(ws, summary) == ["api"]
