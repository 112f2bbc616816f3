"""Plan assertions through tftest, against the emulator: inventories per environment.

Every environment, emulator one or not, is planned on a copy of its committed
tree with an override file (local backend, fake credentials, the emulator's
account), so modules/ is untouched and no credentials are needed.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from hclforge import render
from hclforge.cli.emulator import Emulator
from hclforge.routes import check_paths
from tests.conftest import EXAMPLE_ENVS, MINIMAL_ENV, ROOT, tree_snapshot
from tests.plan_inventory import counts, mismatches, output_values, plan_on_emulator, planned_values

pytestmark = [pytest.mark.terraform, pytest.mark.emulator]


def report_services(env: str) -> list[str]:
    return list(render.load_env(ROOT, env).config.services)


def _region(env: str) -> str:
    return render.load_env(ROOT, env).config.aws.region


@pytest.mark.parametrize("env", EXAMPLE_ENVS)
def test_plan_matches_inventory(env: str, moto: Emulator, tf_env: dict[str, str], tmp_path: Path) -> None:
    inventory = yaml.safe_load((ROOT / "tests" / "plans" / f"{env}.yaml").read_text())
    before = tree_snapshot(ROOT / "modules" / env)

    plan = plan_on_emulator(env, moto.client_env(_region(env)), tf_env, tmp_path)

    regen = f"regenerate after review: python -m tests.plan_inventory {env} --write"
    assert counts(plan) == inventory["counts"], regen
    values = planned_values(plan)
    problems = []
    for address, expected in inventory["values"].items():
        if address not in values:
            problems.append(f"{address}: not planned")
            continue
        problems += [f"{address}{m}" for m in mismatches(expected, values[address])]
    assert not problems, "\n".join(problems) + f"\n{regen}"
    assert output_values(plan) == inventory["outputs"], regen
    assert tree_snapshot(ROOT / "modules" / env) == before

    # The request path holds in the plan: every route reaches its tasks, every call its callee.
    report = check_paths(env, render.load_env(ROOT, env).config, plan._raw)
    assert report.ok, "\n".join(report.problems)
    assert {r.route for r in report.routes} == {
        key for name in report_services(env) for key in render.load_env(ROOT, env).config.route_keys(name)
    }


def test_inventories_cover_what_the_design_asks_for() -> None:
    """A guard on the inventories themselves: the values issue 3 names must stay in them."""
    for env in EXAMPLE_ENVS:
        text = (ROOT / "tests" / "plans" / f"{env}.yaml").read_text()
        for needle in (
            "route_key:",
            "authorization_type:",
            "cpu:",
            "memory:",
            "image:",
            "containerPort:",
            "awslogs-group:",
            "AmazonECSTaskExecutionRolePolicy",
            "cloudwatch:PutMetricData",
            "aws_iam_role_policies_exclusive.execution",
            "type: SRV",
            "service_registries:",
            "throttling_burst_limit:",
            "throttling_rate_limit:",
        ):
            assert needle in text, f"{env}: {needle}"
    assert "valueFrom:" in (ROOT / "tests/plans/dev.yaml").read_text()
    assert "issuer: https://cognito-idp.ap-northeast-1.amazonaws.com/" in (ROOT / "tests/plans/dev.yaml").read_text()
    assert "subnet-0c1d2e3f4a5b60718" in (ROOT / "tests/plans/prod.yaml").read_text()  # VPC link subnets


NASTY = 'say "hi" \\ ${var.secret} %{ if true }x%{ endif }\nnext line 🎉'


def test_nasty_strings_reach_the_plan_verbatim(project, moto: Emulator, tf_env: dict[str, str], tmp_path: Path) -> None:
    env = json.loads(json.dumps(MINIMAL_ENV))
    env["tags"] = {"Note": NASTY}
    svc = env["services"]["api"]
    svc["environment"] = {"NASTY": NASTY}
    svc["command"] = ["sh", "-c", NASTY]
    root = project({"envs/nasty.yaml": env})
    render.write_tree(root, render.render(root, "nasty"))
    # plan_on_emulator copies from ROOT/modules; point it at this project instead.
    import tests.plan_inventory as inv

    old = inv.ROOT
    inv.ROOT = root
    try:
        plan = plan_on_emulator("nasty", moto.client_env("eu-west-1"), tf_env, tmp_path)
    finally:
        inv.ROOT = old
    values = planned_values(plan)
    container = values["module.ecs.aws_ecs_task_definition.api"]["container_definitions"][0]
    assert container["environment"] == [{"name": "NASTY", "value": NASTY}]
    assert container["command"] == ["sh", "-c", NASTY]
    assert values["module.ecs.aws_ecs_cluster.this"]["tags_all"]["Note"] == NASTY
