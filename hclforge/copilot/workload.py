"""One Copilot workload in one environment, as an hclforge service (and schedule).

Each ``_section`` function reads one part of the manifest's environment view,
writes what it maps into the service's dict, and reports every field it met on the
:class:`~hclforge.copilot.report.Tracker`. Nothing is invented: a value the
manifests do not hold (an image Copilot built) becomes a placeholder that fails
validation and says what to supply.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from typing import Any

from hclforge.copilot import sections
from hclforge.copilot.facts import BACKEND, JOB, LBWS, RDWS, STATIC, WORKER, Alias, Facts
from hclforge.copilot.manifests import Manifest, View
from hclforge.copilot.report import Tracker
from hclforge.copilot.schedule import ScheduleError, convert, duration_seconds
from hclforge.model import RETENTION_DAYS, Service

# What to build instead of a workload type hclforge does not run.
NEAREST = {
    RDWS: (
        "the same image as an hclforge service with port and routes ['$default'] (Fargate behind the "
        "HTTP API), or the App Runner service as an addon"
    ),
    STATIC: "an S3 bucket and CloudFront distribution as an addon (addons/<env>/*.tf); hclforge serves containers",
}


@dataclass
class Workload:
    """What one workload became in one environment."""

    name: str
    kind: str
    tracker: Tracker
    service: dict[str, Any] | None = None
    schedule: dict[str, Any] | None = None
    aliases: list[Alias] = field(default_factory=list)
    spot: bool = False


def map_workload(manifest: Manifest, view: View, facts: Facts) -> Workload:
    """Map ``manifest`` as deployed to ``facts.env``.

    Args:
        manifest: the workload's manifest.
        view: its view in the environment (:func:`hclforge.copilot.manifests.for_env`).
        facts: the environment's region, account and ``--image`` values.
    """
    data = view.data
    tracker = Tracker(manifest, view, facts.env)
    kind = data.get("type")
    name = data.get("name") if isinstance(data.get("name"), str) else manifest.name
    work = Workload(str(name), str(kind), tracker)
    tracker.mapped(("name",), f"services.{name}")
    if kind in NEAREST:
        tracker.unsupported(("type",), f"{kind}: not imported; nearest: {NEAREST[kind]}")
        for key in data:
            if key not in ("name", "type"):
                tracker.unsupported((key,), f"part of a {kind}, which is not imported")
        return work
    if kind not in (LBWS, BACKEND, WORKER, JOB):
        tracker.unsupported(("type",), f"unknown workload type {kind!r}; not imported")
        for key in data:
            if key not in ("name", "type"):
                tracker.unsupported((key,), "part of a workload that is not imported")
        return work
    svc: dict[str, Any] = {}
    work.service = svc
    _type(work, kind)
    _image(work, data, facts)
    for key, target in (("cpu", "cpu"), ("memory", "memory")):
        if key in data:
            svc[target] = data[key]
            tracker.mapped((key,), f"services.{name}.{target}: {data[key]}")
    _count(work, data)
    _platform(work, data)
    _exec(work, data)
    _command(work, data)
    svc_env = sections.variables(tracker, ("variables",), data.get("variables"), f"services.{name}.environment")
    if svc_env:
        svc["environment"] = svc_env
    secrets = sections.secrets(tracker, ("secrets",), data.get("secrets"), facts, f"services.{name}.secrets")
    if secrets:
        svc["secrets"] = secrets
    _storage(work, data)
    _logging(work, data)
    sections.sidecars(work, data, facts)
    sections.http(work, data)
    sections.network(work, data)
    sections.unsupported_sections(tracker, data)
    if kind == JOB:
        _job(work, data)
    order = list(Service.model_fields)
    work.service = dict(sorted(svc.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else len(order)))
    return work


def _type(work: Workload, kind: str) -> None:
    name, svc = work.name, work.service
    assert svc is not None
    if kind == JOB:
        svc["desired_count"] = 0
        work.tracker.changed(
            ("type",),
            f"{kind} → services.{name} with desired_count 0 (it holds the task definition; no task runs "
            f"between schedules) and scheduled_tasks.{name}",
        )
    elif kind == WORKER:
        work.tracker.changed(
            ("type",), f"{kind} → services.{name} without port or routes (its queue is not imported: see subscribe)"
        )
    elif kind == BACKEND:
        work.tracker.mapped(("type",), f"{kind} → services.{name}, reached by other services through calls")
    else:
        work.tracker.mapped(("type",), f"{kind} → services.{name} behind the HTTP API")


def _image(work: Workload, data: dict[str, Any], facts: Facts) -> None:
    t, name, svc = work.tracker, work.name, work.service
    assert svc is not None
    image = data.get("image")
    given = facts.images.get(name)
    if not isinstance(image, dict):
        if image is not None:
            t.unsupported(("image",), "not a map of build/location/port; not imported")
        image = {}
    if "location" in image:
        location = image["location"]
        if given is not None:
            svc["image"] = given
            t.changed(("image", "location"), f"services.{name}.image: {given} (from --image, not {location})")
        elif ("image", "location") in t.view.unset:
            svc["image"] = location
            missing = ", ".join(t.view.unset[("image", "location")])
            t.changed(
                ("image", "location"),
                f"services.{name}.image keeps ${{{missing}}} (not set in this shell) and fails validation: "
                f"set it and import again, or pass --image {name}=URI",
            )
        else:
            svc["image"] = location
            t.mapped(("image", "location"), f"services.{name}.image: {location}")
    if "build" in image:
        build = image["build"]
        dockerfile = build if isinstance(build, str) else (build or {}).get("dockerfile", "Dockerfile")
        if given is not None:
            svc["image"] = given
            t.changed(("image", "build"), f"services.{name}.image: {given} (from --image; Copilot built {dockerfile})")
        else:
            svc["image"] = f"<built by Copilot from {dockerfile}: pass --image {name}=URI>"
            t.changed(
                ("image", "build"),
                f"Copilot built the image from {dockerfile}: services.{name}.image is a placeholder that fails "
                f"validation until you push the image and import again with --image {name}=URI",
            )
    if "image" not in svc:
        svc["image"] = given or f"<no image in the manifest: pass --image {name}=URI>"
        if given is None:
            t.changed(
                ("image",),
                f"no image.location or image.build in this environment: services.{name}.image is a placeholder "
                f"that fails validation; pass --image {name}=URI",
            )
    if "port" in image:
        if work.kind == JOB:
            t.unsupported(("image", "port"), "a Scheduled Job takes no traffic; the port is not imported")
        else:
            port = image["port"]
            svc["port"] = int(port) if isinstance(port, int) or str(port).isdigit() else port
            t.mapped(("image", "port"), f"services.{name}.port: {port}")
    if "healthcheck" in image:
        sections.health_check(t, ("image", "healthcheck"), image["healthcheck"], svc, f"services.{name}.health_check")
    for key in image:
        if key in ("location", "build", "port", "healthcheck", "depends_on"):
            continue
        t.unsupported(("image", key), _IMAGE_KEYS.get(key, "hclforge has no equivalent; not imported"))


_IMAGE_KEYS = {
    "labels": "Docker labels on the container are not rendered; not imported",
    "credentials": "private-registry credentials (repositoryCredentials) are not rendered; nearest: push the image "
    "to ECR, or grant the execution role the secret with iam.execution_role.extra_policy_arns",
    "context": "part of a Docker build; hclforge takes a built image (--image)",
    "dockerfile": "part of a Docker build; hclforge takes a built image (--image)",
}


def _count(work: Workload, data: dict[str, Any]) -> None:
    t, name, svc = work.tracker, work.name, work.service
    assert svc is not None
    if "count" not in data or work.kind == JOB:
        if "count" in data:
            t.unsupported(("count",), "a Scheduled Job runs one task per schedule; not imported")
        return
    count = data["count"]
    if isinstance(count, int) and not isinstance(count, bool):
        svc["desired_count"] = count
        t.mapped(("count",), f"services.{name}.desired_count: {count}")
        return
    if not isinstance(count, dict):
        t.unsupported(("count",), "not a number or a map; not imported")
        return
    if "spot" in count:
        svc["desired_count"] = count["spot"]
        svc["capacity"] = {"FARGATE_SPOT": {"weight": 1}}
        work.spot = True
        t.changed(
            ("count", "spot"),
            f"services.{name}.desired_count: {count['spot']}, all on Fargate Spot "
            f"(capacity: {{FARGATE_SPOT: {{weight: 1}}}}; cluster.capacity_providers gains FARGATE_SPOT)",
        )
    sections.autoscaling(work, count)


def _platform(work: Workload, data: dict[str, Any]) -> None:
    t, svc = work.tracker, work.service
    assert svc is not None
    if "platform" not in data:
        return
    value = data["platform"]
    os_name, arch = ("", "")
    if isinstance(value, str) and "/" in value:
        os_name, _, arch = value.lower().partition("/")
    elif isinstance(value, dict):
        os_name = str(value.get("osfamily", "linux")).lower()
        arch = str(value.get("architecture", "")).lower()
    if not os_name.startswith("linux"):
        t.unsupported(("platform",), f"{value}: hclforge runs Linux tasks only; not imported")
        return
    architecture = {"arm64": "ARM64", "arm": "ARM64", "x86_64": "X86_64", "amd64": "X86_64"}.get(arch)
    if architecture is None:
        t.unsupported(("platform",), f"{value}: unknown architecture (allowed: linux/x86_64, linux/arm64)")
        return
    svc["cpu_architecture"] = architecture
    t.mapped(("platform",), f"services.{work.name}.cpu_architecture: {architecture}")


def _exec(work: Workload, data: dict[str, Any]) -> None:
    assert work.service is not None
    if "exec" not in data:
        return
    value = data["exec"]
    enabled = value.get("enable", True) if isinstance(value, dict) else value
    if isinstance(enabled, bool):
        work.service["exec"] = enabled
        work.tracker.mapped(("exec",), f"services.{work.name}.exec: {str(enabled).lower()}")
    else:
        work.tracker.unsupported(("exec",), "not true or false; not imported")


def _command(work: Workload, data: dict[str, Any]) -> None:
    t, svc = work.tracker, work.service
    assert svc is not None
    if "command" in data:
        command = data["command"]
        if isinstance(command, str):
            svc["command"] = shlex.split(command)
            t.changed(("command",), f"services.{work.name}.command: split into words as Copilot does")
        elif isinstance(command, list):
            svc["command"] = [str(c) for c in command]
            t.mapped(("command",), f"services.{work.name}.command")
    if "entrypoint" in data:
        t.unsupported(
            ("entrypoint",),
            "hclforge sets no entrypoint; nearest: set ENTRYPOINT in the image, or fold it into command",
        )


def _storage(work: Workload, data: dict[str, Any]) -> None:
    t, name, svc = work.tracker, work.name, work.service
    assert svc is not None
    storage = data.get("storage")
    if not isinstance(storage, dict):
        return
    if "ephemeral" in storage:
        size = storage["ephemeral"]
        if isinstance(size, int) and size <= 20:
            t.changed(("storage", "ephemeral"), "20 GiB is Fargate's default: left unset (same size)")
        else:
            svc["ephemeral_storage_gib"] = size
            t.mapped(("storage", "ephemeral"), f"services.{name}.ephemeral_storage_gib: {size}")
    if "readonly_fs" in storage:
        svc["readonly_root_filesystem"] = bool(storage["readonly_fs"])
        t.changed(
            ("storage", "readonly_fs"),
            f"services.{name}.readonly_root_filesystem: {str(bool(storage['readonly_fs'])).lower()} "
            "(hclforge mounts a writable /tmp)",
        )
    for volume, spec in (storage.get("volumes") or {}).items():
        kind = "EFS" if isinstance(spec, dict) and spec.get("efs") else "task"
        t.unsupported(
            ("storage", "volumes", volume),
            f"{kind} volume mounted at {spec.get('path') if isinstance(spec, dict) else '?'}: hclforge mounts no "
            "volumes; nearest: the file system as an addon (addons/<env>/*.tf), or move the data to S3 or a database",
        )


def _logging(work: Workload, data: dict[str, Any]) -> None:
    t, svc = work.tracker, work.service
    assert svc is not None
    logging = data.get("logging")
    if not isinstance(logging, dict):
        return
    for key, value in logging.items():
        if key == "retention" and value in RETENTION_DAYS:
            svc["log_retention_days"] = value
            t.mapped(("logging", "retention"), f"services.{work.name}.log_retention_days: {value}")
        else:
            t.unsupported(
                ("logging", key),
                "FireLens routing is not rendered: hclforge sends container logs to CloudWatch Logs (awslogs); "
                "nearest: a log-router sidecar",
            )


def _job(work: Workload, data: dict[str, Any]) -> None:
    t, name = work.tracker, work.name
    on = data.get("on")
    schedule = on.get("schedule") if isinstance(on, dict) else None
    if isinstance(on, dict):
        for key in on:
            if key != "schedule":
                t.unsupported(("on", key), "only on.schedule triggers a task in hclforge")
    if not isinstance(schedule, str):
        t.unsupported(("on",), "no on.schedule: nothing would start the job; no schedule imported")
    else:
        try:
            converted = convert(schedule)
        except ScheduleError as err:
            t.unsupported(("on", "schedule"), f"{err}; no schedule imported")
        else:
            work.schedule = {"service": name, "schedule": converted.expression}
            if converted.timezone != "UTC":
                work.schedule["timezone"] = converted.timezone
            same = converted.expression == schedule.strip()
            (t.mapped if same else t.changed)(
                ("on", "schedule"),
                f"scheduled_tasks.{name}.schedule: {converted.expression}"
                + ("" if same else f" (EventBridge Scheduler form of {schedule!r}, UTC)"),
            )
    if "retries" in data:
        t.unsupported(
            ("retries",),
            f"{data['retries']}: Copilot re-ran a failed task from a Step Functions state machine; EventBridge "
            "Scheduler retries only a failed RunTask call; nearest: retry inside the command",
        )
    if "timeout" in data:
        try:
            seconds = int(duration_seconds(str(data["timeout"])))
        except ScheduleError:
            seconds = 0
        hint = f"e.g. command: [timeout, '{seconds}', ...]" if seconds else "a timeout in the command"
        t.unsupported(
            ("timeout",),
            f"{data['timeout']}: nothing in hclforge stops a running task; nearest: {hint} in the job's command",
        )
