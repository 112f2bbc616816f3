"""The typed model of an environment file (schema v1).

Defaults live here and only here: templates never use ``| default``. Derived
defaults (``cluster.name`` from project and environment, a service's ``auth``
and ``capacity_provider``) are filled by :meth:`EnvConfig._fill_defaults`.
AWS names derived from the config are methods of :class:`EnvConfig`, so the
templates and the domain rules use one definition of each name.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema, model_validator

SCHEMA_VERSION = 1

NAME_RE = r"^[a-z][a-z0-9-]{0,31}$"
PROJECT_RE = r"^[a-z][a-z0-9-]{1,19}$"
REGION_RE = r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]$"
ENV_KEY_RE = r"^[A-Za-z_][A-Za-z0-9_]*$"

CapacityProvider = Literal["FARGATE", "FARGATE_SPOT"]
# What an ANY route stands for when it must not catch a CORS preflight (OPTIONS).
PREFLIGHT_FREE_METHODS = ("DELETE", "GET", "HEAD", "PATCH", "POST", "PUT")
# What a Fargate task in a private subnet reaches AWS through when egress is endpoints:
# image pulls (ecr.api, ecr.dkr, and S3 through the gateway endpoint), logs, secrets, STS.
INTERFACE_ENDPOINTS = ("ecr.api", "ecr.dkr", "logs", "secretsmanager", "ssm", "sts")
CorsMethod = Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "*"]
RETENTION_DAYS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)


def _scalar_to_str(value: Any) -> Any:
    """Let ``PORT: 8080`` or ``DEBUG: true`` stand for the strings ECS needs."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


ScalarStr = Annotated[str, BeforeValidator(_scalar_to_str), WithJsonSchema({"type": ["string", "number", "boolean"]})]


class _Model(BaseModel):
    # defer_build: pydantic builds the validators at the first validation, not at import; a
    # command answered from the environment cache (hclforge/envcache.py) never builds them.
    model_config = ConfigDict(extra="forbid", strict=True, validate_default=True, defer_build=True)


class AwsConfig(_Model):
    region: str = Field(pattern=REGION_RE, description="AWS region, e.g. ap-northeast-1.")
    account_id: str | None = Field(
        default=None, pattern=r"^[0-9]{12}$", description="Plan/apply refuse credentials of another account."
    )
    profile: str | None = Field(default=None, min_length=1, description="Shared-config profile.")
    emulator: bool = Field(default=False, description="Point at the local AWS emulator with fake credentials.")


class BackendConfig(_Model):
    type: Literal["local", "s3"] = "local"
    bucket: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
    key: str | None = Field(default=None, min_length=1, max_length=1024)
    region: str | None = Field(default=None, pattern=REGION_RE)
    lock: Literal["lockfile", "dynamodb"] = "lockfile"
    dynamodb_table: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.-]{3,255}$")


Egress = Literal["nat", "endpoints", "none"]


class NetworkCreate(_Model):
    cidr: str = Field(description="IPv4 CIDR of the sandbox VPC, /16 to /24.")
    private_subnets: int = Field(default=2, ge=1, le=6, description="Private subnets, one per availability zone.")
    egress: Egress | None = Field(
        default=None,
        description=(
            "How tasks reach ECR, logs, Secrets Manager/SSM and STS: nat (default off the emulator), "
            "endpoints (VPC interface endpoints + S3 gateway), or none (emulator only, its default)."
        ),
    )
    nat_gateways: Literal[1, "per_az"] = Field(
        default=1, description="egress: nat only. 1 (one shared NAT gateway) or per_az (one per private subnet)."
    )


class NetworkConfig(_Model):
    vpc_id: str | None = Field(default=None, pattern=r"^vpc-[0-9a-f]{8,17}$")
    private_subnet_ids: list[Annotated[str, Field(pattern=r"^subnet-[0-9a-f]{8,17}$")]] | None = None
    create: NetworkCreate | None = None


class CognitoConfig(_Model):
    user_pool_id: str | None = Field(default=None, pattern=r"^[a-z]{2}(-gov)?-[a-z]+-[0-9]_[0-9A-Za-z]+$")
    client_ids: list[Annotated[str, Field(pattern=r"^[0-9a-z]{1,128}$")]] | None = None
    create: bool = False


class AuthConfig(_Model):
    cognito: CognitoConfig


class ClusterConfig(_Model):
    name: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{1,255}$")
    container_insights: bool = True
    capacity_providers: list[CapacityProvider] = Field(
        default_factory=lambda: list[CapacityProvider](["FARGATE"]), min_length=1
    )


class ServiceDiscoveryConfig(_Model):
    namespace: str | None = Field(
        default=None,
        max_length=253,
        pattern=r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$",
    )


class Throttling(_Model):
    burst_limit: int = Field(default=5000, ge=0, le=5000)
    rate_limit: int | float = Field(default=10000, ge=0, le=10000)


class Cors(_Model):
    allow_origins: list[str] = Field(min_length=1)
    allow_methods: list[CorsMethod] = Field(default_factory=lambda: list[CorsMethod](["*"]))
    allow_headers: list[str] = Field(default_factory=list)
    expose_headers: list[str] = Field(default_factory=list)
    allow_credentials: bool = False
    max_age: int = Field(default=0, ge=0, le=86400)


class ApiDomain(_Model):
    name: str = Field(description="The custom domain name, e.g. api.sales.example.com.")
    certificate_arn: str = Field(description="ACM certificate ARN in aws.region covering the name.")
    zone_id: str | None = Field(
        default=None, pattern=r"^Z[A-Z0-9]{1,31}$", description="Route 53 hosted zone for an alias record."
    )


class ApiConfig(_Model):
    name: str | None = Field(default=None, min_length=1, max_length=128)
    throttling: Throttling = Field(default_factory=Throttling)
    access_log_retention_days: int = 30
    cors: Cors | None = None
    domain: ApiDomain | None = Field(default=None, description="Custom domain; the execute-api endpoint is disabled.")


class ServiceAlarms(_Model):
    cpu_percent: int | float | None = Field(default=None, gt=0, le=100, description="Default: alarms.cpu_percent.")
    memory_percent: int | float | None = Field(
        default=None, gt=0, le=100, description="Default: alarms.memory_percent."
    )


class AlarmsConfig(_Model):
    sns_topic_arn: str = Field(description="SNS topic the alarms and deployment failures are sent to.")
    cpu_percent: int | float = Field(default=80, gt=0, le=100, description="Service CPU above this for 5 minutes.")
    memory_percent: int | float = Field(default=85, gt=0, le=100, description="Service memory above this, 5 min.")
    api_5xx_percent: int | float = Field(default=5, gt=0, le=100, description="API 5xx share of requests, 5 min.")
    api_p99_latency_ms: int = Field(default=3000, ge=1, le=30000, description="API p99 integration latency, 5 min.")
    services: dict[str, ServiceAlarms] = Field(default_factory=dict, description="Per-service thresholds.")


class ExecutionRole(_Model):
    extra_policy_arns: list[str] = Field(default_factory=list)


class IamConfig(_Model):
    execution_role: ExecutionRole = Field(default_factory=ExecutionRole)


class HealthCheck(_Model):
    command: list[str] = Field(min_length=1)
    interval: int = Field(default=30, ge=5, le=300)
    timeout: int = Field(default=5, ge=2, le=120)
    retries: int = Field(default=3, ge=1, le=10)
    start_period: int = Field(default=0, ge=0, le=300)


class Autoscaling(_Model):
    min: int = Field(ge=0, le=1000)
    max: int = Field(ge=1, le=1000)
    cpu_target: int | float | None = Field(default=None, gt=0, le=100)
    memory_target: int | float | None = Field(default=None, gt=0, le=100)


class Statement(_Model):
    effect: Literal["Allow", "Deny"] = "Allow"
    actions: list[Annotated[str, Field(pattern=r"^([a-z0-9-]+:[A-Za-z0-9*?]+|\*)$")]] = Field(min_length=1)
    resources: list[Annotated[str, Field(pattern=r"^(\*|arn:.+|addon:[\s\S]*)$")]] = Field(
        min_length=1,
        description="ARNs, '*', or an addon's resource: addon:<type>.<name>.<attribute> (docs/addons.md).",
    )


class Permissions(_Model):
    managed_policy_arns: list[str] = Field(default_factory=list)
    statements: list[Statement] = Field(default_factory=list)


class CapacityShare(_Model):
    base: int = Field(default=0, ge=0, le=100000, description="Tasks placed here first (one provider only).")
    weight: int = Field(default=0, ge=0, le=1000, description="Share of the tasks beyond the base.")


class Sidecar(_Model):
    image: str = Field(min_length=1, max_length=1024)
    essential: bool = Field(default=True, description="The task stops when an essential container stops.")
    command: list[str] = Field(default_factory=list)
    environment: dict[str, ScalarStr] = Field(default_factory=dict)
    secrets: dict[str, str] = Field(default_factory=dict, description="Secrets Manager or SSM parameter ARNs only.")
    port: int | None = None
    memory_reservation: int | None = Field(default=None, ge=6, description="Soft memory limit, MiB.")
    depends_on_main: bool = Field(
        default=False, description="true: the main container starts only after this one has started."
    )


class Service(_Model):
    image: str = Field(min_length=1, max_length=1024, description="Container image reference.")
    cpu: int = Field(default=256, description="Fargate CPU units.")
    memory: int = Field(default=512, description="MiB; must be valid for cpu (Fargate table).")
    port: int | None = Field(default=None, description="Container port; required when the service has routes.")
    desired_count: int = Field(default=1, ge=0, le=1000)
    command: list[str] = Field(default_factory=list)
    environment: dict[str, ScalarStr] = Field(default_factory=dict)
    secrets: dict[str, str] = Field(default_factory=dict, description="Secrets Manager or SSM parameter ARNs only.")
    health_check: HealthCheck | None = None
    routes: list[str] = Field(default_factory=list)
    auth: Literal["jwt", "none"] | None = Field(default=None, description="Default jwt when auth is configured.")
    capacity_provider: CapacityProvider | None = Field(
        default=None, description="Default: first cluster provider. Shorthand for capacity: {PROVIDER: {weight: 1}}."
    )
    capacity: dict[CapacityProvider, CapacityShare] | None = Field(
        default=None,
        description="Capacity provider mix, e.g. {FARGATE: {base: 1, weight: 1}, FARGATE_SPOT: {weight: 3}}.",
    )
    cpu_architecture: Literal["X86_64", "ARM64"] = Field(default="X86_64", description="ARM64: Graviton.")
    exec: bool = Field(default=False, description="ECS Exec (enable_execute_command).")
    stop_timeout: int | None = Field(default=None, ge=2, le=120, description="Seconds to stop after SIGTERM.")
    ephemeral_storage_gib: int | None = Field(default=None, ge=21, le=200, description="Task ephemeral storage.")
    scopes: list[str] = Field(default_factory=list, description="authorization_scopes of its JWT routes.")
    sidecars: dict[str, Sidecar] = Field(default_factory=dict, description="Extra containers in the task.")
    autoscaling: Autoscaling | None = None
    log_retention_days: int = 30
    readonly_root_filesystem: bool = Field(default=False, description="A writable /tmp volume is mounted.")
    calls: list[str] = Field(
        default_factory=list, description="Services this one calls at http://<name>.<namespace>:<port>."
    )
    kms_key_arns: list[str] = Field(
        default_factory=list, description="Customer KMS keys of its secrets (kms:Decrypt on the execution role)."
    )
    permissions: Permissions = Field(default_factory=Permissions)


class StateConfig(_Model):
    split: Literal["none", "service"] = Field(
        default="none",
        description=(
            "none: one root, one state. service: a shared root plus one root (own state and lock) per service "
            "or group, under modules/<env>/shared/ and modules/<env>/services/<root>/."
        ),
    )
    groups: dict[str, list[str]] = Field(
        default_factory=dict,
        description="split: service only. Root name -> the services that share that root, e.g. {payments: [billing]}.",
    )


class ScheduledTask(_Model):
    service: str
    schedule: str = Field(pattern=r"^(cron|rate)\(.+\)$")
    timezone: str = "UTC"
    command: list[str] = Field(default_factory=list)


class EnvConfig(_Model):
    """A whole environment, layered and validated."""

    project: str = Field(pattern=PROJECT_RE, description="Prefix of every AWS name.")
    environment: str = Field(description="Filled from the file name; if given, must equal it.")
    protect: bool = False
    aws: AwsConfig
    tags: dict[str, ScalarStr] = Field(default_factory=dict)
    backend: BackendConfig = Field(default_factory=BackendConfig)
    network: NetworkConfig
    auth: AuthConfig | None = None
    cluster: ClusterConfig = Field(default_factory=ClusterConfig)
    service_discovery: ServiceDiscoveryConfig = Field(default_factory=ServiceDiscoveryConfig)
    api: ApiConfig = Field(default_factory=ApiConfig)
    iam: IamConfig = Field(default_factory=IamConfig)
    alarms: AlarmsConfig | None = None
    services: dict[str, Service] = Field(min_length=1)
    scheduled_tasks: dict[str, ScheduledTask] = Field(default_factory=dict)
    state: StateConfig = Field(default_factory=StateConfig, description="How the environment's state is split.")

    @model_validator(mode="after")
    def _fill_defaults(self) -> EnvConfig:
        prefix = self.prefix
        if self.cluster.name is None:
            self.cluster.name = prefix
        if self.service_discovery.namespace is None:
            self.service_discovery.namespace = f"{prefix}.internal"
        if self.api.name is None:
            self.api.name = prefix
        for svc in self.services.values():
            if svc.auth is None:
                svc.auth = "jwt" if self.auth is not None else "none"
            if svc.capacity_provider is None and svc.capacity is None:
                svc.capacity_provider = self.cluster.capacity_providers[0]
        if self.network.create is not None and self.network.create.egress is None:
            self.network.create.egress = "none" if self.aws.emulator else "nat"
        if self.backend.type == "s3":
            if self.backend.key is None:
                self.backend.key = f"{self.project}/{self.environment}/terraform.tfstate"
            if self.backend.region is None:
                self.backend.region = self.aws.region
        return self

    # ----------------------------------------------------------------- names

    @property
    def prefix(self) -> str:
        """``<project>-<environment>``, the stem of every AWS name."""
        return f"{self.project}-{self.environment}"

    @property
    def cluster_name(self) -> str:
        assert self.cluster.name is not None
        return self.cluster.name

    @property
    def namespace(self) -> str:
        assert self.service_discovery.namespace is not None
        return self.service_discovery.namespace

    @property
    def api_name(self) -> str:
        assert self.api.name is not None
        return self.api.name

    @property
    def execution_role_name(self) -> str:
        return f"{self.prefix}-ecs-task-execution"

    @property
    def metrics_policy_name(self) -> str:
        return f"{self.prefix}-cloudwatch-metrics"

    @property
    def secrets_policy_name(self) -> str:
        return f"{self.prefix}-read-secrets"

    def task_role_name(self, service: str) -> str:
        return f"{self.prefix}-{service}-task"

    def task_policy_name(self, service: str) -> str:
        return f"{self.prefix}-{service}-permissions"

    def task_family(self, service: str) -> str:
        return f"{self.prefix}-{service}"

    def log_group_name(self, service: str) -> str:
        return f"/ecs/{self.prefix}/{service}"

    def security_group_name(self, service: str) -> str:
        return f"{self.prefix}-{service}-tasks"

    @property
    def vpc_link_security_group_name(self) -> str:
        return f"{self.prefix}-vpc-link"

    @property
    def vpc_link_name(self) -> str:
        return self.prefix

    @property
    def user_pool_name(self) -> str:
        return self.prefix

    @property
    def user_pool_client_name(self) -> str:
        return f"{self.prefix}-api"

    @property
    def api_log_group_name(self) -> str:
        return f"/aws/apigateway/{self.api_name}"

    def schedule_name(self, task: str) -> str:
        return f"{self.prefix}-{task}"

    @property
    def scheduler_role_name(self) -> str:
        return f"{self.prefix}-scheduler"

    @property
    def scheduler_policy_name(self) -> str:
        return f"{self.prefix}-run-tasks"

    def service_secrets_policy_name(self, service: str) -> str:
        """The inline policy a split environment's service root puts on the shared execution role."""
        return f"{self.prefix}-{service}-read-secrets"

    # ----------------------------------------------------------------- state

    @property
    def split(self) -> bool:
        """Whether the environment has a state per service (``state.split: service``)."""
        return self.state.split == "service"

    @property
    def split_roots(self) -> dict[str, list[str]]:
        """Service root name -> its services, with ``state.split: service``; ``{}`` otherwise.

        A service's root is its group, or else the service itself. Roots come in the
        order of their first service in ``services``, and a group's services in that order too.
        """
        if not self.split:
            return {}
        group_of = {svc: group for group, members in self.state.groups.items() for svc in members}
        roots: dict[str, list[str]] = {}
        for name in self.services:
            roots.setdefault(group_of.get(name, name), []).append(name)
        return roots

    def root_of(self, service: str) -> str:
        """The service root ``service`` belongs to (split environments)."""
        return next(root for root, members in self.split_roots.items() if service in members)

    def state_key(self, root_path: str) -> str:
        """S3 key of a split root's state, ``<key prefix>/<root_path>.tfstate``.

        The key prefix is ``backend.key`` without its last part (``sss/dev`` of the default
        ``sss/dev/terraform.tfstate``), so the roots' states sit beside the one-state key.
        """
        assert self.backend.key is not None
        prefix = self.backend.key.rpartition("/")[0]
        return f"{prefix}/{root_path}.tfstate" if prefix else f"{root_path}.tfstate"

    @property
    def uses_jwt(self) -> bool:
        return any(s.auth == "jwt" for s in self.services.values())

    @property
    def routed_services(self) -> dict[str, Service]:
        """Services that API Gateway sends traffic to."""
        return {n: s for n, s in self.services.items() if s.routes}

    def route_keys(self, service: str) -> list[str]:
        """The route keys rendered for ``service``, in order (see :meth:`expand_route`)."""
        return [key for route in self.services[service].routes for key in self.expand_route(service, route)]

    def expand_route(self, service: str, route: str) -> list[str]:
        """The route keys one YAML route of ``service`` is rendered as.

        With CORS configured, API Gateway answers a browser preflight itself only when
        no route matches ``OPTIONS``; a route on ``ANY`` would match it (AWS: "Configure
        CORS for HTTP APIs"): a JWT one answers 401, an open one hands the preflight to
        the service, which may answer 405. Such a route is rendered as one route per
        method other than ``OPTIONS``.
        """
        method, _, path = route.partition(" ")
        if self.api.cors is not None and method == "ANY":
            return [f"{m} {path}" for m in PREFLIGHT_FREE_METHODS]
        return [route]

    def capacity_strategy(self, service: str) -> list[tuple[str, int, int]]:
        """``(provider, base, weight)`` of a service, in the cluster's provider order."""
        svc = self.services[service]
        if svc.capacity is None:
            assert svc.capacity_provider is not None
            return [(svc.capacity_provider, 0, 1)]
        order = {p: i for i, p in enumerate(self.cluster.capacity_providers)}
        items = sorted(svc.capacity.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0]))
        return [(provider, share.base, share.weight) for provider, share in items]

    def alarm_threshold(self, service: str, metric: Literal["cpu_percent", "memory_percent"]) -> int | float:
        """A service's alarm threshold: its own, else the environment's."""
        assert self.alarms is not None
        own = self.alarms.services.get(service)
        value: int | float | None = getattr(own, metric) if own is not None else None
        fallback: int | float = getattr(self.alarms, metric)
        return value if value is not None else fallback

    def alarm_name(self, what: str) -> str:
        return f"{self.prefix}-{what}"

    @property
    def egress(self) -> str | None:
        """``nat``, ``endpoints`` or ``none`` for a created network; None for an existing VPC."""
        return self.network.create.egress if self.network.create is not None else None

    @property
    def nat_gateway_count(self) -> int:
        """NAT gateways of a created network with ``egress: nat``: one, or one per private subnet (AZ)."""
        create = self.network.create
        if create is None or create.egress != "nat":
            return 0
        return create.private_subnets if create.nat_gateways == "per_az" else 1

    @property
    def interface_endpoints(self) -> tuple[str, ...]:
        """The interface endpoints of a created network with ``egress: endpoints``; none otherwise.

        ECS Exec's agent opens its channels through ``ssmmessages``, so a service with
        ``exec: true`` adds that endpoint. Each one has a network interface in every
        private subnet (AZ).
        """
        if self.egress != "endpoints":
            return ()
        extra = ("ssmmessages",) if any(svc.exec for svc in self.services.values()) else ()
        return INTERFACE_ENDPOINTS + extra

    @property
    def discoverable_services(self) -> dict[str, Service]:
        """Services with a port: each gets a Cloud Map service (SRV needs a port)."""
        return {n: s for n, s in self.services.items() if s.port is not None}
