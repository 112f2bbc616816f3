"""Plan assertions through tftest, against the emulator: inventories per environment.

Every environment, emulator one or not, is planned on a copy of its committed
tree with an override file (local backend, fake credentials, the emulator's
account), so modules/ is untouched and no credentials are needed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import tftest
import yaml

from hclforge import render
from hclforge.cli.emulator import Emulator
from hclforge.config import load_env
from hclforge.routes import check_paths
from tests.conftest import EXAMPLE_ENVS, MINIMAL_ENV, ROOT, run, tree_snapshot
from tests.plan_inventory import counts, mismatches, output_values, plan_on_emulator, planned_values
from tests.startup_order import missing_prerequisites

pytestmark = [pytest.mark.terraform, pytest.mark.emulator]


def test_plan_all_matches_each_inventory(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``plan --all --emulator`` plans every example environment; each plan is its inventory.

    One CLI run, as a team's CI runs it (``--allow-replace`` and ``--json-out`` reach
    every environment), checked against ``tests/plans/<env>.yaml``: counts, the values
    the design names, outputs, and the request path through the plan.
    """
    for env in EXAMPLE_ENVS:
        (repo / f"modules/{env}/.terraform.lock.hcl").unlink()  # see WITHOUT_LOCK in tests/conftest.py
    before = {env: tree_snapshot(repo / "modules" / env) for env in EXAMPLE_ENVS}
    scans = repo / "scans"
    code, out, err = run(
        repo, capsys, "plan", "--all", "--emulator", "--jobs", "2", "--detailed-exitcode", "--allow-replace",
        "--json-out", str(scans / "{env}.json"),
    )  # fmt: skip
    assert code == 3, err
    assert sorted(p.name for p in scans.iterdir()) == [f"{env}.json" for env in sorted(EXAMPLE_ENVS)]
    # Each environment's summary is one block, whole.
    blocks = [b for b in out.split("\n\n") if b.strip()]
    assert sorted(b.splitlines()[0] for b in blocks) == [f"Plan for {env}:" for env in sorted(EXAMPLE_ENVS)]
    for block in blocks:
        lines = block.splitlines()
        assert lines[1].startswith("module ") and lines[-1].startswith("total"), block
    assert isinstance(json.loads((repo / ".hclforge/emulator.json").read_text())["port"], int)  # one emulator
    # --allow-replace reached every environment: each planned an unprotected copy of its tree.
    assert (repo / ".hclforge/envs/prod/emulator-unprotected-tree").is_dir()
    assert (repo / ".hclforge/envs/local/unprotected-tree").is_dir()

    for env in EXAMPLE_ENVS:
        plan = tftest.TerraformPlanOutput(json.loads((scans / f"{env}.json").read_text()))
        _assert_inventory(env, plan)
        assert tree_snapshot(repo / "modules" / env) == before[env]  # the committed tree is untouched
    _assert_the_addon_and_its_grant(json.loads((scans / "local.json").read_text()))


def _assert_the_addon_and_its_grant(plan: dict[str, Any]) -> None:
    """local's addon (addons/local/jobs.tf, a queue) is planned with the tree, and its grant
    (api may send to it) reaches the iam module as a reference (tests/test_addons.py: the rest)."""
    changes = {c["address"]: c for c in plan["resource_changes"]}
    queue = changes["aws_sqs_queue.jobs"]
    assert queue["change"]["actions"] == ["create"]
    assert queue["change"]["after"]["name"] == "sss-local-jobs"  # read from module.ecs.cluster_name
    assert changes["module.iam.aws_iam_role_policy.task_api"]["change"]["actions"] == ["create"]
    iam_call = plan["configuration"]["root_module"]["module_calls"]["iam"]
    assert "aws_sqs_queue.jobs.arn" in iam_call["expressions"]["addon_arns"]["references"]
    document = next(
        r for r in iam_call["module"]["resources"] if r["address"] == "data.aws_iam_policy_document.task_api"
    )
    [statement] = document["expressions"]["statement"]
    assert 'var.addon_arns["aws_sqs_queue.jobs.arn"]' in statement["resources"]["references"]
    assert "jobs_queue_url" in plan["planned_values"]["outputs"]


def _assert_inventory(env: str, plan: tftest.TerraformPlanOutput) -> None:
    inventory = yaml.safe_load((ROOT / "tests" / "plans" / f"{env}.yaml").read_text())
    regen = f"{env}: regenerate after review: python -m tests.plan_inventory {env} --write"
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

    # The request path holds in the plan: every route reaches its tasks, every call its callee.
    config = load_env(ROOT, env).config
    report = check_paths(env, config, plan._raw)
    assert report.ok, f"{env}:\n" + "\n".join(report.problems)
    assert {r.route for r in report.routes} == {key for name in config.services for key in config.route_keys(name)}

    # No task starts before its way out, its security-group rules and the execution role's policies.
    assert missing_prerequisites(plan._raw["configuration"]) == {}, env


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
