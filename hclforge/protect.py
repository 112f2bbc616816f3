"""``protect: true``: the one table of protected resource types, and the check of a plan against it.

Protection is judged from what a plan does to what exists (its delete and replace
actions), never from the new configuration: a resource whose block disappeared
from the tree has no ``prevent_destroy`` left to stop terraform, but its deletion
is still in the plan. The templates render ``prevent_destroy`` on exactly these
types in protected environments (a test keeps the two in step).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from hclforge.errors import UsageError

# Long-lived resources whose loss costs data or a stable name/endpoint.
PROTECTED_TYPES = frozenset(
    {
        "aws_ecs_cluster",
        "aws_service_discovery_private_dns_namespace",
        "aws_apigatewayv2_api",
        "aws_cloudwatch_log_group",
        # Replacing a Cloud Map service deregisters every task of its ECS service: routes and
        # callers fail until a new deployment registers them in the new one. It cannot be
        # replaced create-before-destroy (a namespace holds one service of a name).
        "aws_service_discovery_service",
    }
)
DESTRUCTIVE = frozenset({"delete", "replace"})


def resource_type(address: str) -> str:
    """The resource type of an address: ``module.ecs.aws_ecs_cluster.this[0]`` -> ``aws_ecs_cluster``."""
    parts = address.split(".")
    while len(parts) >= 2 and parts[0] == "module":
        parts = parts[2:]
    if parts and parts[0] == "data":
        return ""
    return parts[0] if parts else ""


def refused(changes: Iterable[tuple[str, str]]) -> list[str]:
    """Addresses among ``(address, action)`` pairs that delete or replace a protected resource."""
    return sorted(
        {address for address, action in changes if action in DESTRUCTIVE and resource_type(address) in PROTECTED_TYPES}
    )


def changes_of_events(events: Iterable[dict[str, Any]]) -> list[tuple[str, str]]:
    """``(address, action)`` of every ``planned_change`` in a ``-json`` event stream."""
    return [
        (event["change"]["resource"]["addr"], str(event["change"]["action"]))
        for event in events
        if event.get("type") == "planned_change"
    ]


def changes_of_plan(plan: dict[str, Any]) -> list[tuple[str, str]]:
    """``(address, action)`` of every managed resource change of a ``show -json`` plan."""
    found = []
    for rc in plan.get("resource_changes", []):
        if rc.get("mode") != "managed":
            continue
        actions = rc.get("change", {}).get("actions", [])
        action = "replace" if {"delete", "create"} <= set(actions) else ("delete" if "delete" in actions else "")
        if action:
            found.append((str(rc["address"]), action))
    return found


def in_state(state: dict[str, Any] | None) -> list[str]:
    """Addresses of the protected resources a state document holds (each instance)."""
    found = []
    for res in (state or {}).get("resources", []):
        if res.get("mode") != "managed" or res.get("type") not in PROTECTED_TYPES:
            continue
        base = (f"{res['module']}." if res.get("module") else "") + f"{res['type']}.{res['name']}"
        for inst in res.get("instances", []) or [{}]:
            key = inst.get("index_key")
            found.append(base + ("" if key is None else f"[{key!r}]" if isinstance(key, int) else f'["{key}"]'))
    return sorted(set(found))


def removed_blocks(state: dict[str, Any] | None, configured: Iterable[str]) -> list[str]:
    """Protected resources in the prior state whose blocks the configuration no longer has.

    Terraform will delete them, and no ``prevent_destroy`` is left to say so.
    """
    blocks = set(configured)
    return [address for address in in_state(state) if address.split("[")[0] not in blocks]


def parse_confirmation_flag(env: str, extra_args: Iterable[str]) -> bool:
    """Whether the extra arguments of ``destroy ENV`` hold ``--yes-i-mean-ENV``.

    The flag's name holds the environment's, so it cannot be declared as a click
    option; every other extra argument is refused.

    Raises:
        UsageError: an extra argument other than ``--yes-i-mean-ENV`` (exit 2).
    """
    flag = f"--yes-i-mean-{env}"
    args = list(extra_args)
    for arg in args:
        if arg == flag:
            continue
        if not arg.startswith("-"):
            raise UsageError(f"unexpected extra argument: {arg}")
        hint = f" (to confirm destroying {env} without a terminal: --force {flag})" if arg.startswith("--yes-") else ""
        raise UsageError(f"no such option: {arg}{hint}")
    return flag in args
