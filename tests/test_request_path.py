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
TWO = """\
services:
  api:
    image: nginx:1.27
    port: 8080
    routes: ["GET /"]
  admin:
    image: nginx:1.27
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

# (id, envs/bad.yaml text, YAML path, message fragment); the offending line is marked #!.
CASES: list[tuple[str, str, str, str]] = [
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
        # auth: none may keep ANY: a preflight without a token passes it.
        "ANY /web",
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
