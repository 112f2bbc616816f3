"""Day-two operations: set-image, deploy (and apply's wait), status, logs, run.

Library functions over a :class:`~hclforge.cli.ops.Workspace` and plain arguments:
they return data or yield lines and raise typed errors (``hclforge.errors``); the
click commands in :mod:`cli.cmd_deploy` only parse, call and print.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hclforge import render
from hclforge.cli.logs import follow, format_line, parse_since, read_logs
from hclforge.cli.rollout import ServiceProgress, format_progress, wait_for_rollouts
from hclforge.cli.runtask import TaskResult, TaskSpec, run_task, task_status, wait_stopped
from hclforge.cli.summary import ACTIONS, Summary, service_of
from hclforge.config import env_names, load_env
from hclforge.errors import (
    AwsError,
    ConfigError,
    HclforgeError,
    PlanRefused,
    TaskExitCode,
    UsageError,
    printable,
)
from hclforge.hcl import ident
from hclforge.paths import confined
from hclforge.shims import EMULATOR_READ_SHIMS
from hclforge.yamledit import set_image as edit_image

ROLLOUT_TYPES = ("aws_ecs_service", "aws_ecs_task_definition")
ECS_MODULE = "module.ecs"
ProgressSink = Callable[[list[ServiceProgress]], None]
# The wait ignores the applied task definition on the emulator (see hclforge/shims.py).
assert "rollout_ignores_task_definition" in EMULATOR_READ_SHIMS


def seconds(text: str) -> float:
    """A duration option (``15m``, ``90s``, ``1h``) in seconds; UsageError otherwise."""
    return parse_since(text) / 1000


def known_service(cfg: Any, service: str) -> str:
    """``service`` when the environment has it; UsageError naming the services otherwise."""
    if service not in cfg.services:
        raise UsageError(
            f"no service {printable(service)!r} in {cfg.environment} (services: {', '.join(cfg.services)})"
        )
    return service


# ------------------------------------------------------------------ set-image


@dataclass
class ImagePin:
    """What ``set-image`` changed: the file, its YAML diff and the rendered tree's HCL diff."""

    path: Path
    yaml_diff: str
    hcl_diff: str
    changed: bool


def set_image(root: Path, env: str, service: str, image: str, *, layer: str | None = None) -> ImagePin:
    """Pin ``service``'s image in ``envs/<env>.yaml`` (or the ``layer`` under envs/), then re-render.

    Raises:
        UsageError: unknown service, bad image, a layer outside envs/ (nothing written).
        ConfigError: the environment no longer validates after the edit (the file is put back).
    """
    loaded = load_env(root, env)
    known = list(loaded.config.services)
    envs_dir = root / "envs"
    path = confined(envs_dir, layer if layer is not None else f"{env}.yaml")
    layers = {(root / source).resolve() for source in loaded.sources}
    if path not in layers:
        raise UsageError(
            f"{printable(str(layer))} is not a layer of {env} (layers: {', '.join(loaded.sources)}); nothing written"
        )
    result = edit_image(path, service, image, known_services=known)
    if not result.changed:
        return ImagePin(path, "", "", False)
    try:
        trees = [render.render_env(load_env(root, name)) for name in _envs_using(root, env, path)]
    except ConfigError:
        path.write_text(result.old_text, encoding="utf-8", newline="")
        raise
    hcl_diff = "".join(render.unified_diff(root, tree) for tree in trees)
    for tree in trees:
        render.write_tree(root, tree)
    return ImagePin(path, result.diff(path.relative_to(root).as_posix()), hcl_diff, True)


def _envs_using(root: Path, env: str, path: Path) -> list[str]:
    """``env``, then every other environment layered on ``path`` (a shared layer pins theirs too)."""
    names = [env]
    for name in env_names(root):
        if name == env:
            continue
        try:
            sources = load_env(root, name).sources
        except ConfigError:
            continue  # an environment already broken is not this edit's to render
        if path in {(root / source).resolve() for source in sources}:
            names.append(name)
    return names


# ------------------------------------------------------------------ deploy / apply


def service_targets(cfg: Any, services: Sequence[str]) -> list[str]:
    """The ``-target`` addresses of ``services``: their ECS service and task definition (dependencies follow)."""
    return [f"{ECS_MODULE}.{kind}.{ident(known_service(cfg, s))}" for s in services for kind in ROLLOUT_TYPES]


def rollout_services(events: Iterable[dict[str, Any]], services: Iterable[str]) -> list[str]:
    """Services whose ``aws_ecs_service`` or ``aws_ecs_task_definition`` a plan creates, updates or replaces.

    Args:
        events: the plan's ``-json`` event stream (``planned_change`` events).
        services: the environment's services (ECS service name = YAML name).
    """
    names = list(services)
    found: list[str] = []
    for event in events:
        if event.get("type") != "planned_change":
            continue
        change, res = event["change"], event["change"]["resource"]
        if res.get("resource_type") in ROLLOUT_TYPES and change.get("action") in ACTIONS[:3]:
            service = service_of(str(res.get("resource_name", "")), names)
            if service != "-" and service not in found:
                found.append(service)
    return found


def rollout_services_of_plan(plan: dict[str, Any], services: Iterable[str]) -> list[str]:
    """:func:`rollout_services` from a ``show -json`` plan document (``resource_changes``)."""
    events = []
    for rc in plan.get("resource_changes", []):
        actions = rc.get("change", {}).get("actions", [])
        action = "replace" if {"create", "delete"} <= set(actions) else (actions[0] if len(actions) == 1 else "")
        events.append(
            {
                "type": "planned_change",
                "change": {
                    "action": action,
                    "resource": {"resource_type": rc.get("type"), "resource_name": rc.get("name")},
                },
            }
        )
    return rollout_services(events, services)


def applied_services(ws: Any, summary: Summary, *, plan_json_wait: float = 5.0) -> list[str]:
    """The services the plan just applied by ``ws`` rolls out.

    From the plan's event stream when this process planned it; otherwise from the
    saved plan's ``plan.json`` (written beside it after planning, kept after apply);
    failing both, every service with a change in the ecs module of ``summary``.
    """
    services = list(ws.loaded.config.services)
    events = ws.terraform.last_events
    if any(e.get("type") == "planned_change" for e in events):
        return rollout_services(events, services)
    deadline = time.monotonic() + plan_json_wait
    while not ws.plan_json_file.is_file() and time.monotonic() < deadline:
        time.sleep(0.2)
    if ws.plan_json_file.is_file():
        return rollout_services_of_plan(json.loads(ws.plan_json_file.read_text(encoding="utf-8")), services)
    return [r.service for r in summary.rows if r.module == "ecs" and r.service in services and r.total]


def expected_task_definitions(ws: Any, services: Sequence[str]) -> dict[str, str] | None:
    """service -> the task definition ARN in the state after apply; None on the emulator.

    On the emulator the waiter must not compare task definitions
    (``EMULATOR_READ_SHIMS["rollout_ignores_task_definition"]``).
    """
    if ws.on_emulator:
        return None
    wanted = {str(ident(s)): s for s in services}
    found: dict[str, str] = {}
    state = ws.terraform.show_json()
    modules = [state.get("values", {}).get("root_module", {})]
    while modules:
        module = modules.pop()
        modules += module.get("child_modules", [])
        for res in module.get("resources", []):
            if res.get("type") == "aws_ecs_service" and res.get("name") in wanted:
                arn = res.get("values", {}).get("task_definition")
                if arn:
                    found[wanted[res["name"]]] = str(arn)
    return found


def wait_services(
    ws: Any,
    services: Sequence[str],
    *,
    timeout: float,
    since: datetime | None,
    on_progress: ProgressSink | None = None,
    poll: float = 6.0,
) -> list[ServiceProgress]:
    """Wait for ``services``' rollouts (RolloutFailed / RolloutTimeout, exit 1)."""
    if not services:
        return []
    return wait_for_rollouts(
        ws.aws_client("ecs"),
        ws.loaded.config.cluster_name,
        services,
        timeout=timeout,
        poll=poll,
        on_progress=on_progress,
        expected_task_definitions=expected_task_definitions(ws, services),
        events_since=since,
    )


def progress_printer(echo: Callable[[str], None]) -> ProgressSink:
    """An ``on_progress`` that prints each service's line only when it changed since the last poll.

    A 15-minute wait polls 150 times: unchanged counts are not repeated; new events always print.
    """
    last: dict[str, str] = {}

    def show(progress: list[ServiceProgress]) -> None:
        for p, line in zip(progress, _status_lines(progress), strict=True):
            for event_line in line[:-1]:
                echo(event_line)
            if last.get(p.service) != line[-1]:
                last[p.service] = line[-1]
                echo(line[-1])

    return show


def _status_lines(progress: list[ServiceProgress]) -> list[list[str]]:
    """:func:`format_progress`'s lines, grouped per service (its event lines, then its status line)."""
    lines = iter(format_progress(progress))
    grouped: list[list[str]] = []
    for p in progress:
        count = max(len(p.new_events) - 1, 0) + 1
        grouped.append([next(lines) for _ in range(count)])
    return grouped


@dataclass
class Deployed:
    """What ``deploy`` / ``apply`` did: the applied summary and the services it waited for."""

    summary: Summary
    services: list[str] = field(default_factory=list)
    progress: list[ServiceProgress] = field(default_factory=list)
    waited: bool = False


def deploy(
    ws: Any,
    *,
    services: Sequence[str] = (),
    auto_approve: bool,
    interactive: bool,
    confirm: Callable[[Summary], bool],
    wait: bool = True,
    timeout: float = 900.0,
    on_progress: ProgressSink | None = None,
    poll: float = 6.0,
) -> Deployed:
    """Plan (only ``services``' resources when given), apply with ``apply``'s confirmation rules, wait.

    Raises:
        UsageError: unknown service, or confirmation needed without a terminal (before planning).
        RolloutFailed, RolloutTimeout: the wait (exit 1).
    """
    cfg = ws.loaded.config
    targets = service_targets(cfg, services) if services else None
    if not auto_approve and not interactive:
        raise UsageError(
            f"deploy needs confirmation and there is no terminal: run 'hclforge deploy {ws.env} --auto-approve'"
        )
    ws.plan(targets=targets)
    try:
        return apply_and_wait(
            ws,
            targets=targets,
            auto_approve=auto_approve,
            interactive=interactive,
            confirm=confirm,
            wait=wait,
            timeout=timeout,
            on_progress=on_progress,
            poll=poll,
        )
    except PlanRefused:
        if targets:  # a targeted plan left saved would be applied, partial, by a later 'hclforge apply'
            ws.plan_file.unlink(missing_ok=True)
            ws.plan_meta_file.unlink(missing_ok=True)
        raise


def apply_and_wait(
    ws: Any,
    *,
    targets: list[str] | None = None,
    auto_approve: bool,
    interactive: bool,
    confirm: Callable[[Summary], bool],
    wait: bool = True,
    timeout: float = 900.0,
    on_progress: ProgressSink | None = None,
    poll: float = 6.0,
) -> Deployed:
    """``Workspace.apply``, then wait for the rollouts of the services the applied plan changed."""
    started = datetime.now(UTC)
    summary = ws.apply(auto_approve=auto_approve, interactive=interactive, confirm=confirm, targets=targets)
    return wait_applied(ws, summary, wait=wait, timeout=timeout, since=started, on_progress=on_progress, poll=poll)


def wait_applied(
    ws: Any,
    summary: Summary,
    *,
    wait: bool = True,
    timeout: float = 900.0,
    since: datetime | None = None,
    on_progress: ProgressSink | None = None,
    poll: float = 6.0,
) -> Deployed:
    """After ``ws.apply`` returned ``summary``: wait for the services it rolled out (none without changes)."""
    if not summary.has_changes:
        return Deployed(summary)
    services = applied_services(ws, summary)
    if not wait:
        return Deployed(summary, services)
    progress = wait_services(ws, services, timeout=timeout, since=since, on_progress=on_progress, poll=poll)
    return Deployed(summary, services, progress, waited=True)


# ------------------------------------------------------------------ status


def _iso(value: Any) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value or "")


def service_status(ecs: Any, cfg: Any) -> list[dict[str, Any]]:
    """Each configured service as ECS reports it (``missing`` when not in the cluster)."""
    names = list(cfg.services)
    described: dict[str, dict[str, Any]] = {}
    for i in range(0, len(names), 10):
        if not _cluster_exists(ecs, cfg.cluster_name):
            break  # not applied yet: every service is reported missing
        answer = _aws(
            "ecs", "DescribeServices", ecs.describe_services, cluster=cfg.cluster_name, services=names[i : i + 10]
        )
        described.update({s["serviceName"]: s for s in answer.get("services", [])})
    rows = []
    for name in names:
        svc = cfg.services[name]
        scaling = f"{svc.autoscaling.min}..{svc.autoscaling.max}" if svc.autoscaling else f"fixed {svc.desired_count}"
        found = described.get(name)
        if found is None or found.get("status") == "INACTIVE":
            rows.append({"service": name, "missing": True, "autoscaling": scaling})
            continue
        primary: dict[str, Any] = next((d for d in found.get("deployments", []) if d.get("status") == "PRIMARY"), {})
        arn = str(found.get("taskDefinition", ""))
        td = _aws("ecs", "DescribeTaskDefinition", ecs.describe_task_definition, taskDefinition=arn)["taskDefinition"]
        image = next((c.get("image") for c in td.get("containerDefinitions", []) if c.get("name") == name), None)
        rows.append(
            {
                "service": name,
                "missing": False,
                "desired": found.get("desiredCount", 0),
                "running": found.get("runningCount", 0),
                "pending": found.get("pendingCount", 0),
                "task_definition": f"{td.get('family')}:{td.get('revision')}",
                "image": image,
                "rollout": primary.get("rolloutState", "-"),
                "rollout_reason": primary.get("rolloutStateReason", ""),
                "events": [
                    {"at": _iso(e.get("createdAt")), "message": e.get("message", "")}
                    for e in found.get("events", [])[:3]
                ],
                "autoscaling": scaling,
            }
        )
    return rows


def schedule_status(scheduler: Any, cfg: Any) -> list[dict[str, Any]]:
    """Each scheduled task's EventBridge schedule (``missing`` when not created yet)."""
    rows = []
    for name, task in cfg.scheduled_tasks.items():
        row: dict[str, Any] = {
            "task": name,
            "service": task.service,
            "schedule": task.schedule,
            "timezone": task.timezone,
        }
        try:
            got = scheduler.get_schedule(Name=cfg.schedule_name(name))
        except Exception as err:  # ResourceNotFoundException, or not reachable
            row.update(missing=True, error=str(err).splitlines()[0])
        else:
            row.update(
                missing=False,
                state=got.get("State"),
                schedule=got.get("ScheduleExpression", task.schedule),
                timezone=got.get("ScheduleExpressionTimezone", task.timezone),
            )
        rows.append(row)
    return rows


def alarms_in_alarm(cloudwatch: Any, cfg: Any) -> list[dict[str, Any]]:
    """The environment's alarms (``<project>-<env>-`` prefix) in state ALARM."""
    pages = cloudwatch.get_paginator("describe_alarms").paginate(AlarmNamePrefix=f"{cfg.prefix}-", StateValue="ALARM")
    try:
        return [
            {"alarm": a["AlarmName"], "reason": a.get("StateReason", ""), "since": _iso(a.get("StateUpdatedTimestamp"))}
            for page in pages
            for a in page.get("MetricAlarms", [])
        ]
    except Exception as err:
        raise AwsError(f"CloudWatch DescribeAlarms failed: {err}") from None


def status(ws: Any) -> dict[str, Any]:
    """Read-only: services, API endpoint, schedules and alarms of ``ws``'s environment."""
    cfg = ws.loaded.config
    doc: dict[str, Any] = {"environment": ws.env, "cluster": cfg.cluster_name}
    doc["services"] = service_status(ws.aws_client("ecs"), cfg)
    try:
        doc["api_endpoint"] = (ws.outputs() or {}).get("api_endpoint", {}).get("value")
    except HclforgeError:
        doc["api_endpoint"] = None
    doc["schedules"] = schedule_status(ws.aws_client("scheduler"), cfg) if cfg.scheduled_tasks else []
    doc["alarms"] = alarms_in_alarm(ws.aws_client("cloudwatch"), cfg) if cfg.alarms else None
    return doc


def status_lines(doc: dict[str, Any]) -> list[str]:
    """The plain text of :func:`status`."""
    lines = [f"{doc['environment']} (cluster {doc['cluster']})", f"api endpoint: {doc.get('api_endpoint') or '-'}"]
    for s in doc["services"]:
        if s["missing"]:
            lines.append(f"service {s['service']}: not in the cluster (not applied?)  autoscaling {s['autoscaling']}")
            continue
        lines.append(
            f"service {s['service']}: {s['rollout']}  running {s['running']}/{s['desired']} pending {s['pending']}  "
            f"autoscaling {s['autoscaling']}"
        )
        lines.append(f"  task definition {s['task_definition']}  image {s['image']}")
        lines += [f"  {e['at']}  {printable(e['message'])}" for e in s["events"]]
    for t in doc["schedules"]:
        state = "not created" if t["missing"] else t["state"]
        lines.append(f"schedule {t['task']} ({t['service']}): {t['schedule']} {t['timezone']}  {state}")
    if doc["alarms"] is not None:
        lines.append(f"alarms in ALARM: {len(doc['alarms'])}")
        lines += [f"  ! {a['alarm']}: {printable(a['reason'])}" for a in doc["alarms"]]
    return lines


# ------------------------------------------------------------------ logs / run


def log_lines(
    ws: Any, service: str, *, since: str = "10m", follow_logs: bool = False, stop: Callable[[], bool] = lambda: False
) -> Iterator[str]:
    """The service's CloudWatch Logs lines, ordered by time (``follow_logs``: until ``stop()`` or Ctrl-C)."""
    cfg = ws.loaded.config
    group = cfg.log_group_name(known_service(cfg, service))
    since_ms = int(time.time() * 1000) - parse_since(since)
    logs = ws.aws_client("logs")
    lines = (
        follow(logs, group, since_ms=since_ms, stop=stop) if follow_logs else read_logs(logs, group, since_ms=since_ms)
    )
    for line in lines:
        yield format_line(line, id_chars=8)


def run_one(
    ws: Any,
    service: str,
    command: Sequence[str],
    *,
    wait: bool = True,
    timeout: float = 600.0,
    on_started: Callable[[TaskSpec], None] = lambda _s: None,
    on_line: Callable[[str], None] = lambda _l: None,
    poll: float = 6.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> TaskResult | None:
    """Run one task of ``service`` with ``command``; unless ``wait`` is off, stream its logs and wait.

    Returns:
        The stopped task (exit code 0), or None with ``wait=False``.

    Raises:
        TaskExitCode: the container exited non-zero (the process exits with that code).
        TaskFailed, TaskTimeout: it never ran, or did not stop in time (exit 1).
    """
    cfg = ws.loaded.config
    known_service(cfg, service)
    if not command:
        raise UsageError("no command: hclforge run ENV SERVICE -- CMD...")
    ecs = ws.aws_client("ecs")
    started_ms = int(time.time() * 1000) - 5_000
    spec = run_task(ecs, cfg, service, command)
    on_started(spec)
    if not wait:
        return None
    logs = ws.aws_client("logs")
    group = cfg.log_group_name(service)
    seen: set[str] = set()

    def emit(lines: Iterable[Any]) -> None:
        for line in lines:
            if line.event_id not in seen:
                seen.add(line.event_id)
                on_line(format_line(line))

    deadline = clock() + timeout

    def stopped() -> bool:
        # Past the deadline, stop following: wait_stopped then raises TaskTimeout.
        return clock() >= deadline or task_status(ecs, cfg.cluster_name, spec.task_arn).get("lastStatus") == "STOPPED"

    with contextlib.suppress(UsageError):  # no log group yet: the exit code still counts
        emit(follow(logs, group, since_ms=started_ms, stream_prefix=spec.log_stream_prefix, stop=stopped, sleep=sleep))
    result = wait_stopped(
        ecs,
        cfg.cluster_name,
        spec.task_arn,
        max(deadline - clock(), 0.0),
        container=spec.container,
        poll=poll,
        clock=clock,
        sleep=sleep,
    )
    with contextlib.suppress(UsageError):
        emit(read_logs(logs, group, since_ms=started_ms, stream_prefix=spec.log_stream_prefix))
    if result.exit_code != 0:
        raise TaskExitCode(
            result.exit_code,
            f"task {spec.task_arn} stopped: container {spec.container} exited with code {result.exit_code}"
            + (f" ({result.stopped_reason})" if result.stopped_reason else ""),
        )
    return result


def _cluster_exists(ecs: Any, cluster: str) -> bool:
    found = _aws("ecs", "DescribeClusters", ecs.describe_clusters, clusters=[cluster]).get("clusters", [])
    return any(c.get("status") == "ACTIVE" for c in found)


def _aws(service: str, operation: str, call: Callable[..., Any], **kwargs: Any) -> Any:
    try:
        return call(**kwargs)
    except Exception as err:
        raise AwsError(f"{service} {operation} failed: {err}") from None
