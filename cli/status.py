"""``hclforge status``: what runs, read-only: services, rollouts, schedules, alarms."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from hclforge.cli.awsapi import aws, cluster_exists
from hclforge.errors import (
    AwsError,
    HclforgeError,
    printable,
)

# ------------------------------------------------------------------ status


def _iso(value: Any) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value or "")


def service_status(ecs: Any, cfg: Any, *, emulated: bool = False) -> list[dict[str, Any]]:
    """Each configured service as ECS reports it (``missing`` when not in the cluster).

    With ``emulated`` (the local emulator), ``running`` and ``pending`` are None: the
    emulator runs no tasks, and the count it reports is the one it is started with
    (``EMULATOR_PROCESS_SHIMS`` in :mod:`hclforge.shims`), not what runs.
    """
    names = list(cfg.services)
    described: dict[str, dict[str, Any]] = {}
    for i in range(0, len(names), 10):
        if not cluster_exists(ecs, cfg.cluster_name):
            break  # not applied yet: every service is reported missing
        answer = aws(
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
        td = aws("ecs", "DescribeTaskDefinition", ecs.describe_task_definition, taskDefinition=arn)["taskDefinition"]
        image = next((c.get("image") for c in td.get("containerDefinitions", []) if c.get("name") == name), None)
        rows.append(
            {
                "service": name,
                "missing": False,
                "desired": found.get("desiredCount", 0),
                "running": None if emulated else found.get("runningCount", 0),
                "pending": None if emulated else found.get("pendingCount", 0),
                "emulated": emulated,
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


def _kept_shared_outputs(ws: Any) -> Any:
    from hclforge.cli.sharedvalues import kept_outputs

    return kept_outputs(ws)


def status(ws: Any) -> dict[str, Any]:
    """Read-only: services, API endpoint, schedules and alarms of ``ws``'s environment."""
    cfg = ws.loaded.config
    doc: dict[str, Any] = {"environment": ws.env, "cluster": cfg.cluster_name}
    doc["services"] = service_status(ws.aws_client("ecs"), cfg, emulated=ws.on_emulator)
    try:
        # A split environment's endpoint is a shared output, kept after shared applied: no terraform run.
        outputs = _kept_shared_outputs(ws) if cfg.split else ws.outputs()
        doc["api_endpoint"] = (outputs or {}).get("api_endpoint", {}).get("value")
    except HclforgeError as err:  # a damaged state: the rest is read from AWS all the same
        doc["api_endpoint"] = None
        ws.info(f"warning: the api endpoint is unknown: {' '.join(str(err).split())}")
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
        counts = (
            f"desired {s['desired']}, emulated (the emulator runs no tasks)"
            if s.get("emulated")
            else f"running {s['running']}/{s['desired']} pending {s['pending']}"
        )
        lines.append(f"service {s['service']}: {s['rollout']}  {counts}  autoscaling {s['autoscaling']}")
        lines.append(f"  task definition {s['task_definition']}  image {s['image']}")
        lines += [f"  {e['at']}  {printable(e['message'])}" for e in s["events"]]
    for t in doc["schedules"]:
        state = "not created" if t["missing"] else t["state"]
        lines.append(f"schedule {t['task']} ({t['service']}): {t['schedule']} {t['timezone']}  {state}")
    if doc["alarms"] is not None:
        lines.append(f"alarms in ALARM: {len(doc['alarms'])}")
        lines += [f"  ! {a['alarm']}: {printable(a['reason'])}" for a in doc["alarms"]]
    return lines
