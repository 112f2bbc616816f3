"""What a production team expects: custom domain, alarms, Graviton, ECS Exec, Spot with a base,
sidecars, ephemeral storage, JWT scopes. Rendered shapes and the bad input for each field."""

from __future__ import annotations

import json
import re

import pytest

from hclforge import render
from tests.test_bad_input import AUTH, HEAD, VALID, test_bad_environment_file

DOMAIN = """\
api:
  domain:
    name: api.example.com
    certificate_arn: "arn:aws:acm:eu-west-1:111111111111:certificate/0a1b2c3d-4e5f-6789-abcd-ef0123456789"
    zone_id: Z0123456789ABCDEFGHIJ
"""
ALARMS = """\
alarms:
  sns_topic_arn: "arn:aws:sns:eu-west-1:111111111111:ops"
  cpu_percent: 70
  services:
    api: {memory_percent: 95}
"""
SPOT = """\
cluster:
  capacity_providers: [FARGATE, FARGATE_SPOT]
"""


def _render(project, text: str) -> dict[str, str]:
    root = project({"envs/x.yaml": text})
    return render.render(root, "x").files


def _block(text: str, rtype: str, name: str) -> str:
    match = re.search(rf'^resource "{rtype}" "{name}" {{\n(.*?)^}}', text, re.M | re.S)
    assert match is not None, f"{rtype}.{name} not rendered"
    return match.group(1)


def _containers(files: dict[str, str], service: str) -> list[dict]:
    """The task's containers, read back from the rendered jsonencode (as HCL: names and keys only)."""
    task = _block(files["ecs/main.tf"], "aws_ecs_task_definition", service)
    return [{"name": n} for n in re.findall(r'^      name\s+= "([^"]+)"', task, re.M)]


def test_custom_domain_disables_the_default_endpoint(project) -> None:
    files = _render(project, HEAD + DOMAIN + VALID[len(HEAD) :])
    api = files["apigateway/main.tf"]
    assert "disable_execute_api_endpoint = true" in _block(api, "aws_apigatewayv2_api", "this")
    domain = _block(api, "aws_apigatewayv2_domain_name", "this")
    assert 'endpoint_type   = "REGIONAL"' in domain and 'security_policy = "TLS_1_2"' in domain
    mapping = _block(api, "aws_apigatewayv2_api_mapping", "this")
    assert "stage       = aws_apigatewayv2_stage.default.id" in mapping
    record = _block(api, "aws_route53_record", "this")
    assert 'zone_id = "Z0123456789ABCDEFGHIJ"' in record and "alias {" in record
    assert 'value       = "https://${aws_apigatewayv2_domain_name.this.domain_name}"' in files["apigateway/outputs.tf"]


def test_domain_without_zone_has_no_record(project) -> None:
    text = DOMAIN.replace("    zone_id: Z0123456789ABCDEFGHIJ\n", "")
    files = _render(project, HEAD + text + VALID[len(HEAD) :])
    assert "aws_route53_record" not in files["apigateway/main.tf"]
    assert 'output "api_domain_target"' in files["outputs.tf"]


def test_alarms_act_on_the_topic(project) -> None:
    files = _render(project, HEAD + ALARMS + VALID[len(HEAD) :])
    alarms = files["alarms/main.tf"]
    names = re.findall(r'resource "aws_cloudwatch_metric_alarm" "(\w+)"', alarms)
    assert names == ["api_running", "api_cpu_percent", "api_memory_percent", "api_5xx", "api_latency"]
    assert 'topic = ["arn:aws:sns:eu-west-1:111111111111:ops"]' in alarms
    assert alarms.count("alarm_actions       = local.topic") == 5
    # The environment's threshold, and the service's own where it has one.
    assert "threshold           = 70" in _block(alarms, "aws_cloudwatch_metric_alarm", "api_cpu_percent")
    assert "threshold           = 95" in _block(alarms, "aws_cloudwatch_metric_alarm", "api_memory_percent")
    rule = _block(alarms, "aws_cloudwatch_event_rule", "deployment_failed")
    assert '"detail-type" = ["ECS Deployment State Change"]' in rule
    assert 'eventName = ["SERVICE_DEPLOYMENT_FAILED"]' in rule
    target = _block(alarms, "aws_cloudwatch_event_target", "deployment_failed")
    assert 'arn  = "arn:aws:sns:eu-west-1:111111111111:ops"' in target
    assert 'module "alarms"' in files["main.tf"]


def test_graviton_exec_storage_and_stop_timeout(project) -> None:
    files = _render(
        project,
        VALID + "    cpu_architecture: ARM64\n    exec: true\n    ephemeral_storage_gib: 50\n    stop_timeout: 90\n",
    )
    task = _block(files["ecs/main.tf"], "aws_ecs_task_definition", "api")
    assert 'cpu_architecture        = "ARM64"' in task
    assert re.search(r"ephemeral_storage \{\n\s+size_in_gib = 50\n", task)
    assert "stopTimeout = 90" in task
    service = _block(files["ecs/main.tf"], "aws_ecs_service", "api")
    assert "enable_execute_command = true" in service
    role = files["iam/main.tf"]
    assert '"ssmmessages:CreateControlChannel"' in role and '"ssmmessages:OpenDataChannel"' in role
    assert "policy_names = [aws_iam_role_policy.task_api.name]" in role


def test_spot_with_an_on_demand_base(project) -> None:
    files = _render(
        project,
        HEAD + SPOT + VALID[len(HEAD) :] + "    capacity: {FARGATE_SPOT: {weight: 3}, FARGATE: {base: 1, weight: 1}}\n",
    )
    service = _block(files["ecs/main.tf"], "aws_ecs_service", "api")
    strategies = re.findall(r"capacity_provider_strategy \{\n(.*?)\n  \}", service, re.S)
    # In the cluster's order, whatever the YAML's.
    assert [re.sub(r"\s+", " ", s).strip() for s in strategies] == [
        'capacity_provider = "FARGATE" base = 1 weight = 1',
        'capacity_provider = "FARGATE_SPOT" weight = 3',
    ]


def test_sidecar_is_a_second_container_the_main_one_waits_for(project) -> None:
    files = _render(
        project,
        VALID
        + "    readonly_root_filesystem: true\n"
        + "    sidecars:\n      otel:\n        image: otel/collector:0.1\n        essential: false\n"
        + "        port: 4317\n        memory_reservation: 64\n        depends_on_main: true\n"
        + '        secrets: {KEY: "arn:aws:ssm:eu-west-1:111111111111:parameter/otel"}\n',
    )
    ecs = files["ecs/main.tf"]
    task = _block(ecs, "aws_ecs_task_definition", "api")
    assert [c["name"] for c in _containers(files, "api")] == ["api", "otel"]
    assert re.search(r'dependsOn = \[\n\s+\{\n\s+containerName = "otel"\n\s+condition\s+= "START"', task)
    assert re.search(r"memoryReservation\s+= 64", task) and re.search(r"essential\s+= false", task)
    # The sidecar shares the read-only root and its /tmp, and its secret is readable.
    assert task.count('sourceVolume  = "tmp"') == 2
    assert "arn:aws:ssm:eu-west-1:111111111111:parameter/otel" in files["iam/main.tf"]


def test_jwt_scopes_reach_the_routes(project) -> None:
    files = _render(project, VALID + AUTH.replace("auth:", "xauth:").replace("xauth:", "auth:") + "")
    assert "authorization_scopes" not in files["apigateway/main.tf"]
    text = HEAD + AUTH + VALID[len(HEAD) :] + "    scopes: [orders/read, orders/write]\n"
    files = _render(project, text)
    route = _block(files["apigateway/main.tf"], "aws_apigatewayv2_route", "api_get_root")
    assert 'authorization_scopes = ["orders/read", "orders/write"]' in route


def test_prod_example_uses_them() -> None:
    from tests.conftest import ROOT

    files = render.render(ROOT, "prod").files
    assert 'cpu_architecture        = "ARM64"' in _block(files["ecs/main.tf"], "aws_ecs_task_definition", "api")
    worker = _block(files["ecs/main.tf"], "aws_ecs_service", "worker")
    assert "base              = 1" in worker and 'capacity_provider = "FARGATE_SPOT"' in worker
    assert "enable_execute_command" not in files["ecs/main.tf"]
    assert "alarms/main.tf" in files and "aws_apigatewayv2_domain_name" in files["apigateway/main.tf"]
    dev = render.render(ROOT, "dev").files
    assert "enable_execute_command = true" in _block(dev["ecs/main.tf"], "aws_ecs_service", "api")
    local = render.render(ROOT, "local").files
    assert [c["name"] for c in _containers(local, "web")] == ["web", "otel"]


CASES: list[tuple[str, str, str, str]] = [
    # (id, envs/bad.yaml text, YAML path, message fragment); the offending line is marked #!.
    (
        "domain-name",
        HEAD + DOMAIN.replace("name: api.example.com", "name: api..example.com #!") + VALID[len(HEAD) :],
        "api.domain.name",
        "'api..example.com' is not a DNS name",
    ),
    (
        "domain-certificate-region",
        HEAD
        + DOMAIN.replace('certificate_arn: "arn:aws:acm:eu-west-1', 'certificate_arn: "arn:aws:acm:us-east-1').replace(
            '0123456789"\n', '0123456789" #!\n'
        )
        + VALID[len(HEAD) :],
        "api.domain.certificate_arn",
        "the certificate is in us-east-1; a regional API domain needs one in eu-west-1",
    ),
    (
        "domain-certificate-not-acm",
        HEAD
        + DOMAIN.replace(
            'certificate_arn: "arn:aws:acm:eu-west-1:111111111111:certificate/0a1b2c3d-4e5f-6789-abcd-ef0123456789"',
            "certificate_arn: arn:aws:iam::111111111111:server-certificate/x #!",
        )
        + VALID[len(HEAD) :],
        "api.domain.certificate_arn",
        "not an ACM certificate ARN",
    ),
    (
        "domain-zone-id",
        HEAD + DOMAIN.replace("zone_id: Z0123456789ABCDEFGHIJ", "zone_id: zone-1 #!") + VALID[len(HEAD) :],
        "api.domain.zone_id",
        "should match pattern",
    ),
    (
        "alarms-topic",
        HEAD + 'alarms:\n  sns_topic_arn: "arn:aws:sqs:eu-west-1:111111111111:ops" #!\n' + VALID[len(HEAD) :],
        "alarms.sns_topic_arn",
        "not an SNS topic ARN",
    ),
    (
        "alarms-unknown-service",
        HEAD + ALARMS.replace("    api: {memory_percent: 95}", "    web: {memory_percent: 95} #!") + VALID[len(HEAD) :],
        "alarms.services.web",
        "no service 'web' (services: api)",
    ),
    (
        "alarms-threshold",
        HEAD + ALARMS.replace("  cpu_percent: 70", "  cpu_percent: 170 #!") + VALID[len(HEAD) :],
        "alarms.cpu_percent",
        "less than or equal to 100",
    ),
    (
        "cpu-architecture",
        VALID + "    cpu_architecture: ARM #!\n",
        "services.api.cpu_architecture",
        "'X86_64' or 'ARM64'",
    ),
    ("exec-not-bool", VALID + "    exec: sometimes #!\n", "services.api.exec", "valid boolean"),
    ("stop-timeout-low", VALID + "    stop_timeout: 1 #!\n", "services.api.stop_timeout", "greater than or equal to 2"),
    (
        "stop-timeout-high",
        VALID + "    stop_timeout: 121 #!\n",
        "services.api.stop_timeout",
        "less than or equal to 120",
    ),
    (
        "ephemeral-storage-low",
        VALID + "    ephemeral_storage_gib: 20 #!\n",
        "services.api.ephemeral_storage_gib",
        "greater than or equal to 21",
    ),
    (
        "ephemeral-storage-high",
        VALID + "    ephemeral_storage_gib: 201 #!\n",
        "services.api.ephemeral_storage_gib",
        "less than or equal to 200",
    ),
    (
        "capacity-provider-not-in-cluster",
        VALID + "    capacity:\n      FARGATE_SPOT: {weight: 1} #!\n",
        "services.api.capacity.FARGATE_SPOT",
        "FARGATE_SPOT is not in cluster.capacity_providers (allowed: FARGATE)",
    ),
    (
        "capacity-no-weight",
        HEAD + SPOT + VALID[len(HEAD) :] + "    capacity: #!\n      FARGATE: {base: 1}\n",
        "services.api.capacity",
        "at least one provider needs a weight above 0",
    ),
    (
        "capacity-two-bases",
        HEAD
        + SPOT
        + VALID[len(HEAD) :]
        + "    capacity: #!\n      FARGATE: {base: 1, weight: 1}\n      FARGATE_SPOT: {base: 1, weight: 1}\n",
        "services.api.capacity",
        "only one provider may have a base (given on FARGATE, FARGATE_SPOT)",
    ),
    (
        "capacity-and-capacity-provider",
        VALID + "    capacity_provider: FARGATE\n    capacity: {FARGATE: {weight: 1}} #!\n",
        "services.api.capacity",
        "give capacity_provider (one provider) or capacity (a mix), not both",
    ),
    (
        "capacity-unknown-provider",
        VALID + "    capacity:\n      EC2: {weight: 1} #!\n",
        "services.api.capacity.EC2",
        "must be 'FARGATE' or 'FARGATE_SPOT', not 'EC2'",
    ),
    (
        "scopes-without-jwt",
        VALID + "    scopes: [orders/read] #!\n",
        "services.api.scopes",
        "only used by JWT routes (auth: jwt)",
    ),
    (
        "scope-with-a-space",
        HEAD + AUTH + VALID[len(HEAD) :] + "    scopes:\n      - orders read #!\n",
        "services.api.scopes[0]",
        "not an OAuth scope",
    ),
    (
        "sidecar-name",
        VALID + "    sidecars:\n      api: #!\n        image: x:1\n",
        "services.api.sidecars.api",
        "'api' is not a sidecar name",
    ),
    (
        "sidecar-image",
        VALID + "    sidecars:\n      otel:\n        image: 'x y' #!\n",
        "services.api.sidecars.otel.image",
        "not a container image reference",
    ),
    (
        "sidecar-port-clash",
        VALID + "    sidecars:\n      otel:\n        image: x:1\n        port: 8080 #!\n",
        "services.api.sidecars.otel.port",
        "port 8080 is already used in this task",
    ),
    (
        "sidecar-plain-secret",
        VALID + "    sidecars:\n      otel:\n        image: x:1\n        secrets:\n          KEY: hunter2 #!\n",
        "services.api.sidecars.otel.secrets.KEY",
        "the value given is not shown",
    ),
    (
        "sidecar-memory",
        VALID + "    sidecars: #!\n      otel:\n        image: x:1\n        memory_reservation: 512\n",
        "services.api.sidecars",
        "the sidecars reserve 512 MiB of the task's 512",
    ),
    (
        "sidecar-unknown-key",
        VALID + "    sidecars:\n      otel:\n        image: x:1\n        cpu: 128 #!\n",
        "services.api.sidecars.otel.cpu",
        "unknown key",
    ),
]


@pytest.mark.parametrize(("text", "ypath", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_production_field_refused(project, capsys, text: str, ypath: str, message: str) -> None:
    test_bad_environment_file(project, capsys, text, ypath, message)


def test_plain_sidecar_secret_is_never_echoed(project, capsys) -> None:
    from hclforge.cli.main import main

    root = project(
        {
            "envs/x.yaml": VALID
            + "    sidecars:\n      otel:\n        image: x:1\n        secrets: {KEY: hunter2-canary}\n"
        }
    )
    assert main(["--root", str(root), "render", "x"]) == 2
    captured = capsys.readouterr()
    assert "hunter2-canary" not in captured.out + captured.err


def test_alarms_without_container_insights_leave_out_the_running_alarm(project, capsys) -> None:
    from hclforge.cli.main import main

    text = HEAD + ALARMS + "cluster:\n  container_insights: false\n" + VALID[len(HEAD) :]
    files = _render(project, text)
    alarms = files["alarms/main.tf"]
    assert "RunningTaskCount" not in alarms and "api_running" not in files["alarms/outputs.tf"]
    assert 'resource "aws_cloudwatch_metric_alarm" "api_cpu_percent"' in alarms
    root = project({"envs/x.yaml": text})
    assert main(["--root", str(root), "render", "x"]) == 0
    line = text.splitlines().index("  container_insights: false") + 1
    assert f"warning: envs/x.yaml:{line}: cluster.container_insights: is false, so the running-below-desired" in (
        capsys.readouterr().err
    )


def test_alarm_thresholds_fall_back_to_the_environment(project) -> None:
    root = project({"envs/x.yaml": HEAD + ALARMS + VALID[len(HEAD) :]})
    cfg = render.load_env(root, "x").config
    assert cfg.alarm_threshold("api", "cpu_percent") == 70
    assert cfg.alarm_threshold("api", "memory_percent") == 95
    assert json.loads(json.dumps(cfg.capacity_strategy("api"))) == [["FARGATE", 0, 1]]
