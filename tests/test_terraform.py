"""Real terraform on rendered trees: fmt -check and validate, with the provider from the mirror."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from hclforge import render
from hclforge.cli.terraform import Terraform
from tests.conftest import EXAMPLE_ENVS, ROOT

pytestmark = pytest.mark.terraform

# Written only from design section 3: every optional feature at once.
FULL_ENV = """\
extends: [_shared]
project: acme
protect: true
aws:
  region: eu-central-1
  account_id: "333333333333"
tags: {Team: platform, "cost center": "42"}
backend:
  type: s3
  bucket: acme-tf-state
  lock: dynamodb
  dynamodb_table: acme-tf-locks
network:
  create: {cidr: 10.50.0.0/16, private_subnets: 3, egress: nat, nat_gateways: per_az}
auth:
  cognito: {create: true}
cluster:
  container_insights: false
  capacity_providers: [FARGATE_SPOT, FARGATE]
service_discovery:
  namespace: acme.internal
api:
  name: acme-public
  throttling: {burst_limit: 50, rate_limit: 25.5}
  access_log_retention_days: 14
  cors:
    allow_origins: [https://app.acme.test, https://admin.acme.test]
    allow_methods: [GET, POST, OPTIONS]
    allow_headers: [authorization]
    expose_headers: [x-request-id]
    allow_credentials: true
    max_age: 600
  domain:
    name: api.acme.test
    certificate_arn: "arn:aws:acm:eu-central-1:333333333333:certificate/0a1b2c3d-4e5f-6789-abcd-ef0123456789"
    zone_id: Z0123456789ABCDEFGHIJ
alarms:
  sns_topic_arn: "arn:aws:sns:eu-central-1:333333333333:acme-ops"
  api_p99_latency_ms: 1500
  services:
    gateway: {cpu_percent: 65}
iam:
  execution_role:
    extra_policy_arns: ["arn:aws:iam::aws:policy/AmazonSSMReadOnlyAccess"]
services:
  gateway:
    image: "333333333333.dkr.ecr.eu-central-1.amazonaws.com/gateway@sha256:0123456789abcdef"
    cpu: 2048
    memory: 8192
    port: 443
    desired_count: 3
    routes: ["ANY /{proxy+}", "GET /status", "POST /orders/{id}/items"]
    calls: [docs]
    kms_key_arns: ["arn:aws:kms:eu-central-1:333333333333:key/0a1b2c3d-4e5f-6789-abcd-ef0123456789"]
    autoscaling: {min: 3, max: 12, cpu_target: 55.5, memory_target: 70}
    environment: {MODE: "strict", QUOTE: 'he said "${hello}" %{x} \\\\ done', DOCS_URL: "http://docs.acme.internal:8080"}
    secrets:
      TLS_KEY: "arn:aws:secretsmanager:eu-central-1:333333333333:secret:acme/tls-AbCdEf:key::"
      DB_URL: "arn:aws:secretsmanager:eu-central-1:333333333333:secret:acme/db"
      API_TOKEN: "arn:aws:ssm:eu-central-1:333333333333:parameter/acme/api-token"
    health_check: {command: [CMD, /bin/healthcheck], interval: 10, timeout: 3, retries: 5, start_period: 30}
    readonly_root_filesystem: true
    cpu_architecture: ARM64
    exec: true
    stop_timeout: 60
    ephemeral_storage_gib: 40
    sidecars:
      otel:
        image: public.ecr.aws/aws-observability/aws-otel-collector:v0.43.1
        essential: false
        port: 4317
        memory_reservation: 128
        depends_on_main: true
        environment: {MODE: agent}
        secrets: {OTEL_TOKEN: "arn:aws:ssm:eu-central-1:333333333333:parameter/acme/otel"}
    permissions:
      managed_policy_arns: ["arn:aws:iam::333333333333:policy/acme-read"]
      statements:
        - {actions: ["s3:GetObject"], resources: ["arn:aws:s3:::acme-assets/*"]}
        - {effect: Deny, actions: ["s3:DeleteObject"], resources: ["*"]}
  billing-sync:
    image: acme/billing:2
    auth: none
    capacity: {FARGATE: {base: 1, weight: 1}, FARGATE_SPOT: {weight: 4}}
    command: [billing, sync, --all]
    log_retention_days: 3653
  docs:
    image: acme/docs:1
    port: 8080
    auth: none
    routes: ["GET /docs/{proxy+}", "$default"]
scheduled_tasks:
  hourly-sync:
    service: billing-sync
    schedule: rate(1 hour)
  month-end:
    service: gateway
    schedule: "cron(0 0 1 * ? *)"
    timezone: Europe/Berlin
    command: [report, --month]
"""


def _tf(workdir: Path, tf_env: dict[str, str], data_dir: Path) -> Terraform:
    return Terraform(workdir, env={**tf_env, "TF_DATA_DIR": str(data_dir)})


def _fmt_check(tree_dir: Path) -> None:
    fmt = subprocess.run(
        ["terraform", "fmt", "-check", "-recursive", "-diff", "."], cwd=tree_dir, capture_output=True, text=True
    )
    assert fmt.returncode == 0 and fmt.stdout == "", fmt.stdout + fmt.stderr


def _check(tree_dir: Path, tf_env: dict[str, str], data_dir: Path) -> None:
    _fmt_check(tree_dir)
    tf = _tf(tree_dir, tf_env, data_dir)
    tf.run("init", backend=False, stream=False)
    doc = tf.validate()
    assert doc["valid"], doc["diagnostics"]
    assert doc["warning_count"] == 0, doc["diagnostics"]


@pytest.mark.parametrize("env", EXAMPLE_ENVS)
def test_example_environment_is_fmt_clean(env: str) -> None:
    """The committed trees are fmt-clean. That they are valid, without a warning, is shown by
    their plans (tests/test_plans.py: a plan validates first, and its output is read)."""
    _fmt_check(ROOT / "modules" / env)


def test_full_featured_environment_renders_and_validates(project, tmp_path: Path, tf_env: dict[str, str]) -> None:
    root = project({"envs/_shared.yaml": "services: {}\n", "envs/acme-prod.yaml": FULL_ENV})
    tree = render.render(root, "acme-prod")
    render.write_tree(root, tree)
    files = tree.files
    assert {"network/main.tf", "cognito/main.tf", "scheduler/main.tf"} <= set(files)
    assert 'resource "aws_appautoscaling_policy" "gateway_memory"' in files["ecs/main.tf"]
    assert 'resource "aws_apigatewayv2_route" "docs_default"' in files["apigateway/main.tf"]
    assert 'resource "aws_scheduler_schedule" "month_end"' in files["scheduler/main.tf"]
    assert 'dynamodb_table = "acme-tf-locks"' in files["main.tf"]
    assert {"alarms/main.tf"} <= set(files) and "aws_apigatewayv2_domain_name" in files["apigateway/main.tf"]
    _check(root / "modules/acme-prod", tf_env, tmp_path / "data")
