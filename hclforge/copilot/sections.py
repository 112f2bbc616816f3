"""The parts of a workload manifest that repeat or stand alone: variables, secrets, sidecars, HTTP, scaling.

Each function reads one part of an environment's view of a manifest, returns or
writes the hclforge values, and reports every field it met on the tracker.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from hclforge.copilot.facts import BACKEND, LBWS, Alias, Facts
from hclforge.copilot.report import Tracker
from hclforge.copilot.schedule import ScheduleError, duration_seconds
from hclforge.model import ENV_KEY_RE
from hclforge.rules import ROUTE_RE
from hclforge.source import YamlPath

if TYPE_CHECKING:
    from hclforge.copilot.workload import Workload


def _texts(tracker: Tracker, path: YamlPath, value: Any) -> str:
    """A scalar as Copilot reads it into a string: the source text of ``on``, ``1.10``, ``012``."""
    if isinstance(value, str):
        return value
    source = tracker.view.source.get(path, path)
    text = tracker.manifest.doc.texts.get(source)
    if text is not None:
        return text
    return str(value).lower() if isinstance(value, bool) else str(value)


def variables(tracker: Tracker, path: YamlPath, value: Any, target: str) -> dict[str, str]:
    """``variables`` → ``environment``: plain values only; ``from_cfn`` and unset ``${VAR}`` are reported."""
    out: dict[str, str] = {}
    if not isinstance(value, dict):
        if value is not None:
            tracker.unsupported(path, "not a map of NAME: value; not imported")
        return out
    for key, item in value.items():
        where = (*path, key)
        if isinstance(item, dict) and "from_cfn" in item:
            tracker.unsupported(
                where,
                f"from_cfn {item['from_cfn']}: a CloudFormation export is not read; nearest: look it up "
                "(aws cloudformation list-exports) and write the value",
            )
        elif not re.fullmatch(ENV_KEY_RE, str(key)):
            tracker.unsupported(where, f"'{key}' is not a variable name hclforge accepts ({ENV_KEY_RE}); not imported")
        elif item is None or isinstance(item, dict | list):
            tracker.unsupported(where, "not a plain value; not imported")
        elif where in tracker.view.unset:
            names = ", ".join(tracker.view.unset[where])
            tracker.unsupported(where, f"needs ${{{names}}}, which this shell does not set: set it and import again")
        else:
            out[str(key)] = _texts(tracker, where, item)
            shell = tracker.view.shell.get(where)
            note = f" (${{{', '.join(shell)}}} from this shell)" if shell else ""
            (tracker.changed if note else tracker.mapped)(where, f"{target}.{key}{note}")
    return out


def secrets(tracker: Tracker, path: YamlPath, value: Any, facts: Facts, target: str) -> dict[str, str]:
    """``secrets`` → ARNs: SSM parameter and Secrets Manager names get the environment's region and account."""
    out: dict[str, str] = {}
    if not isinstance(value, dict):
        if value is not None:
            tracker.unsupported(path, "not a map of NAME: parameter; not imported")
        return out
    for key, item in value.items():
        where = (*path, key)
        if not re.fullmatch(ENV_KEY_RE, str(key)):
            tracker.unsupported(where, f"'{key}' is not a variable name hclforge accepts ({ENV_KEY_RE}); not imported")
            continue
        unset = where in tracker.view.unset or (*where, "secretsmanager") in tracker.view.unset
        if isinstance(item, dict) and "from_cfn" in item:
            tracker.unsupported(
                where,
                f"from_cfn {item['from_cfn']}: a CloudFormation export is not read; nearest: look up the "
                "secret's ARN (aws cloudformation list-exports) and write it under secrets",
            )
            continue
        if isinstance(item, dict) and isinstance(item.get("secretsmanager"), str):
            name = item["secretsmanager"]
            arn = name if name.startswith("arn:") else facts.arn("secretsmanager", f"secret:{name}", tracker, where)
            detail = "a Secrets Manager ARN" if name.startswith("arn:") else f"Secrets Manager secret {name} as its ARN"
        elif isinstance(item, str):
            name = item
            arn = name if name.startswith("arn:") else facts.arn("ssm", f"parameter/{name.lstrip('/')}", tracker, where)
            detail = "an ARN" if name.startswith("arn:") else f"SSM parameter {name} as its ARN"
        else:
            tracker.unsupported(where, "not a parameter name, ARN or {secretsmanager: NAME}; not imported")
            continue
        out[str(key)] = arn
        if unset:
            tracker.changed(where, f"{target}.{key} keeps an unset ${{VAR}}: it fails validation until it is set")
        elif arn == name:
            tracker.mapped(where, f"{target}.{key}: {detail}")
        else:
            tracker.changed(where, f"{target}.{key}: {arn} ({detail}, in {facts.region})")
    return out


# Copilot's container health check defaults (NewDefaultContainerHealthCheck), and ECS's limits.
_HC_DEFAULTS = {"interval": 10, "retries": 2, "timeout": 5, "start_period": 0}
_HC_LIMITS = {"interval": (5, 300), "retries": (1, 10), "timeout": (2, 120), "start_period": (0, 300)}
_HC_DEFAULT_COMMAND = ["CMD-SHELL", "curl -f http://localhost/ || exit 1"]


def health_check(tracker: Tracker, path: YamlPath, value: Any, into: dict[str, Any], target: str) -> None:
    """``healthcheck`` → ``health_check``, Copilot's defaults written for what it leaves unset."""
    if not isinstance(value, dict):
        tracker.unsupported(path, "not a map of command/interval/retries/timeout/start_period; not imported")
        return
    command = value.get("command")
    check: dict[str, Any] = {"command": [str(c) for c in command] if isinstance(command, list) else _HC_DEFAULT_COMMAND}
    notes = [] if isinstance(command, list) else ["Copilot's default command"]
    if isinstance(command, str):
        check["command"] = ["CMD-SHELL", command]
        notes = ["a string command runs in a shell (CMD-SHELL)"]
    for key, default in _HC_DEFAULTS.items():
        raw = value.get(key, default)
        try:
            number = int(raw) if key == "retries" else int(duration_seconds(str(raw)) if isinstance(raw, str) else raw)
        except (ScheduleError, ValueError, TypeError):
            tracker.unsupported((*path, key), f"{raw!r} is not a duration; left to hclforge's default")
            continue
        low, high = _HC_LIMITS[key]
        if not low <= number <= high:
            notes.append(f"{key} {raw} is outside ECS's {low}-{high}: hclforge's default used")
            continue
        check[key] = number
        if key not in value:
            notes.append(f"{key} {default} (Copilot's default)")
    into["health_check"] = check
    detail = target + (f" ({'; '.join(notes)})" if notes else "")
    (tracker.changed if notes else tracker.mapped)(path, detail)


def autoscaling(work: Workload, count: dict[str, Any]) -> None:
    """``count.range`` with ``cpu_percentage``/``memory_percentage`` → ``autoscaling``; ``spot_from`` → a mix."""
    t, name, svc = work.tracker, work.name, work.service
    assert svc is not None
    scaling: dict[str, Any] = {}
    rng = count.get("range")
    low = high = None
    if isinstance(rng, str) and re.fullmatch(r"\d+-\d+", rng.strip()):
        low, high = (int(x) for x in rng.strip().split("-"))
    elif isinstance(rng, dict) and isinstance(rng.get("min"), int) and isinstance(rng.get("max"), int):
        low, high = rng["min"], rng["max"]
    elif rng is not None:
        t.unsupported(("count", "range"), f"{rng!r} is not MIN-MAX or {{min, max}}; not imported")
    for key, field in (("cpu_percentage", "cpu_target"), ("memory_percentage", "memory_target")):
        if key not in count:
            continue
        raw = count[key]
        target = raw.get("value") if isinstance(raw, dict) else raw
        if isinstance(target, int | float) and not isinstance(target, bool):
            scaling[field] = target
            t.mapped(("count", key) if not isinstance(raw, dict) else ("count", key, "value"), f"autoscaling.{field}")
        else:
            t.unsupported(("count", key), f"{raw!r} is not a percentage; not imported")
        if isinstance(raw, dict) and "cooldown" in raw:
            t.unsupported(("count", key, "cooldown"), "hclforge's target tracking keeps AWS's default cooldowns")
    for key, why in (
        ("requests", "scaling on requests per task reads the ALB's metric; hclforge scales on CPU or memory"),
        ("response_time", "scaling on response time reads the ALB's metric; hclforge scales on CPU or memory"),
        ("queue_delay", "scaling on the queue's backlog needs the Worker Service's queue, which is not imported"),
        ("cooldown", "hclforge's target tracking keeps AWS's default cooldowns"),
    ):
        if key in count:
            t.unsupported(("count", key), why)
    if low is None or high is None:
        if scaling:
            for key in ("cpu_percentage", "memory_percentage"):
                if key in count:
                    t.unsupported(("count", key), "no count.range to scale within; not imported")
        return
    svc["desired_count"] = low
    if scaling:
        svc["autoscaling"] = {"min": low, "max": high, **scaling}
        t.changed(("count", "range"), f"services.{name}.autoscaling min {low}, max {high}; desired_count {low}")
    else:
        t.changed(
            ("count", "range"),
            f"no CPU or memory target, so no autoscaling: services.{name}.desired_count {low} "
            "(hclforge scales on CPU or memory only)",
        )
    spot_from = rng.get("spot_from") if isinstance(rng, dict) else None
    if isinstance(spot_from, int):
        work.spot = True
        base = max(spot_from - 1, 0)
        mix: dict[str, Any] = {"FARGATE_SPOT": {"weight": 1}}
        if spot_from >= low and base > 0:
            mix["FARGATE"] = {"base": base, "weight": 0}
        svc["capacity"] = mix
        t.changed(
            ("count", "range", "spot_from"),
            f"services.{name}.capacity: the first {base} task(s) on FARGATE, the rest on FARGATE_SPOT",
        )


def sidecars(work: Workload, data: dict[str, Any], facts: Facts) -> None:
    """``sidecars`` → ``sidecars``, and ``image.depends_on: {S: start}`` → ``depends_on_main``."""
    t, svc = work.tracker, work.service
    assert svc is not None
    cars = data.get("sidecars")
    out: dict[str, Any] = {}
    names: dict[str, str] = {}
    for side, spec in (cars or {}).items() if isinstance(cars, dict) else ():
        base: YamlPath = ("sidecars", side)
        if not isinstance(spec, dict):
            t.unsupported(base, "not a map; not imported")
            continue
        name = re.sub(r"[^a-z0-9-]+", "-", str(side).lower()).strip("-") or "sidecar"
        if name != side:
            t.changed(base, f"the container is named {name} (hclforge's sidecar names are ^[a-z][a-z0-9-]{{0,31}}$)")
        names[str(side)] = name
        target = f"services.{work.name}.sidecars.{name}"
        car: dict[str, Any] = {}
        image = spec.get("image")
        if isinstance(image, dict):
            image = image.get("location")
        if isinstance(image, str) and (*base, "image") in t.view.unset:
            car["image"] = image
            t.changed((*base, "image"), f"{target}.image keeps an unset ${{VAR}}: it fails validation until it is set")
        elif isinstance(image, str):
            car["image"] = image
            t.mapped((*base, "image"), f"{target}.image")
        else:
            car["image"] = f"<sidecar {side}: give the image URI>"
            t.changed((*base, "image"), f"{target}.image: a placeholder (no image location) that fails validation")
        port = spec.get("port")
        if port is not None:
            number, _, proto = str(port).partition("/")
            if number.isdigit() and proto.lower() in ("", "tcp"):
                car["port"] = int(number)
                t.mapped((*base, "port"), f"{target}.port: {number}")
            else:
                t.unsupported((*base, "port"), f"{port}: only a TCP port maps; not imported")
        if isinstance(spec.get("essential"), bool):
            car["essential"] = spec["essential"]
            t.mapped((*base, "essential"), f"{target}.essential")
        command = spec.get("command")
        if isinstance(command, str | list):
            car["command"] = command.split() if isinstance(command, str) else [str(c) for c in command]
            t.mapped((*base, "command"), f"{target}.command")
        env = variables(t, (*base, "variables"), spec.get("variables"), f"{target}.environment")
        if env:
            car["environment"] = env
        secret_arns = secrets(t, (*base, "secrets"), spec.get("secrets"), facts, f"{target}.secrets")
        if secret_arns:
            car["secrets"] = secret_arns
        for key in spec:
            if key not in ("image", "port", "essential", "command", "variables", "secrets"):
                t.unsupported((*base, key), _SIDECAR_KEYS.get(key, "hclforge has no equivalent for a sidecar"))
        out[name] = car
    depends = (data.get("image") or {}).get("depends_on") if isinstance(data.get("image"), dict) else None
    for side, condition in (depends or {}).items() if isinstance(depends, dict) else ():
        where = ("image", "depends_on", side)
        name = names.get(str(side), str(side))
        if name in out and str(condition).lower() == "start":
            out[name]["depends_on_main"] = True
            t.mapped(where, f"services.{work.name}.sidecars.{name}.depends_on_main: true")
        else:
            t.unsupported(where, f"{side}: {condition}: only 'start' on a sidecar maps (depends_on_main)")
    if out:
        svc["sidecars"] = out


_SIDECAR_KEYS = {
    "healthcheck": "a sidecar's own health check is not rendered",
    "mount_points": "hclforge mounts no volumes",
    "depends_on": "a sidecar's start order is not rendered (only the main container's, depends_on_main)",
    "labels": "Docker labels are not rendered",
    "credentialsParameter": "private-registry credentials are not rendered; nearest: push the image to ECR",
    "env_file": "an S3 env file is not read; nearest: write the variables under variables",
    "entrypoint": "hclforge sets no entrypoint; nearest: set it in the image",
    "user": "the container user is not rendered; nearest: set USER in the image",
}


def http(work: Workload, data: dict[str, Any]) -> None:
    """``http``: a public path → routes, ``alias`` → a domain candidate; a Backend Service's is internal."""
    t, name, svc = work.tracker, work.name, work.service
    assert svc is not None
    value = data.get("http")
    if value is None:
        return
    if value is False:
        t.mapped(("http",), "no HTTP load balancer: no routes")
        return
    if not isinstance(value, dict):
        t.unsupported(("http",), "not a map or false; not imported")
        return
    if work.kind == BACKEND:
        t.unsupported(
            ("http",),
            "a Backend Service's internal load balancer is not rendered: other services reach it at "
            f"http://{name}.<namespace>:{svc.get('port', 'PORT')} through calls (see network.connect)",
        )
        return
    if work.kind != LBWS:
        t.unsupported(("http",), f"a {work.kind} takes no HTTP traffic; not imported")
        return
    routes: list[str] = []
    _rule(work, ("http",), value, routes, main=True)
    if "additional_rules" in value:
        t.cover(("http", "additional_rules"))
    for i, rule in enumerate(value.get("additional_rules") or []):
        if isinstance(rule, dict):
            _rule(work, ("http", "additional_rules", i), rule, routes, main=False)
        else:
            t.unsupported(("http", "additional_rules", i), "not a map; not imported")
    if routes:
        svc["routes"] = list(dict.fromkeys(routes))


_HTTP_KEYS = {
    "healthcheck": "API Gateway does not health-check targets; ECS uses the container health check (image.healthcheck)",
    "deregistration_delay": "there is no target group to drain; ECS stops tasks after stop_timeout",
    "stickiness": "API Gateway has no sticky sessions",
    "allowed_source_ips": "an HTTP API has no source-IP rule; nearest: a Lambda authorizer, or AWS WAF in front",
    "alb": "the routes go to the HTTP API, not to an imported load balancer",
    "version": "API Gateway speaks HTTP/1.1 and HTTP/2 to clients and HTTP/1.1 to the service; gRPC is not supported",
    "target_container": "routes reach the main container only",
    "target_port": "routes reach the main container's port only",
}


def _rule(work: Workload, base: YamlPath, rule: dict[str, Any], routes: list[str], *, main: bool) -> None:
    t, name, svc = work.tracker, work.name, work.service
    assert svc is not None
    target_port = rule.get("target_port")
    target_container = rule.get("target_container")
    elsewhere = (target_port is not None and target_port != svc.get("port")) or (
        target_container is not None and target_container != name
    )
    for key, value in rule.items():
        where = (*base, key)
        if key in ("additional_rules",):
            continue
        if key == "path":
            if elsewhere:
                t.unsupported(where, f"{value}: goes to another container or port; {_HTTP_KEYS['target_port']}")
            else:
                _path(t, where, value, routes, f"services.{name}.routes")
        elif key in ("target_port", "target_container") and not elsewhere:
            t.mapped(where, "the main container: routes go there")
        elif key == "alias":
            work.aliases.extend(_aliases(t, where, value, rule.get("hosted_zone"), name))
        elif key == "hosted_zone":
            t.mapped(where, "api.domain.zone_id (with http.alias)")
        elif key == "redirect_to_https":
            t.changed(where, "API Gateway serves HTTPS only" + ("" if value else ": plain HTTP is no longer served"))
        elif key == "version" and str(value).lower() in ("http1", "http2"):
            t.changed(where, f"{value}: {_HTTP_KEYS['version']}")
        else:
            t.unsupported(where, _HTTP_KEYS.get(key, "hclforge has no equivalent; not imported"))


def _path(t: Tracker, where: YamlPath, value: Any, routes: list[str], target: str) -> None:
    """ALB path → route keys: ``/`` (every path) → ``$default``; ``api`` → ``ANY /api`` and ``ANY /api/{proxy+}``."""
    path = str(value).strip().rstrip("/") if value is not None else ""
    if path in ("", "/") or path.strip("/") == "":
        routes.append("$default")
        t.changed(where, f"{target}: $default (API Gateway's catch-all, like the ALB's '/*' rule)")
        return
    path = "/" + path.lstrip("/")
    keys = [f"ANY {path}", f"ANY {path}/{{proxy+}}"]
    if not all(ROUTE_RE.fullmatch(k) for k in keys):
        t.unsupported(
            where, f"{value!r}: wildcards and these characters have no HTTP API route key; write routes by hand"
        )
        return
    routes.extend(keys)
    t.changed(where, f"{target}: {keys[0]}, {keys[1]} (the ALB's {path} and {path}/*)")


def _aliases(t: Tracker, where: YamlPath, value: Any, zone: Any, service: str) -> list[Alias]:
    items: list[tuple[str, Any]] = []
    if isinstance(value, str):
        items = [(value, zone)]
    elif isinstance(value, list):
        for entry in value:
            if isinstance(entry, str):
                items.append((entry, zone))
            elif isinstance(entry, dict) and isinstance(entry.get("name"), str):
                items.append((entry["name"], entry.get("hosted_zone", zone)))
    if not items:
        t.unsupported(where, "not a name, a list of names or of {name, hosted_zone}; not imported")
    return [Alias(n, z if isinstance(z, str) else None, service, where) for n, z in items]


def network(work: Workload, data: dict[str, Any]) -> None:
    """``network.vpc``: hclforge places every task in the private subnets, with its own security group."""
    t = work.tracker
    vpc = (data.get("network") or {}).get("vpc") if isinstance(data.get("network"), dict) else None
    if not isinstance(vpc, dict):
        return
    for key in vpc:
        where = ("network", "vpc", key)
        if key == "placement":
            t.changed(
                where,
                "hclforge runs every task in network.private_subnet_ids without a public IP "
                "(they reach AWS through a NAT gateway or VPC endpoints)",
            )
        elif key == "security_groups":
            t.unsupported(
                where,
                "extra security groups are not attached; nearest: let the resource's group admit the service's "
                f"group ({'<project>-<env>'}-{work.name}-tasks) in an addon",
            )
        else:
            t.unsupported(where, "hclforge has no equivalent; not imported")


_SECTIONS = {
    "nlb": "a Network Load Balancer is not rendered: the entry point is the HTTP API; nearest: an NLB as an addon "
    "(addons/<env>/*.tf) targeting the service, or HTTP routes when the traffic is HTTP",
    "publish": "SNS topics are not rendered; nearest: the topics as an addon, granted to the task role with "
    "permissions.statements (COPILOT_SNS_TOPIC_ARNS is not set)",
    "subscribe": "the Worker Service's SQS queue and subscriptions are not rendered; nearest: the queue as an addon "
    "(addons/<env>/*.tf), its URL under variables and sqs:ReceiveMessage/DeleteMessage in "
    "permissions.statements (COPILOT_QUEUE_URI is not set)",
    "deployment": "hclforge deploys rolling with the ECS circuit breaker; rollback alarms are not rendered",
    "observability": "X-Ray tracing is not rendered; nearest: an OpenTelemetry collector sidecar",
    "taskdef_overrides": "CloudFormation patches do not apply to Terraform; nearest: a field of the YAML, or an addon",
    "tags": "hclforge tags per environment (tags:), not per service",
    "env_file": "an S3 env file is not read; nearest: write the variables under variables",
}


def unsupported_sections(tracker: Tracker, data: dict[str, Any]) -> None:
    """Whole sections hclforge does not render, each with the nearest way to build it."""
    for key, why in _SECTIONS.items():
        if key in data:
            tracker.unsupported((key,), why)
