"""One-off tasks with a service's task definition and network (``hclforge run``, like ``ecspresso run``).

Everything the task needs is read from the running ECS service, so no terraform
state is needed: ``DescribeServices`` gives the subnets, security groups and
public-IP setting (``networkConfiguration.awsvpcConfiguration``), the capacity
provider strategy and the deployed task definition; the task definition's family
(``EnvConfig.task_family``) gives its latest ACTIVE revision. The command replaces
the ``command`` of the container named like the service (render.py names the
service's own container after it).

:func:`wait_stopped` then polls ``DescribeTasks`` until the task is STOPPED and
returns that container's exit code. A container that never ran (image pull
failed, secrets unreadable, no capacity) has no exit code: that is an error naming
``stoppedReason``, never a silent exit 0. It is a poll loop rather than boto3's
``tasks_stopped`` waiter so that the caller can show status changes and
interleave :func:`cli.logs.follow` (use :func:`task_status` as its ``stop``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from hclforge.cli.awsapi import aws_call
from hclforge.cli.logs import task_stream_prefix
from hclforge.cli.rollout import describe_stopped_task, task_id
from hclforge.errors import TaskFailed, TaskTimeout, UsageError, printable
from hclforge.model import EnvConfig

STARTED_BY = "hclforge-run"  # ECS allows 36 characters; shows who started the task


@dataclass(frozen=True)
class TaskSpec:
    """What :func:`run_task` asked ECS for (for the caller to print before waiting).

    Attributes:
        task_arn: the started task.
        task_definition: the task definition ARN it runs.
        container: the container whose command was overridden (the service's own).
        log_stream_prefix: that container's awslogs stream (``ecs/<container>/<task-id>``).
    """

    task_arn: str
    task_definition: str
    container: str
    log_stream_prefix: str


@dataclass(frozen=True)
class TaskResult:
    """A stopped task.

    Attributes:
        task_arn: the task.
        exit_code: the container's exit code.
        stopped_reason: ECS's ``stoppedReason`` ("Essential container in task exited").
        stop_code: ECS's ``stopCode`` (``EssentialContainerExited``, ``TaskFailedToStart``...).
    """

    task_arn: str
    exit_code: int
    stopped_reason: str
    stop_code: str


def run_task(
    ecs: Any,
    cfg: EnvConfig,
    service: str,
    command: Sequence[str],
    *,
    subnets: Sequence[str] | None = None,
    security_groups: Sequence[str] | None = None,
    revision: Literal["latest", "service"] = "latest",
    started_by: str = STARTED_BY,
) -> TaskSpec:
    """Start one task of ``service``'s task definition in the service's network.

    Args:
        ecs: a boto3 ECS client.
        cfg: the environment (cluster name, task family, the service's capacity).
        service: the service whose task definition and network the task uses.
        command: the command of the service's container; empty keeps the image's.
        subnets: override the service's subnets.
        security_groups: override the service's security groups.
        revision: ``latest``: the family's latest ACTIVE revision (what the next
            deploy runs); ``service``: the revision the service runs now.
        started_by: the task's ``startedBy`` (at most 36 characters).

    Returns:
        The started task, with its log stream prefix for :func:`cli.logs.follow`.

    Raises:
        UsageError: no such service in the environment or the cluster, no network
            found, or the task definition has no container named like the service.
        TaskFailed: ECS refused to start the task (its ``failures`` reasons).
        AwsError: an ECS call failed.
    """
    if service not in cfg.services:
        raise UsageError(
            f"no service '{printable(service)}' in {cfg.environment} (services: {', '.join(cfg.services)})"
        )
    cluster = cfg.cluster_name
    svc = describe_service(ecs, cluster, service)
    awsvpc = svc.get("networkConfiguration", {}).get("awsvpcConfiguration", {})
    network = {
        "subnets": list(subnets or awsvpc.get("subnets", [])),
        "securityGroups": list(security_groups or awsvpc.get("securityGroups", [])),
        "assignPublicIp": awsvpc.get("assignPublicIp", "DISABLED"),
    }
    if not network["subnets"]:
        raise UsageError(f"ECS service {service} in {cluster} has no awsvpc subnets; pass subnets")

    wanted = svc.get("taskDefinition", "") if revision == "service" else cfg.task_family(service)
    with aws_call("ecs describe_task_definition", missing=f"no task definition {wanted}"):
        taskdef = ecs.describe_task_definition(taskDefinition=wanted)["taskDefinition"]
    names = [c.get("name") for c in taskdef.get("containerDefinitions", [])]
    if service not in names:
        raise UsageError(
            f"task definition {taskdef['taskDefinitionArn'].rsplit('/', 1)[-1]} has no container {service} "
            f"(containers: {', '.join(str(n) for n in names)})"
        )

    params: dict[str, Any] = {
        "cluster": cluster,
        "taskDefinition": taskdef["taskDefinitionArn"],
        "count": 1,
        "startedBy": started_by[:36],
        "networkConfiguration": {"awsvpcConfiguration": network},
    }
    params.update(_capacity(cfg, service, svc))
    if svc.get("platformVersion"):
        params["platformVersion"] = svc["platformVersion"]
    if command:
        params["overrides"] = {"containerOverrides": [{"name": service, "command": list(command)}]}
    with aws_call("ecs run_task"):
        resp = ecs.run_task(**params)
    tasks = resp.get("tasks", [])
    if not tasks:
        reasons = "; ".join(
            f"{printable(f.get('reason', '?'))}" + (f" ({printable(f['detail'])})" if f.get("detail") else "")
            for f in resp.get("failures", [])
        )
        raise TaskFailed(f"ECS did not start a task of {service}: {reasons or 'no reason given'}")
    arn = str(tasks[0]["taskArn"])
    return TaskSpec(arn, str(taskdef["taskDefinitionArn"]), service, task_stream_prefix(service, arn))


def describe_service(ecs: Any, cluster: str, service: str) -> dict[str, Any]:
    """The ECS service ``service`` of ``cluster`` (``DescribeServices``).

    Raises:
        UsageError: it does not exist (or is INACTIVE): not applied yet?
        AwsError: the call failed.
    """
    with aws_call("ecs describe_services", missing=f"no ECS cluster {cluster} (applied yet?)"):
        resp = ecs.describe_services(cluster=cluster, services=[service])
    for svc in resp.get("services", []):
        if svc.get("serviceName") == service and svc.get("status") != "INACTIVE":
            return dict(svc)
    raise UsageError(f"no ECS service {printable(service)} in cluster {cluster} (applied yet?)")


def _capacity(cfg: EnvConfig, service: str, svc: dict[str, Any]) -> dict[str, Any]:
    """The service's capacity provider strategy, else Fargate, else the environment's strategy.

    A service created with a strategy reports it; the emulator does not (and says
    ``launchType: EC2``), and hclforge only runs Fargate, so any launch type but
    FARGATE falls back to the strategy the YAML gives.
    """
    strategy = svc.get("capacityProviderStrategy")
    if strategy:
        return {"capacityProviderStrategy": strategy}
    if svc.get("launchType") == "FARGATE":
        return {"launchType": "FARGATE"}
    return {
        "capacityProviderStrategy": [
            {"capacityProvider": p, "base": base, "weight": weight}
            for p, base, weight in cfg.capacity_strategy(service)
        ]
    }


def task_status(ecs: Any, cluster: str, task_arn: str) -> dict[str, Any]:
    """The task as ``DescribeTasks`` shows it now.

    Raises:
        TaskFailed: ECS does not know the task (stopped tasks are kept about an hour).
        AwsError: the call failed.
    """
    with aws_call("ecs describe_tasks"):
        resp = ecs.describe_tasks(cluster=cluster, tasks=[task_arn])
    tasks = resp.get("tasks", [])
    if not tasks:
        raise TaskFailed(f"ECS does not know task {task_id(task_arn)} in cluster {cluster}")
    return dict(tasks[0])


def wait_stopped(
    ecs: Any,
    cluster: str,
    task_arn: str,
    timeout: float,
    *,
    container: str,
    poll: float = 6.0,
    on_status: Callable[[str], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> TaskResult:
    """Poll until the task is STOPPED; return ``container``'s exit code.

    Args:
        ecs: a boto3 ECS client.
        cluster: the cluster name or ARN.
        task_arn: the task (from :func:`run_task`).
        timeout: seconds to wait in all.
        container: the container whose exit code counts (the service's own).
        poll: seconds between polls.
        on_status: called with ``lastStatus`` each time it changes (PROVISIONING,
            PENDING, RUNNING, DEPROVISIONING, STOPPED).
        clock: monotonic seconds (injectable for tests).
        sleep: sleeps that many seconds (injectable for tests).

    Returns:
        The exit code, ``stoppedReason`` and ``stopCode``.

    Raises:
        TaskFailed: the task stopped without the container's exit code (it never
            ran: the message names ``stoppedReason`` and the container's reason).
        TaskTimeout: still not STOPPED after ``timeout`` (the task keeps running).
        AwsError: an ECS call failed.
    """
    deadline = clock() + timeout
    last = ""
    while True:
        task = task_status(ecs, cluster, task_arn)
        status = str(task.get("lastStatus", ""))
        if status != last:
            last = status
            if on_status is not None:
                on_status(status)
        if status == "STOPPED":
            return _result(task, container)
        remaining = deadline - clock()
        if remaining <= 0:
            raise TaskTimeout(
                f"task {task_id(task_arn)} still {status or 'unknown'} after {int(timeout)} s; "
                f"it keeps running (stop it with: aws ecs stop-task --cluster {cluster} --task {task_id(task_arn)})"
            )
        sleep(min(poll, remaining))


def _result(task: dict[str, Any], container: str) -> TaskResult:
    arn = str(task.get("taskArn", ""))
    reason = str(task.get("stoppedReason", ""))
    found = next((c for c in task.get("containers", []) if c.get("name") == container), None)
    code = found.get("exitCode") if found is not None else None
    if code is None:
        where = f"container {container} has no exit code" if found else f"no container {container} in the task"
        raise TaskFailed(f"{where}: it never ran. {describe_stopped_task(task)}")
    return TaskResult(arn, int(code), reason, str(task.get("stopCode", "")))
