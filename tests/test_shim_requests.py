"""The shim audit (issue 19): each emulator shim is justified by the request the provider sent.

A small stack holds, unshimmed, every construct a shim changes on the emulator, plus the
Cloud Map block the templates render and the empty block they used to render. It is
applied through a recording proxy, so the test reads what the AWS provider really sent,
then planned again: the re-plan must differ exactly where moto is at fault, and nowhere
the request was wrong. A failure here means either the provider now sends something else,
or moto closed a gap (then drop the shim; tests/test_emulator_gaps.py will say so too).

The stack mirrors templates/cloudmap and templates/ecs (a test below checks the rendered
trees hold the same constructs), so a change to those blocks is a change to this stack.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest
import tftest

from hclforge import render
from hclforge.cli import emulator
from hclforge.render import AWS_PROVIDER_VERSION
from hclforge.shims import EMULATOR_PROCESS_SHIMS, EMULATOR_READ_SHIMS, EMULATOR_SHIMS, SHIM_AUDIT
from tests.recording_proxy import recording_proxy

ROOT = Path(__file__).resolve().parent.parent
REGION = "ap-northeast-1"
P = "shimaudit"  # a prefix no other test of the session's emulator uses

STACK = f"""
terraform {{
  required_providers {{
    aws = {{
      source  = "hashicorp/aws"
      version = "{AWS_PROVIDER_VERSION}"
    }}
  }}
}}

provider "aws" {{
  region     = "{REGION}"
  access_key = "test"
  secret_key = "test"
}}

variable "image" {{
  type    = string
  default = "nginx:1.27"
}}

resource "aws_vpc" "this" {{
  cidr_block = "10.77.0.0/16"
}}

resource "aws_subnet" "this" {{
  vpc_id     = aws_vpc.this.id
  cidr_block = "10.77.1.0/24"
}}

resource "aws_security_group" "tasks" {{
  name_prefix = "{P}-"
  vpc_id      = aws_vpc.this.id
}}

resource "aws_service_discovery_private_dns_namespace" "this" {{
  name = "{P}.internal"
  vpc  = aws_vpc.this.id
}}

# What templates/cloudmap renders.
resource "aws_service_discovery_service" "threshold" {{
  name          = "threshold"
  force_destroy = true

  dns_config {{
    namespace_id   = aws_service_discovery_private_dns_namespace.this.id
    routing_policy = "MULTIVALUE"

    dns_records {{
      type = "A"
      ttl  = 10
    }}

    dns_records {{
      type = "SRV"
      ttl  = 10
    }}
  }}

  health_check_custom_config {{
    failure_threshold = 1
  }}
}}

# What it rendered until issue 19, behind the shim cloudmap_ignore_health_check_config.
resource "aws_service_discovery_service" "empty" {{
  name          = "empty"
  force_destroy = true

  dns_config {{
    namespace_id   = aws_service_discovery_private_dns_namespace.this.id
    routing_policy = "MULTIVALUE"

    dns_records {{
      type = "SRV"
      ttl  = 10
    }}
  }}

  health_check_custom_config {{}}
}}

resource "aws_ecs_cluster" "this" {{
  name = "{P}"
}}

resource "aws_ecs_cluster_capacity_providers" "this" {{
  cluster_name       = aws_ecs_cluster.this.name
  capacity_providers = ["FARGATE", "FARGATE_SPOT"]

  default_capacity_provider_strategy {{
    capacity_provider = "FARGATE"
    weight            = 1
  }}
}}

# Task-level memory only, as the templates render it off the emulator (ecs_container_memory).
resource "aws_ecs_task_definition" "app" {{
  family                   = "{P}-app"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = "256"
  memory                   = "512"
  container_definitions = jsonencode([
    {{
      name         = "app"
      image        = var.image
      essential    = true
      portMappings = [{{ name = "http", containerPort = 80, protocol = "tcp" }}]
    }},
  ])
}}

# A capacity provider strategy, as rendered off the emulator (ecs_service_launch_type,
# ecs_service_ignore_az_rebalancing).
resource "aws_ecs_service" "strategy" {{
  name            = "strategy"
  cluster         = aws_ecs_cluster.this.id
  task_definition = aws_ecs_task_definition.app.arn
  desired_count   = 1

  capacity_provider_strategy {{
    capacity_provider = "FARGATE"
    weight            = 1
  }}

  network_configuration {{
    subnets          = [aws_subnet.this.id]
    security_groups  = [aws_security_group.tasks.id]
    assign_public_ip = false
  }}

  service_registries {{
    registry_arn   = aws_service_discovery_service.threshold.arn
    container_name = "app"
    container_port = 80
  }}

  depends_on = [aws_ecs_cluster_capacity_providers.this]
}}

# The emulator's form of a service (launch_type FARGATE): what a deploy updates
# (rollout_ignores_task_definition).
resource "aws_ecs_service" "plain" {{
  name            = "plain"
  cluster         = aws_ecs_cluster.this.id
  task_definition = aws_ecs_task_definition.app.arn
  desired_count   = 1
  launch_type     = "FARGATE"

  network_configuration {{
    subnets          = [aws_subnet.this.id]
    security_groups  = [aws_security_group.tasks.id]
    assign_public_ip = false
  }}

  lifecycle {{
    ignore_changes = [availability_zone_rebalancing]
  }}
}}
"""


def _created(proxy: Any, operation: str, key: str, name: str) -> dict[str, Any]:
    """The one request of ``operation`` for ``name``; the SDK's retries of it count once.

    A retry (the emulator answered 5xx or slowly under load) resends the same bytes with
    the same idempotency token (CreatorRequestId, clientToken), so identical bodies are
    one request. Two different requests (a replace sends a new token) still fail here.
    """
    sent = [r for r in proxy.requests(operation) if r.json().get(key) == name]
    distinct = {r.body: r for r in sent}
    assert len(distinct) == 1, f"{operation} {name}: {[(r.status, r.json()) for r in sent]}"
    return dict(next(iter(distinct.values())).json())


def _actions(plan: Any) -> dict[str, list[str]]:
    return {rc["address"]: rc["change"]["actions"] for rc in plan.resource_changes.values()}


def test_every_shim_is_audited() -> None:
    """Every shim of every kind has an audit record, and no record outlives its shim."""
    assert set(SHIM_AUDIT) == {*EMULATOR_SHIMS, *EMULATOR_PROCESS_SHIMS, *EMULATOR_READ_SHIMS}


def test_rendered_trees_hold_the_audited_constructs() -> None:
    """The stack above is what the templates render off the emulator; the emulator tree differs only by shims."""
    dev = render.render(ROOT, "dev").files
    local = render.render(ROOT, "local").files
    for files in (dev, local):
        cloudmap = files["cloudmap/main.tf"]
        assert "health_check_custom_config {}" not in cloudmap
        assert cloudmap.count("failure_threshold = 1") == cloudmap.count('resource "aws_service_discovery_service"')
    assert "capacity_provider_strategy {" in dev["ecs/main.tf"]
    assert '"memory"' not in dev["ecs/main.tf"].split("container_definitions")[1].split("])")[0]
    assert 'launch_type = "FARGATE"' in local["ecs/main.tf"]


@pytest.mark.emulator
@pytest.mark.terraform
def test_shims_are_moto_gaps_not_wrong_requests(
    moto: emulator.Emulator, tf_env: dict[str, str], tmp_path: Path
) -> None:
    stack = tmp_path / "stack"
    stack.mkdir()
    (stack / "main.tf").write_text(textwrap.dedent(STACK))
    with recording_proxy(moto.port) as proxy:
        env = {**tf_env, **moto.client_env(REGION), "AWS_ENDPOINT_URL": proxy.endpoint}
        tf = tftest.TerraformTest(str(stack), binary="terraform", env=env)
        tf.setup(cleanup_on_exit=False)
        tf.apply()

        # Cloud Map: the block the templates render is sent; the empty block is not (provider #44285).
        threshold = _created(proxy, "CreateService", "Name", "threshold")
        assert threshold["HealthCheckCustomConfig"] == {"FailureThreshold": 1}
        empty = _created(proxy, "CreateService", "Name", "empty")
        assert "HealthCheckCustomConfig" not in empty, "the provider now sends the empty block: see #44285"

        # ecs_service_launch_type, ecs_service_ignore_az_rebalancing, ecs_services_running.
        strategy = _created(proxy, "CreateService", "serviceName", "strategy")
        assert strategy["capacityProviderStrategy"] == [{"capacityProvider": "FARGATE", "weight": 1}]
        assert strategy["availabilityZoneRebalancing"] == "DISABLED"
        assert strategy["desiredCount"] == 1
        # ecs_container_memory: the containers carry no memory of their own; valid on Fargate.
        register = _created(proxy, "RegisterTaskDefinition", "family", f"{P}-app")
        assert register["memory"] == "512"
        assert "memory" not in register["containerDefinitions"][0]

        plan = tf.plan(output=True)
        actions = _actions(plan)
        # The rendered block reads back as it was sent: no change.
        assert actions["aws_service_discovery_service.threshold"] == ["no-op"]
        # The old block was replaced on every plan, on moto as on AWS: the shim hid a real defect.
        assert actions["aws_service_discovery_service.empty"] == ["delete", "create"]
        # moto's gaps, and only those, re-plan the strategy service.
        change = plan.resource_changes["aws_ecs_service.strategy"]["change"]
        assert change["actions"] == ["delete", "create"]
        assert ["capacity_provider_strategy"] in change["replace_paths"] or any(
            path[0] == "capacity_provider_strategy" for path in change["replace_paths"]
        ), change["replace_paths"]
        assert change["before"]["availability_zone_rebalancing"] in ("", None)
        assert change["after"]["availability_zone_rebalancing"] == "DISABLED"

        # rollout_ignores_task_definition: a new image is sent as an UpdateService with the new revision.
        tf.apply(tf_vars={"image": "nginx:1.28"}, targets=["aws_ecs_service.plain"])
        updates = [r.json() for r in proxy.requests("UpdateService") if r.json()["service"].endswith("/plain")]
        assert updates, [r.operation for r in proxy.server.records]
        assert updates[-1]["taskDefinition"].endswith(f"task-definition/{P}-app:2")

    ecs = moto.client("ecs", REGION)
    svc = ecs.describe_services(cluster=P, services=["plain"])["services"][0]
    assert svc["taskDefinition"].endswith(f"{P}-app:2")
    # moto's gap: the PRIMARY deployment stays on revision 1.
    assert svc["deployments"][0]["taskDefinition"].endswith(f"{P}-app:1"), json.dumps(svc, default=str)
