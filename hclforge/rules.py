"""Domain rules: what the typed model cannot say on its own.

Each rule yields ``(yaml_path, message)``; the loader attaches file and line.
Messages say what is wrong and what is allowed. Secret values are never echoed.
"""

from __future__ import annotations

import ipaddress
import re
import zoneinfo
from collections.abc import Iterator
from functools import cache

from hclforge.model import RETENTION_DAYS, EnvConfig, Service
from hclforge.source import YamlPath

Finding = tuple[YamlPath, str]

# AWS Fargate task sizes: cpu -> allowed memory (MiB).
FARGATE_MEMORY: dict[int, tuple[int, ...]] = {
    256: (512, 1024, 2048),
    512: tuple(range(1024, 4096 + 1, 1024)),
    1024: tuple(range(2048, 8192 + 1, 1024)),
    2048: tuple(range(4096, 16384 + 1, 1024)),
    4096: tuple(range(8192, 30720 + 1, 1024)),
    8192: tuple(range(16384, 61440 + 1, 4096)),
    16384: tuple(range(32768, 122880 + 1, 8192)),
}

ROUTE_METHODS = ("ANY", "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
_SEGMENT = r"([A-Za-z0-9._~-]+|\{[A-Za-z_][A-Za-z0-9_]*\})"
ROUTE_RE = re.compile(rf"^({'|'.join(ROUTE_METHODS)}) (/|(/{_SEGMENT})*(/\{{[A-Za-z_][A-Za-z0-9_]*\+\}})?)$")
SECRET_ARN_RE = re.compile(
    r"^arn:aws[a-z-]*:(secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:[A-Za-z0-9/_+=.@-]+(:[A-Za-z0-9_-]*:[A-Za-z0-9_-]*:[A-Za-z0-9_-]*)?"
    r"|ssm:[a-z0-9-]+:[0-9]{12}:parameter/[A-Za-z0-9/_.-]+)$"
)
DNS_LABEL_RE = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")
ACM_ARN_RE = re.compile(r"arn:aws[a-z-]*:acm:(?P<region>[a-z0-9-]+):[0-9]{12}:certificate/[A-Za-z0-9-]{1,128}")
SNS_ARN_RE = re.compile(r"arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?")
SCOPE_RE = re.compile(r"[\x21\x23-\x5B\x5D-\x7E]{1,256}")
KMS_KEY_ARN_RE = re.compile(r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/(mrk-)?[0-9a-f-]{32,36}$")
POLICY_ARN_RE = re.compile(r"^arn:aws[a-z-]*:iam::(aws|[0-9]{12}):policy/[A-Za-z0-9+=,.@_/-]+$")
IMAGE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/:@-]*$")
SCHEDULE_NAME_RE = re.compile(r"^[0-9a-zA-Z_.-]{1,64}$")
ECS_NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
RESERVED_TAGS = ("Project", "Environment", "ManagedBy")


def route_slug(route: str) -> str:
    """Stable, readable Terraform name of a route key: ``ANY /api/{proxy+}`` -> ``any_api_proxy``."""
    if route == "$default":
        return "default"
    method, _, path = route.partition(" ")
    words = [w.lower() for w in re.findall(r"[A-Za-z0-9]+", path)] or ["root"]
    return "_".join([method.lower(), *words])


def identifier(name: str) -> str:
    """Terraform identifier of a user name: ``api-gw`` -> ``api_gw``."""
    return name.replace("-", "_")


def route_address(service: str, route: str) -> str:
    """The route's resource name: service identifier plus route slug."""
    return f"{identifier(service)}_{route_slug(route)}"


def check_rules(cfg: EnvConfig) -> list[Finding]:
    """Run every domain rule on a validated config.

    Args:
        cfg: the environment, as the model validated it.

    Returns:
        ``(yaml_path, message)`` for every violation, in a stable order.
    """
    rules = (
        _network,
        _auth,
        _backend,
        _cluster,
        _api,
        _services,
        _calls,
        _routes,
        _scheduled,
        _names,
        _tags,
        _domain,
        _alarms,
        _capacity,
        _containers,
        _egress_images,
        _quotas,
        _emulator,
        _state,
    )
    return [finding for rule in rules for finding in rule(cfg)]


def _network(cfg: EnvConfig) -> Iterator[Finding]:
    net = cfg.network
    existing = net.vpc_id is not None or net.private_subnet_ids is not None
    if existing and net.create is not None:
        yield ("network",), "give either vpc_id + private_subnet_ids or create, not both"
    elif not existing and net.create is None:
        yield ("network",), "give either vpc_id + private_subnet_ids (an existing VPC) or create: {cidr: ...}"
    elif existing:
        if net.vpc_id is None:
            yield ("network", "vpc_id"), "required with private_subnet_ids"
        if not net.private_subnet_ids:
            yield ("network", "private_subnet_ids"), "at least one private subnet id is required with vpc_id"
        elif len(set(net.private_subnet_ids)) != len(net.private_subnet_ids):
            yield ("network", "private_subnet_ids"), "subnet ids must be unique"
    if net.create is not None:
        try:
            cidr = ipaddress.IPv4Network(net.create.cidr, strict=True)
        except ValueError as err:
            yield ("network", "create", "cidr"), f"'{net.create.cidr}' is not an IPv4 network CIDR ({err})"
            return
        if not 16 <= cidr.prefixlen <= 24:
            yield ("network", "create", "cidr"), f"/{cidr.prefixlen} is not allowed (a VPC is /16 to /24)"
        create = net.create
        if create.egress == "none" and not cfg.aws.emulator:
            # Fargate 1.4 pulls images, reads secrets and ships logs through the task's own
            # network interface: with no route out, tasks never start.
            yield (
                ("network", "create", "egress"),
                "none is only allowed with aws.emulator: true; tasks in private subnets need a route to ECR, "
                "CloudWatch Logs, Secrets Manager/SSM and STS (allowed: nat, endpoints)",
            )
        if create.nat_gateways != 1 and create.egress != "nat":
            yield (("network", "create", "nat_gateways"), f"only allowed with egress: nat (egress is {create.egress})")
        zones = visible_zones(cfg.aws.region)
        if create.private_subnets > zones:
            # One subnet per zone: the zones data source would return fewer names ("Invalid index").
            yield (
                ("network", "create", "private_subnets"),
                f"{create.private_subnets} subnets need as many availability zones; every account sees "
                f"{zones} in {cfg.aws.region} (AWS: Regions and Availability Zones; allowed: 1-{zones})",
            )


def _auth(cfg: EnvConfig) -> Iterator[Finding]:
    if cfg.auth is None:
        for name, svc in cfg.services.items():
            if svc.auth == "jwt":
                yield ("services", name, "auth"), "jwt needs the top-level 'auth' section (a Cognito user pool)"
        return
    cog = cfg.auth.cognito
    existing = cog.user_pool_id is not None or cog.client_ids is not None
    if existing and cog.create:
        yield ("auth", "cognito"), "give either user_pool_id + client_ids or create: true, not both"
    elif not existing and not cog.create:
        yield ("auth", "cognito"), "give either user_pool_id + client_ids (an existing pool) or create: true"
    elif existing:
        if cog.user_pool_id is None:
            yield ("auth", "cognito", "user_pool_id"), "required with client_ids"
        elif not cog.user_pool_id.startswith(f"{cfg.aws.region}_"):
            pool_region = cog.user_pool_id.split("_", 1)[0]
            yield (
                ("auth", "cognito", "user_pool_id"),
                f"the pool is in {pool_region}, not in aws.region {cfg.aws.region}",
            )
        if not cog.client_ids:
            yield ("auth", "cognito", "client_ids"), "at least one app client id is required (the JWT audience)"


def _backend(cfg: EnvConfig) -> Iterator[Finding]:
    be = cfg.backend
    if be.type == "local":
        for field in ("bucket", "key", "region", "dynamodb_table"):
            if field in be.model_fields_set:
                yield ("backend", field), "only allowed with type: s3"
        return
    if be.bucket is None:
        yield ("backend", "bucket"), "required with type: s3"
    if be.lock == "dynamodb" and be.dynamodb_table is None:
        yield ("backend", "dynamodb_table"), "required with lock: dynamodb"
    if be.lock == "lockfile" and be.dynamodb_table is not None:
        yield ("backend", "dynamodb_table"), "only allowed with lock: dynamodb"


def _cluster(cfg: EnvConfig) -> Iterator[Finding]:
    providers = cfg.cluster.capacity_providers
    if len(set(providers)) != len(providers):
        yield ("cluster", "capacity_providers"), "each capacity provider may appear once"


def _api(cfg: EnvConfig) -> Iterator[Finding]:
    if cfg.api.access_log_retention_days not in RETENTION_DAYS:
        yield ("api", "access_log_retention_days"), _retention_message(cfg.api.access_log_retention_days)
    cors = cfg.api.cors
    if cors is not None and cors.allow_credentials and "*" in cors.allow_origins:
        yield ("api", "cors", "allow_origins"), "'*' is not allowed with allow_credentials: true; list the origins"


def _retention_message(days: int) -> str:
    return f"{days} is not a CloudWatch retention (allowed: {', '.join(map(str, RETENTION_DAYS))})"


def _services(cfg: EnvConfig) -> Iterator[Finding]:
    for name, svc in cfg.services.items():
        base: YamlPath = ("services", name)
        if not re.fullmatch(r"^[a-z][a-z0-9-]{0,31}$", name):
            yield base, f"'{name}' is not a valid service name (allowed: ^[a-z][a-z0-9-]{{0,31}}$)"
        if not IMAGE_RE.fullmatch(svc.image):
            yield (*base, "image"), "not a container image reference (no spaces or quotes; e.g. repo/name:tag)"
        yield from _fargate(base, svc)
        if svc.port is not None and not 1 <= svc.port <= 65535:
            yield (*base, "port"), f"{svc.port} is not a port (allowed: 1-65535)"
        if svc.routes and svc.port is None:
            yield (*base, "port"), "required because the service has routes"
        if svc.capacity_provider is not None and svc.capacity_provider not in cfg.cluster.capacity_providers:
            yield (
                (*base, "capacity_provider"),
                f"{svc.capacity_provider} is not in cluster.capacity_providers "
                f"(allowed: {', '.join(cfg.cluster.capacity_providers)})",
            )
        if svc.log_retention_days not in RETENTION_DAYS:
            yield (*base, "log_retention_days"), _retention_message(svc.log_retention_days)
        yield from _variables(base, svc.environment, svc.secrets)
        if svc.health_check is not None and svc.health_check.command[0] not in ("CMD", "CMD-SHELL", "NONE"):
            yield (*base, "health_check", "command"), "must start with CMD, CMD-SHELL or NONE"
        asg = svc.autoscaling
        if asg is not None:
            if asg.min > asg.max:
                yield (*base, "autoscaling", "min"), f"{asg.min} is greater than max {asg.max}"
            elif not asg.min <= svc.desired_count <= asg.max:
                yield (
                    (*base, "desired_count"),
                    f"{svc.desired_count} is outside autoscaling min..max ({asg.min}..{asg.max})",
                )
            if asg.cpu_target is None and asg.memory_target is None:
                yield (*base, "autoscaling"), "needs cpu_target and/or memory_target"
        for i, arn in enumerate(svc.kms_key_arns):
            if not KMS_KEY_ARN_RE.fullmatch(arn):
                yield (
                    (*base, "kms_key_arns", i),
                    f"'{arn}' is not a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/KEY-ID; aliases cannot be granted)",
                )
        for i, arn in enumerate(svc.permissions.managed_policy_arns):
            if not POLICY_ARN_RE.fullmatch(arn):
                yield (*base, "permissions", "managed_policy_arns", i), f"'{arn}' is not an IAM policy ARN"
    for i, arn in enumerate(cfg.iam.execution_role.extra_policy_arns):
        if not POLICY_ARN_RE.fullmatch(arn):
            yield ("iam", "execution_role", "extra_policy_arns", i), f"'{arn}' is not an IAM policy ARN"


def _variables(base: YamlPath, environment: dict[str, str], secrets: dict[str, str]) -> Iterator[Finding]:
    """A container's environment and secrets: variable names, ARN-only secrets (never echoed), no overlap."""
    for key in environment:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            yield (*base, "environment", key), "not a valid variable name (allowed: ^[A-Za-z_][A-Za-z0-9_]*$)"
    for key, value in secrets.items():
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            yield (*base, "secrets", key), "not a valid variable name (allowed: ^[A-Za-z_][A-Za-z0-9_]*$)"
        if not SECRET_ARN_RE.fullmatch(value):
            yield (
                (*base, "secrets", key),
                "a secret must be the ARN of a Secrets Manager secret or an SSM parameter "
                "(arn:aws:secretsmanager:...:secret:... or arn:aws:ssm:...:parameter/...); "
                "the value given is not shown",
            )
    for key in sorted(set(environment) & set(secrets)):
        yield (*base, "secrets", key), "also set in environment; a variable comes from one place"


def _fargate(base: YamlPath, svc: Service) -> Iterator[Finding]:
    allowed = FARGATE_MEMORY.get(svc.cpu)
    if allowed is None:
        yield (*base, "cpu"), f"{svc.cpu} is not a Fargate CPU size (allowed: {', '.join(map(str, FARGATE_MEMORY))})"
    elif svc.memory not in allowed:
        yield (
            (*base, "memory"),
            f"{svc.memory} is not valid for cpu {svc.cpu} (allowed: {', '.join(map(str, allowed))})",
        )


def _calls(cfg: EnvConfig) -> Iterator[Finding]:
    """``calls`` names other services with a port; environment values name only callees."""
    namespace = re.escape(cfg.namespace)
    host_re = re.compile(rf"(?<![A-Za-z0-9-])([A-Za-z0-9][A-Za-z0-9-]*)\.{namespace}(?![A-Za-z0-9-])", re.IGNORECASE)
    for name, svc in cfg.services.items():
        base: YamlPath = ("services", name, "calls")
        seen: set[str] = set()
        for i, callee in enumerate(svc.calls):
            if callee in seen:
                yield (*base, i), f"'{callee}' is listed twice"
            seen.add(callee)
            if callee == name:
                yield (*base, i), f"'{callee}' is the service itself (calls lists other services)"
            elif callee not in cfg.services:
                yield (*base, i), f"no service '{callee}' (services: {', '.join(cfg.services)})"
            elif cfg.services[callee].port is None:
                yield (*base, i), f"'{callee}' has no port, so nothing can call it"
        for key, value in svc.environment.items():
            for match in host_re.finditer(value):
                target = match.group(1).lower()
                if target in cfg.services and target != name and target not in svc.calls:
                    yield (
                        ("services", name, "environment", key),
                        f"names {target}.{cfg.namespace}, but {name} does not list {target} in calls "
                        f"(add calls: [{target}] so its tasks admit {name}'s)",
                    )


def _routes(cfg: EnvConfig) -> Iterator[Finding]:
    seen: dict[str, str] = {}
    slugs: dict[str, str] = {}
    cors = cfg.api.cors is not None
    for name, svc in cfg.services.items():
        for i, route in enumerate(svc.routes):
            path: YamlPath = ("services", name, "routes", i)
            if route != "$default" and not ROUTE_RE.fullmatch(route):
                yield (
                    path,
                    (
                        f"'{route}' is not a route key (allowed: \"METHOD /path\" with METHOD one of "
                        f"{', '.join(ROUTE_METHODS)}, path segments, {{param}} and a final {{proxy+}}; or $default)"
                    ),
                )
                continue
            if cors and svc.auth == "jwt" and (route == "$default" or route.startswith("OPTIONS ")):
                # A browser's preflight carries no token: a JWT route that matches it answers 401.
                yield (
                    path,
                    f"'{route}' would catch browser preflights (OPTIONS without a token) with the JWT authorizer "
                    "while api.cors is set; use explicit METHOD /path routes or ANY (rendered without OPTIONS), "
                    "or auth: none for this service",
                )
                continue
            for key in cfg.expand_route(name, route):
                if key in seen:
                    yield path, f"'{key}' is already routed to service '{seen[key]}' (route keys are unique)"
                    continue
                seen[key] = name
                slug = route_address(name, key)
                if slug in slugs:
                    yield path, f"'{key}' and '{slugs[slug]}' give the same resource name '{slug}'; rename one path"
                slugs[slug] = key


def _scheduled(cfg: EnvConfig) -> Iterator[Finding]:
    for name, task in cfg.scheduled_tasks.items():
        base: YamlPath = ("scheduled_tasks", name)
        if not re.fullmatch(r"^[a-z][a-z0-9-]{0,31}$", name):
            yield base, f"'{name}' is not a valid task name (allowed: ^[a-z][a-z0-9-]{{0,31}}$)"
        if task.service not in cfg.services:
            yield (*base, "service"), f"no service '{task.service}' (services: {', '.join(cfg.services)})"
        if task.timezone not in _timezones():
            yield (*base, "timezone"), f"'{task.timezone}' is not an IANA time zone (e.g. UTC, Asia/Tokyo)"


@cache
def _timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones()) | {"UTC"}


# AWS's limits on each kind of name hclforge derives: most characters, the whole-name pattern, and
# what the message says is allowed. Sources: the AWS API references and the provider's validators.
_IAM_NAME = re.compile(r"[\w+=,.@-]+", re.ASCII)
_COGNITO_NAME = re.compile(r"[\w\s+=,.@-]+", re.ASCII)
_DNS_LABEL = r"[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
NAME_RULES: dict[str, tuple[int, re.Pattern[str], str]] = {
    "HTTP API name": (128, re.compile(r"[^\x00-\x1f\x7f]+"), "1-128 characters, no control characters"),
    "VPC link name": (128, re.compile(r"[^\x00-\x1f\x7f]+"), "1-128 characters, no control characters"),
    "IAM role name": (64, _IAM_NAME, "1-64 of [A-Za-z0-9_+=,.@-]"),
    "IAM policy name": (128, _IAM_NAME, "1-128 of [A-Za-z0-9_+=,.@-]"),
    "ECS cluster name": (255, ECS_NAME_RE, "1-255 of [A-Za-z0-9_-]"),
    "ECS service name": (255, ECS_NAME_RE, "1-255 of [A-Za-z0-9_-]"),
    "ECS task family": (255, ECS_NAME_RE, "1-255 of [A-Za-z0-9_-]"),
    "log group name": (512, re.compile(r"[.\-_/#A-Za-z0-9]+"), "1-512 of [A-Za-z0-9._/#-]"),
    # Groups are named through name_prefix (create_before_destroy): the provider adds 26 characters.
    "security group name prefix": (
        100,
        re.compile(r"(?!sg-)[A-Za-z0-9 ._\-:/()#,@\[\]+=&;{}!$*]+"),
        "1-100 of letters, digits, spaces and ._-:/()#,@[]+=&;{}!$*, not starting with sg-",
    ),
    "CloudWatch alarm name": (255, re.compile(r"[^\x00-\x1f\x7f]+"), "1-255 characters, no control characters"),
    "EventBridge rule name": (64, re.compile(r"[.\-_A-Za-z0-9]+"), "1-64 of [A-Za-z0-9._-]"),
    "Cloud Map service name": (63, re.compile(_DNS_LABEL), "a DNS label: 1-63 of [A-Za-z0-9_-], no '-' at either end"),
    "Cloud Map namespace": (
        253,
        re.compile(rf"{_DNS_LABEL}(\.{_DNS_LABEL})*"),
        "DNS labels joined by dots, each 1-63 of [A-Za-z0-9_-] with no '-' at either end",
    ),
    "schedule name": (64, SCHEDULE_NAME_RE, "1-64 of [0-9a-zA-Z-_.]"),
    "Cognito user pool name": (128, _COGNITO_NAME, "1-128 of [A-Za-z0-9_ +=,.@-]"),
    "Cognito app client name": (128, _COGNITO_NAME, "1-128 of [A-Za-z0-9_ +=,.@-]"),
}


def derived_names(cfg: EnvConfig) -> list[tuple[YamlPath, str, str]]:
    """Every AWS name the templates use, with its kind and the YAML path that decides it.

    A name built from the defaults points at ``project``; one the file gives points at its key.
    """
    project: YamlPath = ("project",)

    def given(path: YamlPath, value: str, default: str) -> YamlPath:
        return path if value != default else project

    names: list[tuple[YamlPath, str, str]] = [
        (given(("api", "name"), cfg.api_name, cfg.prefix), "HTTP API name", cfg.api_name),
        (given(("api", "name"), cfg.api_name, cfg.prefix), "log group name", cfg.api_log_group_name),
        (project, "VPC link name", cfg.vpc_link_name),
        (project, "security group name prefix", cfg.vpc_link_security_group_name + "-"),
        (project, "IAM role name", cfg.execution_role_name),
        (project, "IAM policy name", cfg.metrics_policy_name),
        (project, "IAM policy name", cfg.secrets_policy_name),
        (given(("cluster", "name"), cfg.cluster_name, cfg.prefix), "ECS cluster name", cfg.cluster_name),
        (
            given(("service_discovery", "namespace"), cfg.namespace, f"{cfg.prefix}.internal"),
            "Cloud Map namespace",
            cfg.namespace,
        ),
    ]
    if cfg.auth is not None and cfg.auth.cognito.create:
        names.append((("auth", "cognito", "create"), "Cognito user pool name", cfg.user_pool_name))
        names.append((("auth", "cognito", "create"), "Cognito app client name", cfg.user_pool_client_name))
    for name in cfg.services:
        base: YamlPath = ("services", name)
        names += [
            (base, "IAM role name", cfg.task_role_name(name)),
            (base, "IAM policy name", cfg.task_policy_name(name)),
            (base, "ECS service name", name),
            (base, "ECS task family", cfg.task_family(name)),
            (base, "log group name", cfg.log_group_name(name)),
            (base, "security group name prefix", cfg.security_group_name(name) + "-"),
        ]
        if name in cfg.discoverable_services:
            names.append((base, "Cloud Map service name", name))
    for name in cfg.scheduled_tasks:
        names.append((("scheduled_tasks", name), "schedule name", cfg.schedule_name(name)))
    if cfg.scheduled_tasks:
        names.append((project, "IAM role name", cfg.scheduler_role_name))
        names.append((project, "IAM policy name", cfg.scheduler_policy_name))
    if cfg.split:
        names += _split_names(cfg)
    if cfg.egress == "endpoints":
        names.append((("network", "create", "egress"), "security group name prefix", f"{cfg.prefix}-endpoints-"))
    if cfg.alarms is not None:
        names.append((("alarms",), "EventBridge rule name", cfg.alarm_name("deployment-failed")))
        names.append((("alarms",), "CloudWatch alarm name", cfg.alarm_name("api-p99-integration-latency")))
        for name in cfg.services:
            names.append((("services", name), "CloudWatch alarm name", cfg.alarm_name(f"{name}-running-below-desired")))
    return names


def _split_names(cfg: EnvConfig) -> list[tuple[YamlPath, str, str]]:
    """The names only a split environment derives: a secrets policy per service on the execution role."""
    return [(("services", name), "IAM policy name", cfg.service_secrets_policy_name(name)) for name in cfg.services]


def _names(cfg: EnvConfig) -> Iterator[Finding]:
    """Every derived AWS name fits its service's limits."""
    for path, kind, value in derived_names(cfg):
        most, pattern, allowed = NAME_RULES[kind]
        shown = value if len(value) <= 80 else value[:77] + "..."
        if len(value) > most:
            yield path, f"derived {kind} '{shown}' is {len(value)} characters (at most {most}); shorten the name"
        elif not pattern.fullmatch(value):
            yield path, f"derived {kind} '{shown}' is not allowed by AWS (allowed: {allowed})"


SECRET_NAME_RE = re.compile(r".*(PASSWORD|SECRET|TOKEN).*|(.*_)?KEY", re.IGNORECASE)


def check_warnings(cfg: EnvConfig) -> list[Finding]:
    """Things a file may say but probably should not: they are reported, never refused.

    Args:
        cfg: the environment, as the model validated it.

    Returns:
        ``(yaml_path, message)`` for every warning, in a stable order.
    """
    return [*_plain_secrets(cfg), *_alarms_without_insights(cfg), *_cors_methods(cfg), *_route_quota(cfg)]


def _cors_methods(cfg: EnvConfig) -> Iterator[Finding]:
    cors = cfg.api.cors
    if cors is None:
        return
    routed = sorted(
        {key.partition(" ")[0] for name in cfg.services for key in cfg.route_keys(name) if key != "$default"}
        - {"ANY", "OPTIONS", *cors.allow_methods}
    )
    if routed and "*" not in cors.allow_methods:
        # A browser's preflight for a method CORS does not allow fails before the request is sent.
        yield (
            ("api", "cors", "allow_methods"),
            f"routes use {', '.join(routed)}, which browsers will not send (add them, or '*')",
        )
    for name, svc in cfg.services.items():
        for i, route in enumerate(svc.routes):
            if route == "$default":
                yield (
                    ("services", name, "routes", i),
                    "$default also matches browser preflights, which then reach the service instead of being "
                    "answered by API Gateway's CORS; list METHOD /path routes",
                )


def _route_quota(cfg: EnvConfig) -> Iterator[Finding]:
    count = route_count(cfg)
    if count > MAX_ROUTES:
        yield (
            ("services",),
            f"{count} routes: an HTTP API holds {MAX_ROUTES} unless AWS raised this quota for the account "
            "(Service Quotas: API Gateway, routes per API)",
        )


def _alarms_without_insights(cfg: EnvConfig) -> Iterator[Finding]:
    if cfg.alarms is not None and not cfg.cluster.container_insights:
        # RunningTaskCount and DesiredTaskCount are Container Insights metrics.
        yield (
            ("cluster", "container_insights"),
            "is false, so the running-below-desired alarms are left out (they read Container Insights' "
            "RunningTaskCount); CPU, memory, API and deployment alarms are rendered",
        )


def _plain_secrets(cfg: EnvConfig) -> Iterator[Finding]:
    # A plain value lands in the task definition, the plan and the state, readable by anyone with access.
    for name, svc in cfg.services.items():
        for key, value in svc.environment.items():
            if SECRET_NAME_RE.fullmatch(key) and not value.startswith("arn:"):
                yield (
                    ("services", name, "environment", key),
                    "looks like a secret but is a plain value, readable in the task definition, plan and state; "
                    "move it under secrets: as a Secrets Manager or SSM parameter ARN (the value is not shown)",
                )


def _tags(cfg: EnvConfig) -> Iterator[Finding]:
    for key, value in cfg.tags.items():
        path: YamlPath = ("tags", key)
        if key in RESERVED_TAGS:
            yield path, f"'{key}' is set by hclforge (reserved: {', '.join(RESERVED_TAGS)})"
        elif key.lower().startswith("aws:"):
            yield path, "the 'aws:' prefix is reserved by AWS"
        elif not 1 <= len(key) <= 128:
            yield path, "tag keys are 1-128 characters"
        elif not _tag_text(key):
            yield path, f"'{key}' is not a tag key (allowed: letters, digits, spaces and _ . : / = + - @)"
        if len(value) > 256:
            yield path, "tag values are at most 256 characters"


def _domain(cfg: EnvConfig) -> Iterator[Finding]:
    domain = cfg.api.domain
    if domain is None:
        return
    base: YamlPath = ("api", "domain")
    labels = domain.name.split(".")
    if (
        len(domain.name) > 253
        or len(labels) < 2
        or not all(DNS_LABEL_RE.fullmatch(label) for label in labels)
        or labels[-1].isdigit()
    ):
        yield (
            (*base, "name"),
            f"'{domain.name}' is not a DNS name (lower-case labels of a-z, 0-9 and '-', dot-separated)",
        )
    match = ACM_ARN_RE.fullmatch(domain.certificate_arn)
    if match is None:
        yield (*base, "certificate_arn"), "not an ACM certificate ARN (arn:aws:acm:REGION:ACCOUNT:certificate/ID)"
    elif match.group("region") != cfg.aws.region:
        # A regional custom domain takes a certificate from its own region.
        yield (
            (*base, "certificate_arn"),
            f"the certificate is in {match.group('region')}; a regional API domain needs one in {cfg.aws.region}",
        )


def _alarms(cfg: EnvConfig) -> Iterator[Finding]:
    alarms = cfg.alarms
    if alarms is None:
        return
    if not SNS_ARN_RE.fullmatch(alarms.sns_topic_arn):
        yield ("alarms", "sns_topic_arn"), "not an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)"
    elif (topic_region := alarms.sns_topic_arn.split(":")[3]) != cfg.aws.region:
        # CloudWatch alarm actions and the EventBridge rule's target take a topic of their own region.
        yield (
            ("alarms", "sns_topic_arn"),
            f"the topic is in {topic_region}; alarms in {cfg.aws.region} notify a topic in {cfg.aws.region}",
        )
    for name in alarms.services:
        if name not in cfg.services:
            yield ("alarms", "services", name), f"no service '{name}' (services: {', '.join(cfg.services)})"


def _capacity(cfg: EnvConfig) -> Iterator[Finding]:
    for name, svc in cfg.services.items():
        base: YamlPath = ("services", name)
        if svc.capacity is None:
            continue
        if "capacity_provider" in svc.model_fields_set:
            yield (*base, "capacity"), "give capacity_provider (one provider) or capacity (a mix), not both"
        for provider in svc.capacity:
            if provider not in cfg.cluster.capacity_providers:
                yield (
                    (*base, "capacity", provider),
                    f"{provider} is not in cluster.capacity_providers "
                    f"(allowed: {', '.join(cfg.cluster.capacity_providers)})",
                )
        if not any(share.weight > 0 for share in svc.capacity.values()):
            yield (*base, "capacity"), "at least one provider needs a weight above 0"
        based = [p for p, share in svc.capacity.items() if share.base > 0]
        if len(based) > 1:
            yield (*base, "capacity"), f"only one provider may have a base (given on {', '.join(based)})"


def _containers(cfg: EnvConfig) -> Iterator[Finding]:
    """Sidecars, scopes and the task-level container settings."""
    for name, svc in cfg.services.items():
        base: YamlPath = ("services", name)
        if svc.scopes and svc.auth != "jwt":
            yield (*base, "scopes"), "only used by JWT routes (auth: jwt)"
        elif svc.scopes and cfg.auth is not None and cfg.auth.cognito.create:
            # A created pool's client signs users in with SRP: its access tokens carry no custom scope.
            yield (
                (*base, "scopes"),
                "auth.cognito.create makes a pool without a resource server or OAuth flows, so no token it "
                "issues carries these scopes and every call gets 403; use an existing pool "
                "(user_pool_id + client_ids) whose resource server defines them, or drop scopes",
            )
        for i, scope in enumerate(svc.scopes):
            if not SCOPE_RE.fullmatch(scope):
                yield (*base, "scopes", i), "not an OAuth scope (printable ASCII without spaces, quotes or backslashes)"
        ports = {svc.port} if svc.port is not None else set()
        reserved = 0
        for side, car in svc.sidecars.items():
            where: YamlPath = (*base, "sidecars", side)
            if not re.fullmatch(r"[a-z][a-z0-9-]{0,31}", side) or side == name:
                yield where, f"'{side}' is not a sidecar name (^[a-z][a-z0-9-]{{0,31}}$, not the service's own name)"
            if not IMAGE_RE.fullmatch(car.image):
                yield (*where, "image"), "not a container image reference (no spaces or quotes; e.g. repo/name:tag)"
            if car.port is not None:
                if not 1 <= car.port <= 65535:
                    yield (*where, "port"), f"{car.port} is not a port (allowed: 1-65535)"
                elif car.port in ports:
                    yield (*where, "port"), f"port {car.port} is already used in this task (containers share localhost)"
                ports.add(car.port)
            yield from _variables(where, car.environment, car.secrets)
            reserved += car.memory_reservation or 0
        if reserved >= svc.memory:
            yield (
                (*base, "sidecars"),
                f"the sidecars reserve {reserved} MiB of the task's {svc.memory}; leave memory for the main container",
            )


# Private ECR of an account, in a region: what VPC endpoints (ecr.api, ecr.dkr, S3) can pull.
_PRIVATE_ECR_RE = re.compile(r"^[0-9]{12}\.dkr\.ecr(-fips)?\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(\.cn)?/")


def _egress_images(cfg: EnvConfig) -> Iterator[Finding]:
    """With VPC endpoints as the only way out, every image must come from private ECR in this region."""
    if cfg.egress != "endpoints":
        return
    for name, svc in cfg.services.items():
        images: list[tuple[YamlPath, str]] = [(("services", name, "image"), svc.image)]
        images += [(("services", name, "sidecars", side, "image"), car.image) for side, car in svc.sidecars.items()]
        for path, image in images:
            match = _PRIVATE_ECR_RE.match(image)
            if match is None or match.group("region") != cfg.aws.region:
                where = "another region's ECR" if match is not None else "not private ECR"
                yield (
                    path,
                    f"'{image}' is {where}: with network.create.egress: endpoints, tasks pull only from private "
                    f"ECR in {cfg.aws.region} (ACCOUNT.dkr.ecr.{cfg.aws.region}.amazonaws.com/...); VPC endpoints "
                    "do not serve ECR Public, Docker Hub or other regions (ECR user guide, interface VPC "
                    "endpoints). Use an ECR pull-through cache rule, or egress: nat",
                )


# API Gateway HTTP API quotas ("Amazon API Gateway quotas", HTTP APIs): integrations per API
# is hard, routes per API can be raised on request.
MAX_INTEGRATIONS = 300
MAX_ROUTES = 300


def _quotas(cfg: EnvConfig) -> Iterator[Finding]:
    routed = [name for name, svc in cfg.services.items() if svc.routes]
    if len(routed) > MAX_INTEGRATIONS:
        yield (
            ("services",),
            f"{len(routed)} services have routes, one integration each; an HTTP API holds at most "
            f"{MAX_INTEGRATIONS} integrations, a quota AWS does not raise (split the API)",
        )


def route_count(cfg: EnvConfig) -> int:
    """The route keys the HTTP API gets (an ANY route split for CORS counts once per method)."""
    return sum(len(cfg.route_keys(name)) for name in cfg.services)


# Availability zones every account sees, by region, where not the three AWS promises each
# Region ("Regions and Availability Zones": "Each Region has at least three Availability
# Zones"); some accounts see only two of us-west-1's, and three of ap-northeast-1's four.
VISIBLE_ZONES: dict[str, int] = {"us-east-1": 6, "us-west-1": 2, "us-west-2": 4, "ap-northeast-2": 4}
DEFAULT_VISIBLE_ZONES = 3


def visible_zones(region: str) -> int:
    """Availability zones an account can count on in ``region`` (the plan checks the account's own)."""
    return VISIBLE_ZONES.get(region, DEFAULT_VISIBLE_ZONES)


def _tag_text(text: str) -> bool:
    """AWS's tag key character set, ``[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*``: no control characters, no newline."""
    return all(ch.isalnum() or ch == " " or ch in "_.:/=+-@" for ch in text)


def _emulator(cfg: EnvConfig) -> Iterator[Finding]:
    if not cfg.aws.emulator:
        return
    for field in ("account_id", "profile"):
        if getattr(cfg.aws, field) is not None:
            yield ("aws", field), "not allowed with emulator: true (the emulator uses fake credentials)"
    for name, svc in cfg.services.items():
        if svc.autoscaling is not None:
            # moto lacks ListTagsForResource for scalable targets: the provider retries forever.
            yield (
                ("services", name, "autoscaling"),
                "not supported on the emulator (it cannot create scalable targets, so an apply would never "
                "finish): give this service a fixed desired_count here, and keep autoscaling in the "
                "environments that run on AWS",
            )


SHARED_ROOT = "shared"
ROOT_NAME_RE = re.compile(r"[a-z][a-z0-9-]{0,31}")


def _state(cfg: EnvConfig) -> Iterator[Finding]:
    """``state.groups``: only with ``split: service``; root names that stay apart; each service in one root."""
    groups = cfg.state.groups
    if not cfg.split:
        if groups:
            yield ("state", "groups"), "only allowed with split: service (groups put services in one root)"
        return
    owner: dict[str, str] = {}
    for group, members in groups.items():
        base: YamlPath = ("state", "groups", group)
        if not ROOT_NAME_RE.fullmatch(group):
            yield base, f"'{group}' is not a valid root name (allowed: ^[a-z][a-z0-9-]{{0,31}}$)"
        elif group == SHARED_ROOT:
            yield base, f"'{group}' is the shared root's name; name the group otherwise"
        elif group in cfg.services:
            yield base, f"'{group}' is also a service's name; a group's root is named apart from every service"
        if not members:
            yield base, "lists no services (a group is at least one service)"
        for i, member in enumerate(members):
            if member not in cfg.services:
                yield (*base, i), f"no service '{member}' (services: {', '.join(cfg.services)})"
            elif member in owner:
                where = "earlier in this group" if owner[member] == group else f"in group '{owner[member]}'"
                yield (*base, i), f"'{member}' is already {where} (a service belongs to one root)"
            else:
                owner[member] = group
    if SHARED_ROOT in cfg.services and SHARED_ROOT not in owner:
        yield (
            ("services", SHARED_ROOT),
            "with split: service this service's root would be named 'shared', the shared root's name; "
            "put it in a group (state.groups)",
        )
