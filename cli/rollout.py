"""Wait for ECS rollouts, like ``ecspresso wait`` and ``copilot svc deploy``.

:func:`wait_for_rollouts` polls ``DescribeServices`` and reports each service's
PRIMARY deployment until all of them are ``COMPLETED``. It is a poll loop of its
own rather than boto3's ``services_stable`` waiter because progress (counts and new
service events) must be shown while it waits, and because the waiter knows nothing
about the deployment circuit breaker: a rolled-back deployment becomes "stable" on
the *old* task definition, which the waiter would call success.

How a failure shows in the ECS API (ECS API reference, ``Deployment``): with the
circuit breaker on, a deployment's ``rolloutState`` goes ``IN_PROGRESS`` ->
``COMPLETED``, or ``FAILED`` when tasks keep failing. With ``rollback`` on (hclforge
renders ``deployment_circuit_breaker { enable = true, rollback = true }``), ECS
then starts a new PRIMARY deployment back to the last completed task definition,
and the failed one stays listed as ACTIVE with ``rolloutState: FAILED`` while its
tasks drain. So a rollout has failed when the PRIMARY deployment is ``FAILED``, or
when any other listed deployment is ``FAILED``, or (when the caller says which task
definition it deployed) when the PRIMARY deployment runs a different one.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from hclforge.cli.awsapi import aws_call, batches
from hclforge.errors import RolloutFailed, RolloutTimeout, UsageError, printable

COMPLETED = "COMPLETED"
IN_PROGRESS = "IN_PROGRESS"
FAILED = "FAILED"
DESCRIBE_SERVICES_BATCH = 10  # DescribeServices accepts at most 10 services per call
STOPPED_TASKS_SHOWN = 5


@dataclass(frozen=True)
class ServiceProgress:
    """One service's rollout, as of one poll.

    Attributes:
        service: the ECS service name.
        state: the PRIMARY deployment's ``rolloutState`` (``IN_PROGRESS``,
            ``COMPLETED`` or ``FAILED``); ``FAILED`` also when another listed
            deployment failed (a circuit-breaker rollback is under way).
        reason: ``rolloutStateReason`` of the deployment that decided ``state``.
        running: running tasks of the PRIMARY deployment.
        desired: its desired count.
        pending: its pending tasks.
        failed_tasks: tasks of the decisive deployment that failed to start.
        task_definition: the PRIMARY deployment's task definition ARN.
        deployment_id: the decisive deployment's id (``ecs-svc/...``).
        new_events: service event messages not reported before, oldest first.
    """

    service: str
    state: str
    reason: str
    running: int
    desired: int
    pending: int
    failed_tasks: int
    task_definition: str
    deployment_id: str
    new_events: tuple[str, ...] = field(default=())
    emulated: bool = False  # on the emulator, which runs no tasks: only the desired count is real

    @property
    def counts(self) -> str:
        """``running 1/2 pending 1`` (and ``failed 3`` when tasks failed); ``desired 2, emulated`` on the emulator."""
        if self.emulated:
            return f"desired {self.desired}, emulated"
        text = f"running {self.running}/{self.desired} pending {self.pending}"
        return text + (f" failed {self.failed_tasks}" if self.failed_tasks else "")


def format_progress(progress: Sequence[ServiceProgress]) -> list[str]:
    """Plain-text lines for one poll: one status line per service, one line per new event.

    The newest new event goes on the status line, in parentheses; older new events
    (several can arrive between two polls) get lines of their own before it.
    Every AWS-provided text is passed through :func:`printable`.

    Args:
        progress: what :func:`wait_for_rollouts` passes to ``on_progress``.

    Returns:
        Lines without trailing newlines, e.g.
        ``api  running 1/2 pending 1  IN_PROGRESS  (event: (service api) has started 1 tasks: ...)``.
    """
    width = max((len(p.service) for p in progress), default=0)
    lines: list[str] = []
    for p in progress:
        name = p.service.ljust(width)
        *older, newest = p.new_events or ("",)
        lines.extend(f"{name}  event: {printable(msg)}" for msg in older)
        line = f"{name}  {p.counts}  {p.state}"
        if newest:
            line += f"  (event: {printable(newest)})"
        lines.append(line)
    return lines


def wait_for_rollouts(
    ecs: Any,
    cluster: str,
    services: Sequence[str],
    *,
    timeout: float,
    poll: float = 6.0,
    on_progress: Callable[[list[ServiceProgress]], None] | None = None,
    expected_task_definitions: Mapping[str, str] | None = None,
    events_since: datetime | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> list[ServiceProgress]:
    """Poll until every service's PRIMARY deployment is ``COMPLETED``.

    Args:
        ecs: a boto3 ECS client.
        cluster: the cluster name or ARN (``EnvConfig.cluster_name``).
        services: the ECS service names to wait for (any number; asked 10 at a time).
        timeout: seconds to wait in all before giving up.
        poll: seconds between two polls.
        on_progress: called after every poll with every service's progress (for
            :func:`format_progress`); service events appear in ``new_events`` once.
        expected_task_definitions: service -> the task definition ARN just deployed.
            When given, a PRIMARY deployment on another task definition counts as a
            rollback (failed), even if the failed deployment is no longer listed.
        events_since: service events created before this are never reported (e.g.
            the time the deploy started). Default: only the newest event at the
            first poll is reported, then every later one.
        clock: monotonic seconds (injectable for tests).
        sleep: sleeps that many seconds (injectable for tests).

    Returns:
        The last progress of every service, all ``COMPLETED``.

    Raises:
        RolloutFailed: a service's rollout failed; names the service, the reason,
            and the stopped reason and exit codes of its recently stopped tasks.
        RolloutTimeout: ``timeout`` passed; names every service not yet
            ``COMPLETED``, with its counts.
        UsageError: a service does not exist in the cluster (not applied yet?).
        AwsError: an ECS call failed.
    """
    names = list(dict.fromkeys(services))
    deadline = clock() + timeout
    seen: dict[str, set[tuple[str, str]]] = {}
    while True:
        progress = _poll(ecs, cluster, names, seen, expected_task_definitions or {}, events_since)
        if on_progress is not None:
            on_progress(progress)
        failed = [p for p in progress if p.state == FAILED]
        if failed:
            raise RolloutFailed("\n".join(_failure_text(ecs, cluster, p) for p in failed))
        if all(p.state == COMPLETED for p in progress):
            return progress
        remaining = deadline - clock()
        if remaining <= 0:
            waiting = "; ".join(f"{p.service} {p.counts} {p.state}" for p in progress if p.state != COMPLETED)
            raise RolloutTimeout(f"rollout not finished after {_duration(timeout)} in cluster {cluster}: {waiting}")
        sleep(min(poll, remaining))


def _poll(
    ecs: Any,
    cluster: str,
    names: list[str],
    seen: dict[str, set[tuple[str, str]]],
    expected: Mapping[str, str],
    events_since: datetime | None,
) -> list[ServiceProgress]:
    described: dict[str, dict[str, Any]] = {}
    for batch in batches(names, DESCRIBE_SERVICES_BATCH):
        with aws_call("ecs describe_services"):
            resp = ecs.describe_services(cluster=cluster, services=list(batch))
        for svc in resp.get("services", []):
            described[svc["serviceName"]] = svc
    missing = [n for n in names if n not in described or described[n].get("status") in ("INACTIVE", "DRAINING")]
    if missing:
        raise UsageError(f"no ECS service {', '.join(missing)} in cluster {cluster} (applied yet?)")
    return [_progress(n, described[n], seen, expected.get(n), events_since) for n in names]


def _progress(
    name: str,
    svc: dict[str, Any],
    seen: dict[str, set[tuple[str, str]]],
    expected: str | None,
    events_since: datetime | None,
) -> ServiceProgress:
    deployments: list[dict[str, Any]] = svc.get("deployments", [])
    primary = next((d for d in deployments if d.get("status") == "PRIMARY"), None)
    if primary is None:  # not an ECS-controlled deployment: judge by the service's own counts
        primary = {
            "taskDefinition": svc.get("taskDefinition", ""),
            "runningCount": svc.get("runningCount", 0),
            "desiredCount": svc.get("desiredCount", 0),
            "pendingCount": svc.get("pendingCount", 0),
        }
    decisive = primary
    state = primary.get("rolloutState") or _steady_state(primary, deployments)
    reason = primary.get("rolloutStateReason", "")
    failed_other = next((d for d in deployments if d is not primary and d.get("rolloutState") == FAILED), None)
    if state != FAILED and failed_other is not None:
        decisive, state = failed_other, FAILED
        reason = failed_other.get("rolloutStateReason", "") or "deployment failed"
        if primary.get("rolloutState") == IN_PROGRESS:
            reason += f"; rolling back to {_short_td(primary.get('taskDefinition', ''))}"
    elif state != FAILED and expected and primary.get("taskDefinition") and primary["taskDefinition"] != expected:
        state = FAILED
        reason = (
            f"the primary deployment runs {_short_td(primary['taskDefinition'])}, not the deployed "
            f"{_short_td(expected)} (rolled back?)" + (f"; {reason}" if reason else "")
        )
    return ServiceProgress(
        service=name,
        state=state,
        reason=reason,
        running=int(primary.get("runningCount", 0)),
        desired=int(primary.get("desiredCount", 0)),
        pending=int(primary.get("pendingCount", 0)),
        failed_tasks=int(decisive.get("failedTasks", 0)),
        task_definition=str(primary.get("taskDefinition", "")),
        deployment_id=str(decisive.get("id", "")),
        new_events=_new_events(name, svc.get("events", []), seen, events_since),
    )


def _steady_state(primary: dict[str, Any], deployments: list[dict[str, Any]]) -> str:
    """Without a circuit breaker there is no ``rolloutState``: steady means one deployment, all running."""
    steady = len(deployments) <= 1 and primary.get("runningCount", 0) == primary.get("desiredCount", 0)
    return COMPLETED if steady else IN_PROGRESS


def _new_events(
    name: str, events: list[dict[str, Any]], seen: dict[str, set[tuple[str, str]]], since: datetime | None
) -> tuple[str, ...]:
    """Event messages of ``name`` not reported before, oldest first (ECS lists them newest first)."""
    first = name not in seen
    known = seen.setdefault(name, set())
    keys = [(str(e.get("id", "")), str(e.get("message", ""))) for e in events]
    if first:
        if since is not None:
            old = {k for k, e in zip(keys, events, strict=True) if _before(e.get("createdAt"), since)}
        else:
            old = set(keys[1:])  # only the newest one is news at the first poll
        known.update(old)
    fresh = [k for k in keys if k not in known]
    known.update(fresh)
    return tuple(message for _, message in reversed(fresh))


def _before(created: Any, since: datetime) -> bool:
    if not isinstance(created, datetime):
        return False
    if (created.tzinfo is None) != (since.tzinfo is None):
        return created.replace(tzinfo=None) < since.replace(tzinfo=None)
    return created < since


def _failure_text(ecs: Any, cluster: str, progress: ServiceProgress) -> str:
    lines = [f"{progress.service}: rollout failed: {printable(progress.reason or 'no reason given')}"]
    lines.extend(f"  {line}" for line in stopped_task_reasons(ecs, cluster, progress.service, progress.deployment_id))
    return "\n".join(lines)


def stopped_task_reasons(
    ecs: Any, cluster: str, service: str, deployment_id: str = "", *, limit: int = STOPPED_TASKS_SHOWN
) -> list[str]:
    """Why the service's most recently stopped tasks stopped, newest first.

    Args:
        ecs: a boto3 ECS client.
        cluster: the cluster name or ARN.
        service: the ECS service name.
        deployment_id: prefer tasks started by this deployment (``startedBy``); when
            none of the stopped tasks is, all of them are shown.
        limit: at most this many tasks.

    Returns:
        Lines like ``task 0123abcd: Essential container in task exited; api exit 1``.
        Empty when ECS no longer lists stopped tasks (it keeps them about an hour).

    Raises:
        AwsError: an ECS call failed.
    """
    with aws_call("ecs list_tasks"):
        arns: list[str] = ecs.list_tasks(cluster=cluster, serviceName=service, desiredStatus="STOPPED").get(
            "taskArns", []
        )
    if not arns:
        return []
    tasks: list[dict[str, Any]] = []
    for batch in batches(arns, 100):
        with aws_call("ecs describe_tasks"):
            tasks.extend(ecs.describe_tasks(cluster=cluster, tasks=list(batch)).get("tasks", []))
    own = [t for t in tasks if deployment_id and t.get("startedBy") == deployment_id]
    chosen = sorted(own or tasks, key=_stopped_at, reverse=True)[:limit]
    return [describe_stopped_task(t) for t in chosen]


def describe_stopped_task(task: dict[str, Any]) -> str:
    """One line for a stopped task: its id, ``stoppedReason`` and each container's exit code and reason."""
    parts = [printable(task.get("stoppedReason") or task.get("stopCode") or "no reason given")]
    for container in task.get("containers", []):
        code = container.get("exitCode")
        text = f"{printable(container.get('name', '?'))} exit {code if code is not None else 'none'}"
        if container.get("reason"):
            text += f" ({printable(container['reason'])})"
        parts.append(text)
    return f"task {task_id(task.get('taskArn', ''))}: " + "; ".join(parts)


def task_id(task_arn: str) -> str:
    """The task id: the last part of its ARN (``arn:...:task/cluster/<id>``)."""
    return task_arn.rsplit("/", 1)[-1]


def _stopped_at(task: dict[str, Any]) -> float:
    value = task.get("stoppedAt") or task.get("createdAt")
    return value.timestamp() if isinstance(value, datetime) else 0.0


def _short_td(arn: str) -> str:
    """``family:revision`` of a task definition ARN."""
    return arn.rsplit("/", 1)[-1]


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"
