"""The request path on real AWS: rules and rendering the emulator cannot check.

moto accepts every one of these trees; none of it carries a request. Each rule
and each rendered shape below pins an AWS behaviour, with its source named, that
decides whether a request reaches a container or a task starts.
"""

from __future__ import annotations

import json
import re

import pytest

from hclforge import render
from tests.conftest import ROOT
from tests.test_bad_input import AUTH, HEAD, VALID, test_bad_environment_file

CORS = """\
api:
  cors: {allow_origins: [https://app.example.com]}
"""
ECR = "111111111111.dkr.ecr.eu-west-1.amazonaws.com"
# Private ECR of the region: with egress: endpoints, the only images tasks can pull.
TWO = f"""\
services:
  api:
    image: {ECR}/nginx:1.27
    port: 8080
    routes: ["GET /"]
  admin:
    image: {ECR}/nginx:1.27
    port: 3000
"""
CREATE = """\
project: demo
aws:
  region: eu-west-1
network:
  create:
    cidr: 10.9.0.0/16
"""

ENDPOINTS = CREATE + "    egress: endpoints\n"
MANY = "services: #!\n" + "".join(
    f"  s{i}:\n    image: nginx:1\n    port: 80\n    routes: [GET /s{i}]\n" for i in range(301)
)

# (id, envs/bad.yaml text, YAML path, message fragment); the offending line is marked #!.
CASES: list[tuple[str, str, str, str]] = [
    (
        # VPC endpoints serve private ECR of their own region only (ECR user guide).
        "endpoints-with-a-public-image",
        ENDPOINTS + "services:\n  api:\n    image: public.ecr.aws/nginx/nginx:1 #!\n",
        "services.api.image",
        "is not private ECR: with network.create.egress: endpoints, tasks pull only from private ECR in eu-west-1",
    ),
    (
        "endpoints-with-a-public-sidecar",
        ENDPOINTS
        + f"services:\n  api:\n    image: {ECR}/api:1\n    sidecars:\n      otel:\n"
        + "        image: public.ecr.aws/aws-observability/aws-otel-collector:v0.43.1 #!\n",
        "services.api.sidecars.otel.image",
        "VPC endpoints do not serve ECR Public, Docker Hub or other regions",
    ),
    (
        "endpoints-with-another-regions-ecr",
        ENDPOINTS + "services:\n  api:\n    image: 111111111111.dkr.ecr.us-east-1.amazonaws.com/api:1 #!\n",
        "services.api.image",
        "is another region's ECR",
    ),
    (
        # A created pool's client has no resource server and no OAuth flow: no token carries a scope.
        "scopes-on-a-created-pool",
        HEAD
        + "auth:\n  cognito:\n    create: true\n"
        + "services:\n  api:\n    image: a:1\n    port: 80\n    routes: [GET /x]\n    scopes: [orders/read] #!\n",
        "services.api.scopes",
        "auth.cognito.create makes a pool without a resource server or OAuth flows",
    ),
    (
        # "Each Region has at least three Availability Zones" (AWS): one subnet per zone.
        "more-subnets-than-zones",
        CREATE + "    private_subnets: 4 #!\n" + TWO,
        "network.create.private_subnets",
        "4 subnets need as many availability zones; every account sees 3 in eu-west-1 (",
    ),
    (
        # API Gateway quotas: 300 integrations per HTTP API, not adjustable.
        "more-integrations-than-an-api-holds",
        HEAD + MANY,
        "services",
        "301 services have routes, one integration each; an HTTP API holds at most 300 integrations",
    ),
    (
        # CloudWatch alarm actions and EventBridge targets take a topic of their own region.
        "alarm-topic-in-another-region",
        VALID + "alarms:\n  sns_topic_arn: arn:aws:sns:us-east-1:111111111111:ops #!\n",
        "alarms.sns_topic_arn",
        "the topic is in us-east-1; alarms in eu-west-1 notify a topic in eu-west-1",
    ),
    (
        "calls-unknown-service",
        HEAD + TWO + "    calls:\n      - billing #!\n",
        "services.admin.calls[0]",
        "no service 'billing' (services: api, admin)",
    ),
    (
        "calls-itself",
        HEAD + TWO + "    calls:\n      - admin #!\n",
        "services.admin.calls[0]",
        "'admin' is the service itself",
    ),
    (
        "calls-service-without-port",
        HEAD
        + TWO
        + "  worker:\n    image: w:1\n    calls: [api]\n"
        + "  batch:\n    image: b:1\n    calls:\n      - worker #!\n",
        "services.batch.calls[0]",
        "'worker' has no port, so nothing can call it",
    ),
    (
        "calls-twice",
        HEAD + TWO + "    calls:\n      - api\n      - api #!\n",
        "services.admin.calls[1]",
        "'api' is listed twice",
    ),
    (
        # Cloud Map answers <service>.<namespace> for the A record, and the callee's
        # security group admits only the services listed in calls.
        "environment-names-a-service-not-in-calls",
        HEAD + TWO + "    environment:\n      API_BASE_URL: http://api.demo-bad.internal:8080 #!\n",
        "services.admin.environment.API_BASE_URL",
        "names api.demo-bad.internal, but admin does not list api in calls",
    ),
    (
        "environment-names-a-service-in-upper-case",
        HEAD + TWO + "    environment:\n      API: HTTP://API.DEMO-BAD.INTERNAL #!\n",
        "services.admin.environment.API",
        "names api.demo-bad.internal, but admin does not list api in calls",
    ),
    (
        # AWS "Configure CORS for HTTP APIs": API Gateway answers a preflight only when no
        # route matches it; a JWT route that does answers 401 (no token on a preflight).
        "cors-jwt-options-route",
        HEAD + AUTH + CORS + "services:\n  api:\n    image: a:1\n    port: 80\n    routes:\n      - OPTIONS /x #!\n",
        "services.api.routes[0]",
        "'OPTIONS /x' would catch browser preflights (OPTIONS without a token) with the JWT authorizer",
    ),
    (
        "cors-jwt-default-route",
        HEAD + AUTH + CORS + "services:\n  api:\n    image: a:1\n    port: 80\n    routes:\n      - $default #!\n",
        "services.api.routes[0]",
        "'$default' would catch browser preflights",
    ),
    (
        # ANY is rendered as its methods: they must not collide with another service's route.
        "cors-jwt-any-expands-into-a-taken-route",
        HEAD
        + AUTH
        + CORS
        + "services:\n  api:\n    image: a:1\n    port: 80\n    routes: [GET /x]\n"
        + "  web:\n    image: w:1\n    port: 80\n    routes:\n      - ANY /x #!\n",
        "services.web.routes[0]",
        "'GET /x' is already routed to service 'api'",
    ),
    (
        # Fargate 1.4 pulls images, reads secrets and ships logs through the task's ENI.
        "egress-none-off-the-emulator",
        CREATE + "    egress: none #!\n" + TWO,
        "network.create.egress",
        "none is only allowed with aws.emulator: true",
    ),
    (
        "egress-unknown",
        CREATE + "    egress: igw #!\n" + TWO,
        "network.create.egress",
        "must be 'nat', 'endpoints' or 'none', not 'igw'",
    ),
    (
        "nat-gateways-without-nat",
        CREATE + "    egress: endpoints\n    nat_gateways: per_az #!\n" + TWO,
        "network.create.nat_gateways",
        "only allowed with egress: nat (egress is endpoints)",
    ),
    (
        "nat-gateways-value",
        CREATE + "    nat_gateways: 2 #!\n" + TWO,
        "network.create.nat_gateways",
        "must be 1 or 'per_az', not 2",
    ),
    (
        "kms-alias-is-not-a-key",
        VALID + "    kms_key_arns:\n      - arn:aws:kms:eu-west-1:111111111111:alias/secrets #!\n",
        "services.api.kms_key_arns[0]",
        "is not a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/KEY-ID; aliases cannot be granted)",
    ),
]


@pytest.mark.parametrize(("text", "ypath", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_request_path_rule(project, capsys, text: str, ypath: str, message: str) -> None:
    test_bad_environment_file(project, capsys, text, ypath, message)


def test_dev_example_is_refused_without_its_calls_entry(project, capsys) -> None:
    """The acceptance case: the dev example with admin's `calls` removed is a config error."""
    dev = (ROOT / "envs/dev.yaml").read_text(encoding="utf-8")
    assert "    calls: [api]\n" in dev
    root = project(
        {
            "envs/_base.yaml": (ROOT / "envs/_base.yaml").read_text(encoding="utf-8"),
            "envs/dev.yaml": dev.replace("    calls: [api]\n", ""),
        }
    )
    from hclforge.cli.main import main
    from tests.conftest import tree_snapshot

    before = tree_snapshot(root)
    code = main(["--root", str(root), "render", "dev"])
    err = capsys.readouterr().err
    line = next(n for n, text in enumerate(dev.splitlines(), 1) if "API_BASE_URL" in text)
    assert code == 2, err
    assert (
        f"envs/dev.yaml:{line}: services.admin.environment.API_BASE_URL: names api.sss-dev.internal, "
        "but admin does not list api in calls"
    ) in err
    assert tree_snapshot(root) == before


# ----------------------------------------------------------------- rendering


def _render(project, text: str) -> dict[str, str]:
    root = project({"envs/x.yaml": text})
    return render.render(root, "x").files


def _resources(text: str, rtype: str) -> dict[str, str]:
    """Blocks of ``rtype`` in a rendered file, by name (the block's text up to its closing brace)."""
    found = {}
    for match in re.finditer(rf'^resource "{rtype}" "([^"]+)" {{\n(.*?)^}}', text, re.M | re.S):
        found[match.group(1)] = match.group(2)
    return found


def test_cors_jwt_any_route_is_rendered_without_options(project) -> None:
    files = _render(
        project,
        HEAD + AUTH + CORS + "services:\n  api:\n    image: a:1\n    port: 80\n"
        "    routes: ['ANY /api/{proxy+}', GET /health]\n  web:\n    image: w:1\n    port: 80\n"
        "    auth: none\n    routes: [ANY /web]\n",
    )
    keys = re.findall(r'route_key\s+= "([^"]+)"', files["apigateway/main.tf"])
    assert keys == [
        "DELETE /api/{proxy+}",
        "GET /api/{proxy+}",
        "HEAD /api/{proxy+}",
        "PATCH /api/{proxy+}",
        "POST /api/{proxy+}",
        "PUT /api/{proxy+}",
        "GET /health",
        # auth: none is split too: on ANY the preflight would reach the service, not API Gateway's CORS.
        *(f"{m} /web" for m in ("DELETE", "GET", "HEAD", "PATCH", "POST", "PUT")),
    ]


def test_without_cors_any_stays_one_route(project) -> None:
    files = _render(project, HEAD + AUTH + "services:\n  api:\n    image: a:1\n    port: 80\n    routes: [ANY /a]\n")
    assert re.findall(r'route_key\s+= "([^"]+)"', files["apigateway/main.tf"]) == ["ANY /a"]


def test_cloud_map_services_carry_a_and_srv_records(project) -> None:
    files = _render(project, VALID)
    block = _resources(files["cloudmap/main.tf"], "aws_service_discovery_service")["api"]
    assert re.findall(r'type = "(\w+)"', block) == ["A", "SRV"]


def test_callers_are_admitted_on_the_callee_port(project) -> None:
    files = _render(project, HEAD + TWO + "    calls: [api]\n")
    rules = _resources(files["ecs/main.tf"], "aws_security_group_rule")
    rule = rules["api_from_admin"]
    assert 'type                     = "ingress"' in rule
    assert "from_port                = 8080" in rule and "to_port                  = 8080" in rule
    assert "security_group_id        = aws_security_group.api.id" in rule
    assert "source_security_group_id = aws_security_group.admin.id" in rule
    assert not any(name.startswith("admin_from_") for name in rules)


def test_vpc_link_and_security_groups_are_replaced_new_first(project) -> None:
    files = _render(project, VALID)
    link = _resources(files["apigateway/main.tf"], "aws_apigatewayv2_vpc_link")["this"]
    assert "create_before_destroy = true" in link
    for module, name in (("apigateway", "vpc_link"), ("ecs", "api")):
        group = _resources(files[f"{module}/main.tf"], "aws_security_group")[name]
        assert "create_before_destroy = true" in group
        # A fixed name would collide with the group it replaces.
        assert "name_prefix" in group and not re.search(r"^\s+name\s+=", group, re.M)


@pytest.mark.parametrize(
    ("arn", "granted"),
    [
        # Complete: the secret's name plus "-" and 6 characters.
        ("arn:aws:secretsmanager:eu-west-1:111111111111:secret:app/db-AbC123", "secret:app/db-AbC123"),
        # Without the suffix: matches no secret in IAM unless granted as <arn>-??????.
        ("arn:aws:secretsmanager:eu-west-1:111111111111:secret:app/db", "secret:app/db-??????"),
        # A JSON key and version stage: the policy names the secret.
        (
            "arn:aws:secretsmanager:eu-west-1:111111111111:secret:app/db-AbC123:password:AWSCURRENT:",
            "secret:app/db-AbC123",
        ),
        ("arn:aws:secretsmanager:eu-west-1:111111111111:secret:app/db:password::", "secret:app/db-??????"),
    ],
)
def test_secrets_manager_grants_match_the_secret(project, arn: str, granted: str) -> None:
    files = _render(project, VALID + f'    secrets: {{DB: "{arn}"}}\n')
    grants = re.search(
        r'actions\s+= \["secretsmanager:GetSecretValue"\]\n\s+resources = (\[.*\])', files["iam/main.tf"]
    )
    assert grants is not None
    assert json.loads(grants.group(1)) == [f"arn:aws:secretsmanager:eu-west-1:111111111111:{granted}"]
    # ECS reads the secret as written: the container keeps the ARN given.
    assert arn in files["ecs/main.tf"]


def test_kms_keys_are_granted_decrypt_through_the_secret_services(project) -> None:
    key = "arn:aws:kms:eu-west-1:111111111111:key/0a1b2c3d-4e5f-6789-abcd-ef0123456789"
    files = _render(project, VALID + f"    kms_key_arns: [{key}]\n")
    policy = files["iam/main.tf"]
    assert re.search(rf'actions\s+= \["kms:Decrypt"\]\n\s+resources = \["{key}"\]', policy)
    assert 'variable = "kms:ViaService"' in policy


def test_read_only_root_gets_a_writable_tmp(project) -> None:
    files = _render(project, VALID + "    readonly_root_filesystem: true\n")
    task = _resources(files["ecs/main.tf"], "aws_ecs_task_definition")["api"]
    assert re.search(r'volume \{\n\s+name = "tmp"\n\s+\}', task)
    assert re.search(
        r'mountPoints = \[\n\s+\{\n\s+sourceVolume\s+= "tmp"\n\s+containerPath = "/tmp"\n\s+readOnly\s+= false\n', task
    )


@pytest.mark.parametrize(
    ("egress", "present", "absent"),
    [
        (
            "nat",
            ["aws_internet_gateway", "aws_nat_gateway", "aws_eip", "aws_route"],
            ["aws_vpc_endpoint"],
        ),
        ("endpoints", ["aws_vpc_endpoint", "aws_security_group"], ["aws_nat_gateway", "aws_internet_gateway"]),
    ],
)
def test_created_network_has_egress(project, egress: str, present: list[str], absent: list[str]) -> None:
    files = _render(project, CREATE + f"    egress: {egress}\n" + TWO)
    network = files["network/main.tf"]
    for rtype in present:
        assert f'resource "{rtype}"' in network, rtype
    for rtype in absent:
        assert f'resource "{rtype}"' not in network, rtype


def test_nat_is_the_default_off_the_emulator_and_none_on_it(project) -> None:
    files = _render(project, CREATE + TWO)
    routes = _resources(files["network/main.tf"], "aws_route")
    assert "nat_gateway_id         = aws_nat_gateway.public_1.id" in routes["private_1_nat"]
    local = render.render(ROOT, "local").files["network/main.tf"]
    assert "aws_nat_gateway" not in local and "aws_vpc_endpoint" not in local


def test_endpoints_cover_what_a_fargate_task_needs(project) -> None:
    files = _render(project, CREATE + "    egress: endpoints\n" + TWO)
    network = files["network/main.tf"]
    services = re.findall(
        r'service_name\s+=\s+"com\.amazonaws\.\$\{data\.aws_region\.current\.name\}\.([a-z0-9.]+)"', network
    )
    assert sorted(services) == sorted(["ecr.api", "ecr.dkr", "logs", "secretsmanager", "ssm", "sts", "s3"])
    ecs = _resources(files["ecs/main.tf"], "aws_security_group_rule")
    for service in ("api", "admin"):
        rule = ecs[f"endpoints_from_{service}"]
        assert "from_port                = 443" in rule
        assert f"source_security_group_id = aws_security_group.{service}.id" in rule


def test_exec_adds_the_ssmmessages_endpoint(project) -> None:
    files = _render(project, CREATE + "    egress: endpoints\n" + TWO + "    exec: true\n")
    assert 'resource "aws_vpc_endpoint" "ssmmessages"' in files["network/main.tf"]


def test_per_az_nat_gives_each_private_subnet_its_own_route(project) -> None:
    files = _render(project, CREATE + "    private_subnets: 3\n    egress: nat\n    nat_gateways: per_az\n" + TWO)
    network = files["network/main.tf"]
    assert len(_resources(network, "aws_nat_gateway")) == 3
    for n in (1, 2, 3):
        assert (
            f"nat_gateway_id         = aws_nat_gateway.public_{n}.id"
            in _resources(network, "aws_route")[f"private_{n}_nat"]
        )
        assert (
            f"route_table_id = aws_route_table.private_{n}.id"
            in _resources(network, "aws_route_table_association")[f"private_{n}"]
        )


def test_scheduled_command_goes_through_the_universal_run_task_target(project) -> None:
    files = _render(
        project,
        VALID + "scheduled_tasks:\n  nightly:\n    service: api\n    schedule: rate(1 day)\n"
        "    command: [python, -m, report]\n",
    )
    schedule = files["scheduler/main.tf"]
    assert 'arn      = "arn:${data.aws_partition.current.partition}:scheduler:::aws-sdk:ecs:runTask"' in schedule
    assert re.search(
        r'Overrides = \{\n\s+ContainerOverrides = \[\n\s+\{\n\s+Name\s+= "api"\n'
        r'\s+Command = \["python", "-m", "report"\]',
        schedule,
    )
    assert "retry_policy {" in schedule
    assert "ecs_parameters" not in schedule


def test_endpoints_accept_private_ecr_of_the_region(project) -> None:
    files = _render(project, ENDPOINTS + f"services:\n  api:\n    image: {ECR}/ecr-public/nginx/nginx:1\n")
    assert "aws_vpc_endpoint" in files["network/main.tf"]


def test_exec_on_a_read_only_root_gets_the_agents_paths_writable(project) -> None:
    """AWS calls ECS Exec on a read-only root unsupported; writable volumes at the agent's paths make it work.

    Sources: toricls, "Using ECS Exec with readonlyRootFilesystem enabled containers" (2021);
    aws/containers-roadmap#1359; aws-containers/amazon-ecs-exec-checker#21 and #71.
    """
    text = VALID + "    exec: true\n    readonly_root_filesystem: true\n"
    text += "    sidecars:\n      otel:\n        image: otel:1\n        essential: false\n"
    ecs = _render(project, text)["ecs/main.tf"]
    volumes = re.findall(r'volume \{\n\s+name = "([^"]+)"', ecs)
    assert volumes == ["tmp", "ssm-agent-state", "ssm-agent-logs"]
    api, otel = re.split(r'\n\s+name\s+= "otel"', re.split(r'\n\s+name\s+= "api"', ecs)[1])
    mounts = re.findall(r'sourceVolume\s+= "([^"]+)"\n\s+containerPath = "([^"]+)"', api)
    assert mounts == [("tmp", "/tmp"), ("ssm-agent-state", "/var/lib/amazon"), ("ssm-agent-logs", "/var/log/amazon")]
    assert re.findall(r'sourceVolume\s+= "([^"]+)"', otel) == ["tmp"]


def test_open_any_route_with_cors_is_split_too(project) -> None:
    """An auth: none ANY route would hand the preflight to the service (which may answer 405)."""
    files = _render(project, HEAD + CORS + "services:\n  web:\n    image: w:1\n    port: 80\n    auth: none\n"
                    "    routes: [ANY /web]\n")  # fmt: skip
    keys = re.findall(r'route_key\s+= "([^"]+)"', files["apigateway/main.tf"])
    assert sorted(keys) == [f"{m} /web" for m in ("DELETE", "GET", "HEAD", "PATCH", "POST", "PUT")]


def test_scheduler_role_trusts_only_this_accounts_schedules(project) -> None:
    text = VALID + "scheduled_tasks:\n  nightly:\n    service: api\n    schedule: rate(1 day)\n"
    scheduler = _render(project, text)["scheduler/main.tf"]
    trust = scheduler.split('data "aws_iam_policy_document" "scheduler_assume"')[1].split("\n}\n")[0]
    assert 'variable = "aws:SourceAccount"' in trust
    assert "data.aws_caller_identity.current.account_id" in trust


def test_created_network_takes_availability_zones_only_and_checks_their_count(project) -> None:
    network = _render(project, CREATE + "    private_subnets: 3\n" + TWO)["network/main.tf"]
    assert 'name   = "opt-in-status"' in network and 'values = ["opt-in-not-required"]' in network
    assert "length(data.aws_availability_zones.available.names) >= 3" in network


@pytest.mark.parametrize(
    ("text", "ypath", "message"),
    [
        (
            HEAD + "api:\n  cors: {allow_origins: [https://a.example], allow_methods: [GET]} #!\n"
            "services:\n  web:\n    image: w:1\n    port: 80\n    routes: [GET /, PATCH /x]\n",
            "api.cors.allow_methods",
            "routes use PATCH, which browsers will not send (add them, or '*')",
        ),
        (
            HEAD + CORS + "services:\n  web:\n    image: w:1\n    port: 80\n    auth: none\n    routes:\n"
            "      - $default #!\n",
            "services.web.routes[0]",
            "$default also matches browser preflights",
        ),
    ],
)
def test_warnings_name_the_line(project, capsys, text: str, ypath: str, message: str) -> None:
    """Accepted, but said: a method browsers will not send; $default catching preflights."""
    root = project({"envs/warn.yaml": text})
    from hclforge.cli.main import main

    assert main(["--root", str(root), "render", "warn"]) == 0
    err = capsys.readouterr().err
    line = next(i for i, ln in enumerate(text.splitlines(), 1) if ln.endswith("#!"))
    assert f"warning: envs/warn.yaml:{line}: {ypath}: {message}" in err, err


def test_more_routes_than_the_adjustable_quota_is_a_warning(project, capsys) -> None:
    from hclforge.cli.main import main

    routes = ", ".join(f"GET /r{i}" for i in range(301))
    root = project(
        {"envs/big.yaml": HEAD + f"services: #!\n  api:\n    image: a:1\n    port: 80\n    routes: [{routes}]\n"}
    )
    assert main(["--root", str(root), "render", "big"]) == 0
    assert "warning: envs/big.yaml:7: services: 301 routes: an HTTP API holds 300 unless AWS raised" in (
        capsys.readouterr().err
    )
