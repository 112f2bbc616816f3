"""Plan summaries: counts of create / update / replace / delete per module and service.

Built from ``terraform show -json`` (never from scraped text), and printed as a
plain table, Markdown (ready for a PR comment) or stable JSON.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from hclforge.hcl import ident
from hclforge.protect import resource_type

ACTIONS = ("create", "update", "replace", "delete")
# What rolls a service out: a change to its ECS service or its task definition.
ROLLOUT_TYPES = ("aws_ecs_service", "aws_ecs_task_definition")
_STRIP_PREFIXES = ("task_", "vpc_link_to_")


@dataclass
class Row:
    """Counts for one module and service (service ``-`` for shared resources)."""

    module: str
    service: str
    create: int = 0
    update: int = 0
    replace: int = 0
    delete: int = 0

    @property
    def total(self) -> int:
        return self.create + self.update + self.replace + self.delete


@dataclass
class Summary:
    """The whole plan, in rows, with the addresses that are replaced or deleted."""

    env: str
    rows: list[Row] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    output_changes: list[str] = field(default_factory=list)

    @property
    def totals(self) -> dict[str, int]:
        return {a: sum(getattr(r, a) for r in self.rows) for a in ACTIONS}

    @property
    def has_changes(self) -> bool:
        return any(self.totals.values())

    def to_json(self) -> dict[str, Any]:
        """The documented, stable JSON form (``plan --format json``)."""
        return {
            "format_version": 1,
            "environment": self.env,
            "totals": self.totals,
            "changes": [asdict(r) for r in self.rows],
            "replaced": self.replaced,
            "deleted": self.deleted,
            "output_changes": self.output_changes,
        }


def action_of(actions: list[str]) -> str | None:
    """Map terraform's action list to one of :data:`ACTIONS` (None for no-op/read)."""
    if "delete" in actions and "create" in actions:
        return "replace"
    for name in ("create", "update", "delete"):
        if actions == [name]:
            return name
    return None


def service_of(resource_name: str, services: Iterable[str]) -> str:
    """The service a resource belongs to, by its unrolled name; ``-`` for shared ones."""
    name = resource_name
    for prefix in _STRIP_PREFIXES:
        if name.startswith(prefix):
            name = name[len(prefix) :]
            break
    by_ident = sorted(((str(ident(s)), s) for s in services), key=lambda p: -len(p[0]))
    for ident_name, service in by_ident:
        if name == ident_name or name.startswith(ident_name + "_"):
            return service
    return "-"


SERVICE_TYPE = "aws_ecs_service"


Change = tuple[str, str, str, str]  # (module address or "", resource name, address, action)


def _build(env: str, changes: Iterable[Change], outputs: Iterable[str], services: Iterable[str]) -> Summary:
    """Count changes per module and service; the one core of both summaries.

    The services are the configuration's plus the ones the plan itself names: a
    service removed from the YAML still has its ``aws_ecs_service`` in the plan
    (being deleted), so its deleted resources are filed under it, not under ``-``.
    """
    changes = list(changes)
    services = list(services)
    known = {str(ident(s)) for s in services}
    for _module, name, address, _action in changes:
        if resource_type(address) == SERVICE_TYPE and name not in known:
            services.append(name)
            known.add(name)
    rows: dict[tuple[str, str], Row] = {}
    summary = Summary(env)
    for module_address, name, address, action in changes:
        module = (module_address or "root").removeprefix("module.")
        service = service_of(name, services) if module != "root" else "-"
        row = rows.setdefault((module, service), Row(module, service))
        setattr(row, action, getattr(row, action) + 1)
        if action == "replace":
            summary.replaced.append(address)
        elif action == "delete":
            summary.deleted.append(address)
    summary.rows = [rows[k] for k in sorted(rows)]
    summary.replaced.sort()
    summary.deleted.sort()
    summary.output_changes = sorted(outputs)
    return summary


def summarize(env: str, plan: dict[str, Any], services: Iterable[str]) -> Summary:
    """Summarize a ``show -json`` plan document."""
    changes = [
        (rc.get("module_address") or "", rc["name"], rc["address"], action)
        for rc in plan.get("resource_changes", [])
        if rc.get("mode") == "managed" and (action := action_of(rc["change"]["actions"])) is not None
    ]
    outputs = [name for name, ch in plan.get("output_changes", {}).items() if action_of(ch.get("actions", []))]
    return _build(env, changes, outputs, services)


@dataclass(frozen=True)
class Drift:
    """A resource changed outside Terraform: its address and the top-level attributes that differ."""

    address: str
    action: str
    attributes: tuple[str, ...]


def _configured_keys(plan: dict[str, Any]) -> dict[str, set[str]]:
    """The attributes each resource's configuration sets, by full address."""
    found: dict[str, set[str]] = {}

    def walk(module: dict[str, Any], prefix: str) -> None:
        for res in module.get("resources", []):
            found[prefix + res["address"]] = set(res.get("expressions", {}))
        for name, call in module.get("module_calls", {}).items():
            walk(call.get("module", {}), f"{prefix}module.{name}.")

    walk(plan.get("configuration", {}).get("root_module", {}), "")
    return found


def _norm(value: Any) -> Any:
    return None if value in ({}, [], "", None) else value


def drift_of(plan: dict[str, Any]) -> list[Drift]:
    """What a refresh-only plan found changed behind Terraform's back.

    Only attributes the configuration sets (and ``tags_all``, which default tags
    feed) count; computed attributes and null-versus-empty normalizations do not.
    """
    configured = _configured_keys(plan)
    found = []
    for rd in plan.get("resource_drift", []):
        change = rd.get("change", {})
        if change.get("actions") == ["delete"]:
            found.append(Drift(rd["address"], "deleted", ()))
            continue
        before, after = change.get("before") or {}, change.get("after") or {}
        base = rd["address"].split("[")[0]
        managed = configured.get(base, set()) | {"tags_all"}
        changed = tuple(sorted(k for k in managed if _norm(before.get(k)) != _norm(after.get(k))))
        if changed:
            found.append(Drift(rd["address"], "changed", changed))
    return sorted(found, key=lambda d: d.address)


def summarize_events(env: str, events: Iterable[dict[str, Any]], services: Iterable[str]) -> Summary:
    """Summarize a plan from terraform's ``-json`` event stream (``planned_change`` and ``outputs``).

    Gives the same summary as :func:`summarize` on ``show -json``, without the second
    terraform run (and provider start) that ``show -json`` costs.
    """
    changes: list[Change] = []
    outputs: list[str] = []
    for event in events:
        if event.get("type") == "planned_change":
            change, res = event["change"], event["change"]["resource"]
            if change["action"] in ACTIONS and not res.get("resource_type", "").startswith("data."):
                changes.append((res.get("module") or "", res["resource_name"], res["addr"], change["action"]))
        elif event.get("type") == "outputs":
            outputs += [
                name for name, out in event.get("outputs", {}).items() if out.get("action") not in (None, "noop")
            ]
    return _build(env, changes, outputs, services)


def from_json(data: dict[str, Any]) -> Summary:
    """A summary back from :meth:`Summary.to_json`."""
    summary = Summary(data["environment"], [Row(**row) for row in data["changes"]])
    summary.replaced = list(data["replaced"])
    summary.deleted = list(data["deleted"])
    summary.output_changes = list(data["output_changes"])
    return summary


def as_table(summary: Summary) -> list[tuple[str, str]]:
    """Lines of the plain table, each with a style hint: '' | 'warn' | 'bold'."""
    head = f"{'module':<12} {'service':<20} {'create':>6} {'update':>6} {'replace':>7} {'delete':>6}"
    lines: list[tuple[str, str]] = [(f"Plan for {summary.env}:", "bold")]
    if not summary.has_changes:
        lines.append(("No changes. The infrastructure matches the configuration.", ""))
        return lines
    lines.append((head, "bold"))
    for r in summary.rows:
        text = f"{r.module:<12} {r.service:<20} {r.create:>6} {r.update:>6} {r.replace:>7} {r.delete:>6}"
        lines.append((text, "warn" if r.replace or r.delete else ""))
    t = summary.totals
    lines.append(
        (f"{'total':<12} {'':<20} {t['create']:>6} {t['update']:>6} {t['replace']:>7} {t['delete']:>6}", "bold")
    )
    for address in summary.replaced:
        lines.append((f"  ! replace {address}", "warn"))
    for address in summary.deleted:
        lines.append((f"  ! delete  {address}", "warn"))
    return lines


def as_markdown(summary: Summary) -> str:
    """The summary as Markdown, ready to post as a pull-request comment."""
    t = summary.totals
    out = [f"### hclforge plan: `{summary.env}`", ""]
    if not summary.has_changes:
        return "\n".join([*out, "No changes. The infrastructure matches the configuration.", ""])
    out += [
        f"**{t['create']}** to create, **{t['update']}** to update, "
        f"**{t['replace']}** to replace, **{t['delete']}** to delete",
        "",
        "| module | service | create | update | replace | delete |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for r in summary.rows:
        flag = " ⚠️" if r.replace or r.delete else ""
        out.append(f"| {r.module} | {r.service}{flag} | {r.create} | {r.update} | {r.replace} | {r.delete} |")
    if summary.replaced or summary.deleted:
        out += ["", "**Replaced or deleted:**", ""]
        out += [f"- replace `{a}`" for a in summary.replaced]
        out += [f"- delete `{a}`" for a in summary.deleted]
    return "\n".join(out) + "\n"


def as_json(summary: Summary) -> str:
    """Stable JSON text of the summary."""
    return json.dumps(summary.to_json(), indent=2, sort_keys=True)


def rollout_services(events: Iterable[dict[str, Any]], services: Iterable[str]) -> list[str]:
    """Services whose ``aws_ecs_service`` or ``aws_ecs_task_definition`` a plan creates, updates or replaces.

    In the order of ``services``, whatever the order of the events.

    Args:
        events: the plan's ``-json`` event stream (``planned_change`` events).
        services: the environment's services (ECS service name = YAML name).
    """
    names = list(services)
    found: list[str] = []
    for event in events:
        if event.get("type") != "planned_change":
            continue
        change, res = event["change"], event["change"]["resource"]
        if res.get("resource_type") in ROLLOUT_TYPES and change.get("action") in ACTIONS[:3]:
            service = service_of(str(res.get("resource_name", "")), names)
            if service != "-":
                found.append(service)
    return [s for s in names if s in found]  # in the environment's order, not terraform's
