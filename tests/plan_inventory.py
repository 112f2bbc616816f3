"""Plan inventories (Cloud Foundation Fabric style): exact counts per type, a subset of values.

``tests/plans/<env>.yaml`` holds::

    counts:   {resource type: exact number planned for creation or change}
    values:   {address: {attribute: value, ...}}   # a subset, checked recursively
    outputs:  {name: value}                        # "__unknown__" when known only after apply

JSON strings in planned values (container definitions, policies) are decoded
before comparing, so inventories can name keys inside them.

Regenerate an inventory (then review the diff like code)::

    python -m tests.plan_inventory ENV --write     # tests/plans/ENV.yaml, curated keys
    python -m tests.plan_inventory ENV            # every planned value, to stdout
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import shutil
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import tftest
import yaml

from hclforge.cli import emulator
from hclforge.cli.settings import load_settings
from hclforge.cli.tfconfig import write_cli_config
from hclforge.cli.workcopy import OVERRIDE_FILE, emulator_override
from hclforge.config import load_env
from tests.conftest import WITHOUT_LOCK

ROOT = Path(__file__).resolve().parent.parent
UNKNOWN = "__unknown__"
JSON_KEYS = {"container_definitions", "policy", "assume_role_policy", "input", "format", "event_pattern"}


def plan_on_emulator(
    env: str, endpoint_env: dict[str, str], tf_env: dict[str, str], work: Path, source: Path | None = None
) -> Any:
    """Plan a copy of ``modules/<env>`` (or of ``source``) against the emulator through tftest.

    The copy gets an override file (local backend, fake credentials), so the
    committed tree stays untouched and no credentials are needed. The plan is
    tftest's ``plan(output=True)`` in its two steps, so that terraform's own
    output can be read too: a plan of a rendered tree has no warnings (this is
    where the example trees' warnings are checked; ``terraform validate`` runs
    in tests/test_terraform.py on the full-featured tree).
    """
    copy = work / env
    shutil.copytree(source or ROOT / "modules" / env, copy, ignore=WITHOUT_LOCK)
    (copy / OVERRIDE_FILE).write_text(emulator_override(work / f"{env}.tfstate"), encoding="utf-8")
    test = tftest.TerraformTest(
        str(copy), binary="terraform", env={**tf_env, **endpoint_env, "TF_DATA_DIR": str(work / f"{env}-data")}
    )
    test.setup(cleanup_on_exit=False)
    saved = work / f"{env}.tfplan"
    said = test.execute_command("plan", *tftest.parse_args(input=False, color=False), f"-out={saved}").out
    warnings = [line for line in said.splitlines() if line.lstrip("│ ").startswith("Warning:")]
    assert not warnings, said
    return tftest.TerraformPlanOutput(json.loads(test.execute_command("show", "-no-color", "-json", str(saved)).out))


def decode(value: Any) -> Any:
    """Decode JSON-in-strings under :data:`JSON_KEYS`, recursively."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key in JSON_KEYS and isinstance(item, str):
                with contextlib.suppress(ValueError):
                    item = json.loads(item)
            out[key] = decode(item)
        return out
    if isinstance(value, list):
        return [decode(v) for v in value]
    return value


def counts(plan: Any) -> dict[str, int]:
    """Resources planned for any change, by type."""
    return dict(
        sorted(
            Counter(
                rc["type"]
                for rc in plan.resource_changes.values()
                if rc["mode"] == "managed" and rc["change"]["actions"] != ["no-op"]
            ).items()
        )
    )


def planned_values(plan: Any) -> dict[str, Any]:
    """Planned values of every managed resource, in every module, by address; JSON strings decoded."""
    found: dict[str, Any] = {}

    def walk(module: dict[str, Any]) -> None:
        for res in module.get("resources", []):
            if res["mode"] == "managed":
                found[res["address"]] = decode(res.get("values", {}))
        for child in module.get("child_modules", []):
            walk(child)

    walk(plan._raw.get("planned_values", {}).get("root_module", {}))
    return dict(sorted(found.items()))


def mismatches(expected: Any, actual: Any, path: str = "") -> list[str]:
    """Where ``actual`` differs from the subset ``expected`` (lists compare item by item)."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{path}: expected a map, got {actual!r}"]
        out = []
        for key, item in expected.items():
            if key not in actual:
                out.append(f"{path}.{key}: missing")
            else:
                out += mismatches(item, actual[key], f"{path}.{key}")
        return out
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return [f"{path}: expected {expected!r}, got {actual!r}"]
        return [
            m for i, (e, a) in enumerate(zip(expected, actual, strict=True)) for m in mismatches(e, a, f"{path}[{i}]")
        ]
    if expected != actual:
        return [f"{path}: expected {expected!r}, got {actual!r}"]
    return []


def output_values(plan: Any) -> dict[str, Any]:
    out = {}
    for name, change in plan._raw.get("output_changes", {}).items():
        out[name] = UNKNOWN if change.get("after_unknown") is True else change.get("after")
    return out


# The attributes an inventory keeps, by resource type (None: none, just the address).
CURATED: dict[str, tuple[str, ...]] = {
    "aws_apigatewayv2_api": ("name", "protocol_type", "cors_configuration", "disable_execute_api_endpoint"),
    "aws_apigatewayv2_api_mapping": ("stage",),
    "aws_apigatewayv2_domain_name": ("domain_name", "domain_name_configuration"),
    "aws_route53_record": ("zone_id", "type", "alias"),
    "aws_cloudwatch_metric_alarm": (
        "alarm_name",
        "namespace",
        "metric_name",
        "extended_statistic",
        "comparison_operator",
        "threshold",
        "evaluation_periods",
        "dimensions",
        "metric_query",
        "alarm_actions",
    ),
    "aws_cloudwatch_event_rule": ("name", "event_pattern"),
    "aws_cloudwatch_event_target": ("arn",),
    "aws_apigatewayv2_authorizer": ("authorizer_type", "identity_sources", "jwt_configuration"),
    "aws_apigatewayv2_integration": ("integration_type", "integration_method", "connection_type"),
    "aws_apigatewayv2_route": ("route_key", "authorization_type", "authorization_scopes"),
    "aws_apigatewayv2_stage": ("name", "auto_deploy", "default_route_settings"),
    "aws_apigatewayv2_vpc_link": ("name", "subnet_ids"),
    "aws_appautoscaling_policy": ("name", "policy_type", "target_tracking_scaling_policy_configuration"),
    "aws_appautoscaling_target": ("min_capacity", "max_capacity", "scalable_dimension"),
    "aws_cloudwatch_log_group": ("name", "retention_in_days"),
    "aws_cognito_user_pool": ("name",),
    "aws_ecs_cluster": ("name", "setting"),
    "aws_ecs_cluster_capacity_providers": ("capacity_providers", "default_capacity_provider_strategy"),
    "aws_ecs_service": (
        "name",
        "desired_count",
        "launch_type",
        "capacity_provider_strategy",
        "network_configuration",
        "service_registries",
        "enable_execute_command",
    ),
    "aws_ecs_task_definition": (
        "family",
        "cpu",
        "memory",
        "network_mode",
        "requires_compatibilities",
        "container_definitions",
        "volume",
        "runtime_platform",
        "ephemeral_storage",
    ),
    "aws_iam_role": ("name",),
    "aws_iam_role_policies_exclusive": ("role_name", "policy_names"),
    "aws_iam_role_policy": ("name", "policy"),
    "aws_iam_role_policy_attachment": ("policy_arn",),
    "aws_scheduler_schedule": ("name", "schedule_expression", "schedule_expression_timezone", "target"),
    "aws_security_group_rule": ("type", "protocol", "from_port", "to_port"),
    "aws_service_discovery_private_dns_namespace": ("name",),
    "aws_service_discovery_service": ("name", "force_destroy", "dns_config"),
    "aws_sqs_queue": ("name", "visibility_timeout_seconds"),
    "aws_subnet": ("cidr_block",),
    "aws_vpc": ("cidr_block", "enable_dns_hostnames"),
    "aws_vpc_endpoint": ("service_name", "vpc_endpoint_type", "private_dns_enabled"),
    "aws_route": ("destination_cidr_block",),
}
_DROP = {"tags", "tags_all", "role_arn", "arn"}


def _prune(value: Any) -> Any:
    """Drop nulls, empty lists and provider-computed noise, so inventories stay short."""
    if isinstance(value, dict):
        out = {k: _prune(v) for k, v in value.items() if k not in _DROP and v is not None and v != []}
        return {k: v for k, v in out.items() if v not in ({}, [])}
    if isinstance(value, list):
        return [_prune(v) for v in value]
    return value


def curated(plan: Any) -> dict[str, Any]:
    """The inventory of a plan: counts, curated values, outputs."""
    values = {}
    for address, attrs in planned_values(plan).items():
        rtype = address.split(".")[-2]
        keys = CURATED.get(rtype, ())
        picked = _prune({k: attrs[k] for k in keys if k in attrs})
        if picked:
            values[address] = picked
    return {"counts": counts(plan), "values": values, "outputs": output_values(plan)}


def main(argv: list[str]) -> int:
    """Print every planned value of ``argv[0]``, or write its curated inventory with ``--write``."""
    env = argv[0]
    write = "--write" in argv[1:]
    region = load_env(ROOT, env).config.aws.region
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp) / "emulator"
        emu = emulator.start(state, 0)
        try:
            settings = dataclasses.replace(load_settings(ROOT), root=Path(tmp))
            tf_env = {"TF_CLI_CONFIG_FILE": str(write_cli_config(settings))}
            plan = plan_on_emulator(env, emu.client_env(region), tf_env, Path(tmp))
        finally:
            emulator.stop(state)
        if write:
            path = ROOT / "tests" / "plans" / f"{env}.yaml"
            header = f"# Plan inventory of {env}; regenerate: python -m tests.plan_inventory {env} --write\n"
            path.write_text(header + yaml.safe_dump(curated(plan), sort_keys=False, allow_unicode=True, width=120))
            print(f"wrote {path.relative_to(ROOT)}")
        else:
            doc = {"counts": counts(plan), "values": planned_values(plan), "outputs": output_values(plan)}
            yaml.safe_dump(doc, sys.stdout, sort_keys=False, allow_unicode=True, width=120)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
