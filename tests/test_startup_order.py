"""No ECS service is created before what its tasks need at start (issue 19).

The example environments are checked in their plans (tests/test_plans.py reads each
plan's configuration). Here, the two created networks the examples do not have: NAT per
availability zone, and VPC endpoints (with ECS Exec's extra endpoint), read from
``terraform graph`` of the rendered trees (no emulator, no plan).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from hclforge import render
from hclforge.cli.terraform import Terraform
from tests.conftest import MINIMAL_ENV
from tests.startup_order import graph_from_dot, missing_in

# The old templates' graph of one service (abridged from `terraform graph` of the local
# tree before issue 19): the service waited for its task definition and its group only.
BEFORE = """
digraph G {
  "module.ecs.aws_ecs_service.api" -> "module.ecs.aws_ecs_task_definition.api";
  "module.ecs.aws_ecs_service.api" -> "module.ecs.aws_security_group.api";
  "module.ecs.aws_ecs_task_definition.api" -> "module.iam.aws_iam_role.execution";
  "module.ecs.aws_security_group_rule.api_egress" -> "module.ecs.aws_security_group.api";
  "module.iam.aws_iam_role_policy_attachment.execution" -> "module.iam.aws_iam_role.execution";
  "module.network.aws_route.private_1_nat" -> "module.network.aws_nat_gateway.public_1";
  "module.network.aws_route_table_association.private_1" -> "module.network.aws_subnet.private_1";
  "module.ecs.aws_security_group.api" -> "module.network.aws_vpc.this";
}
"""


def test_a_service_that_starts_before_its_way_out_is_found() -> None:
    assert missing_in(graph_from_dot(BEFORE)) == {
        "module.ecs.aws_ecs_service.api": [
            "module.ecs.aws_security_group_rule.api_egress",
            "module.iam.aws_iam_role_policy_attachment.execution",
            "module.network.aws_nat_gateway.public_1",
            "module.network.aws_route.private_1_nat",
            "module.network.aws_route_table_association.private_1",
        ]
    }


NETWORKS = {
    "nat": {"cidr": "10.60.0.0/16", "private_subnets": 3, "egress": "nat", "nat_gateways": "per_az"},
    "endpoints": {"cidr": "10.61.0.0/16", "private_subnets": 2, "egress": "endpoints"},
}


@pytest.mark.terraform
@pytest.mark.parametrize("egress", sorted(NETWORKS))
def test_services_wait_for_egress_rules_and_the_execution_role(
    egress: str, project, tf_env: dict[str, str], tmp_path: Path
) -> None:
    env = {
        **MINIMAL_ENV,
        "network": {"create": NETWORKS[egress]},
        "iam": {"execution_role": {"extra_policy_arns": ["arn:aws:iam::aws:policy/AmazonSSMReadOnlyAccess"]}},
        "services": {
            "api": {
                "image": "111111111111.dkr.ecr.eu-west-1.amazonaws.com/api:1",
                "port": 8080,
                "routes": ["GET /"],
                "calls": ["billing"],
                "exec": True,
                "secrets": {"DB": "arn:aws:secretsmanager:eu-west-1:111111111111:secret:db-AbCdEf"},
            },
            "billing": {"image": "111111111111.dkr.ecr.eu-west-1.amazonaws.com/billing:1", "port": 8080},
        },
    }
    root = project({"envs/sandbox.yaml": env})
    render.write_tree(root, render.render(root, "sandbox"))
    env_vars = {**tf_env, "TF_DATA_DIR": str(tmp_path / "data")}
    Terraform(root / "modules/sandbox", env=env_vars).run("init", stream=False)
    graph_run = subprocess.run(
        ["terraform", "graph"],
        cwd=root / "modules/sandbox",
        env={**os.environ, **env_vars},
        capture_output=True,
        text=True,
    )
    assert graph_run.returncode == 0, graph_run.stderr
    dot = graph_run.stdout
    graph = graph_from_dot(dot)
    kinds = {address.split(".")[0] for module, address in graph if module == "module.network"}
    assert {"aws_route_table_association", "aws_nat_gateway" if egress == "nat" else "aws_vpc_endpoint"} <= kinds
    assert missing_in(graph) == {}
