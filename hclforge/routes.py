"""The request path, read from terraform's plan JSON: route to container, and service to service.

The emulator never carries a request, so this module checks, in the plan itself,
every link a request needs on real AWS:

- route: its JWT authorizer, and whether it catches a CORS preflight;
- integration: HTTP_PROXY over the VPC link to a Cloud Map service with SRV records;
- the ECS service registered in that Cloud Map service, its container port, and
  whether the task definition's container publishes that port;
- the security-group chain: the VPC link's group may send to the tasks' group on
  that port, and the tasks' group admits the VPC link's group on it;
- each ``calls`` edge: the callee's Cloud Map service has an A record (so
  ``<service>.<namespace>`` resolves), and the callee's tasks admit the caller's.

Links are followed through the plan's ``configuration`` (the references of each
expression, across module inputs and outputs), so a fresh plan, whose IDs are all
unknown, is checked as well as a re-plan. The YAML is used only for what was
intended (route keys and ``calls``), never for what was rendered, so a template
bug shows up here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from hclforge.model import EnvConfig

Address = str
_REF_RE = re.compile(r'^(?P<base>[A-Za-z_][\w.-]*)(?:\["(?P<key>[^"]*)"\])?')
_NOT_RESOURCES = {"local", "data", "each", "count", "path", "terraform", "self"}


@dataclass(frozen=True)
class RouteRow:
    """One API route and the path behind it."""

    route: str
    auth: str
    preflight_safe: bool
    integration: str
    cloudmap_service: str
    records: tuple[str, ...]
    ecs_service: str
    port: int | None
    admitted: bool
    problems: tuple[str, ...]


@dataclass(frozen=True)
class CallRow:
    """One ``calls`` edge: the caller reaches the callee at ``http://<callee>.<namespace>:<port>``."""

    caller: str
    callee: str
    port: int | None
    resolvable: bool
    admitted: bool
    problems: tuple[str, ...]


@dataclass
class PathReport:
    """What :func:`check_paths` found."""

    env: str
    namespace: str
    routes: list[RouteRow] = field(default_factory=list)
    calls: list[CallRow] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {
            "env": self.env,
            "namespace": self.namespace,
            "ok": self.ok,
            "routes": [asdict(r) for r in self.routes],
            "calls": [asdict(c) for c in self.calls],
            "problems": list(self.problems),
        }


@dataclass(frozen=True)
class _Rule:
    address: Address
    kind: str
    protocol: str
    from_port: int
    to_port: int
    groups: frozenset[Address]
    sources: frozenset[Address]
    cidrs: tuple[str, ...]

    def covers(self, port: int) -> bool:
        if self.protocol in ("-1", "all"):
            return True
        return self.protocol in ("tcp", "6") and self.from_port <= port <= self.to_port


class _Plan:
    """Planned values plus the configuration's references, addressed like terraform does."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.values: dict[Address, dict[str, Any]] = {}
        self.types: dict[Address, str] = {}
        self.modules: dict[tuple[str, ...], dict[str, Any]] = {}
        self.calls: dict[tuple[str, ...], dict[str, Any]] = {}
        self.config: dict[Address, dict[str, Any]] = {}
        self._walk_values(doc.get("planned_values", {}).get("root_module", {}))
        self._walk_config(doc.get("configuration", {}).get("root_module", {}), ())

    def _walk_values(self, module: dict[str, Any]) -> None:
        for res in module.get("resources", []):
            if res.get("mode") == "managed":
                self.values[res["address"]] = res.get("values") or {}
                self.types[res["address"]] = res["type"]
        for child in module.get("child_modules", []):
            self._walk_values(child)

    def _walk_config(self, module: dict[str, Any], path: tuple[str, ...]) -> None:
        self.modules[path] = module
        for res in module.get("resources", []):
            self.config[_prefix(path) + res["address"]] = res.get("expressions", {})
        for name, call in module.get("module_calls", {}).items():
            self.calls[(*path, name)] = call
            self._walk_config(call.get("module", {}), (*path, name))

    def of_type(self, rtype: str) -> list[Address]:
        return sorted(a for a, t in self.types.items() if t == rtype)

    def attr(self, address: Address, *path: str | int) -> list[Address]:
        """The resources an attribute of ``address`` refers to (following module inputs and outputs)."""
        expr: Any = self.config.get(_instance_free(address), {})
        for part in path:
            if isinstance(part, int):
                expr = expr[part] if isinstance(expr, list) and len(expr) > part else None
            else:
                expr = expr.get(part) if isinstance(expr, dict) else None
            if expr is None:
                return []
        module = _module_of(address)
        return _unique(a for ref in _narrowest(expr.get("references", [])) for a in self.resolve(module, ref))

    def resolve(self, module: tuple[str, ...], ref: str, key: str | None = None) -> list[Address]:
        match = _REF_RE.match(ref)
        if match is None:
            return []
        parts = match.group("base").split(".")
        key = match.group("key") if match.group("key") is not None else key
        if parts[0] == "var" and len(parts) >= 2:
            call = self.calls.get(module)
            expr = (call or {}).get("expressions", {}).get(parts[1], {})
            refs = _narrowest(expr.get("references", []))
            return _unique(a for r in refs for a in self.resolve(module[:-1], r, key))
        if parts[0] == "module" and len(parts) >= 3:
            child = (*module, parts[1])
            output = self.modules.get(child, {}).get("outputs", {}).get(parts[2], {})
            refs = _narrowest(output.get("expression", {}).get("references", []))
            found = _unique(a for r in refs for a in self.resolve(child, r))
            if key is not None:
                # A map output keyed by service name: its entry is the resource of that name.
                found = [a for a in found if a.rsplit(".", 1)[-1] == key.replace("-", "_")]
            return found
        if parts[0] in _NOT_RESOURCES or parts[0] in ("var", "module") or len(parts) < 2:
            return []
        address = f"{_prefix(module)}{parts[0]}.{parts[1]}"
        return [address] if address in self.types else []

    def security_rules(self) -> list[_Rule]:
        rules = []
        for address in self.of_type("aws_security_group_rule"):
            v = self.values[address]
            rules.append(
                _Rule(
                    address,
                    str(v.get("type")),
                    str(v.get("protocol")),
                    int(v.get("from_port") or 0),
                    int(v.get("to_port") or 0),
                    frozenset(self.attr(address, "security_group_id")),
                    frozenset(self.attr(address, "source_security_group_id")),
                    tuple(v.get("cidr_blocks") or ()),
                )
            )
        return rules


def _narrowest(refs: list[str]) -> list[str]:
    """Drop a reference that a more specific one in the list refines.

    Terraform lists ``var.m["api"]`` and ``var.m``, or ``aws_x.a.id`` and ``aws_x.a``:
    following the bare map would reach every entry, not the one indexed.
    """
    return [r for r in refs if not any(o != r and o.startswith(r) and o[len(r)] in "[." for o in refs)]


def _prefix(module: tuple[str, ...]) -> str:
    return "".join(f"module.{m}." for m in module)


def _module_of(address: Address) -> tuple[str, ...]:
    parts = address.split(".")
    path = []
    while len(parts) > 2 and parts[0] == "module":
        path.append(parts[1])
        parts = parts[2:]
    return tuple(path)


def _instance_free(address: Address) -> Address:
    return re.sub(r"\[[^\]]*\]", "", address)


def _unique(items: Iterator[Address] | list[Address]) -> list[Address]:
    return list(dict.fromkeys(items))


def _name(address: Address) -> str:
    return address.rsplit(".", 1)[-1]


def _admits(rules: list[_Rule], groups: list[Address], sources: list[Address], port: int) -> bool:
    """Some ingress rule on one of ``groups`` admits one of ``sources`` on ``port``."""
    return any(
        r.kind == "ingress" and r.groups & set(groups) and r.sources & set(sources) and r.covers(port) for r in rules
    )


def _sends(rules: list[_Rule], groups: list[Address], targets: list[Address], port: int) -> bool:
    """Some egress rule on one of ``groups`` lets traffic to ``targets`` out on ``port``."""
    return any(
        r.kind == "egress"
        and r.groups & set(groups)
        and (r.sources & set(targets) or "0.0.0.0/0" in r.cidrs)
        and r.covers(port)
        for r in rules
    )


def _container_ports(plan: _Plan, task_definition: Address | None, container: str | None) -> list[int]:
    if task_definition is None:
        return []
    raw = plan.values.get(task_definition, {}).get("container_definitions")
    try:
        containers = json.loads(raw) if isinstance(raw, str) else []
    except ValueError:
        return []
    return [
        int(m["containerPort"])
        for c in containers
        if c.get("name") == container
        for m in c.get("portMappings", [])
        if "containerPort" in m
    ]


@dataclass(frozen=True)
class _Target:
    """What the plan says is behind a Cloud Map service: the ECS service, its port and groups."""

    ecs: Address | None
    port: int | None
    groups: list[Address]
    problems: list[str]


def _behind(plan: _Plan, cloudmap: Address | None) -> _Target:
    if cloudmap is None:
        return _Target(None, None, [], ["no Cloud Map service behind it"])
    services = [
        s for s in plan.of_type("aws_ecs_service") if cloudmap in plan.attr(s, "service_registries", 0, "registry_arn")
    ]
    if not services:
        return _Target(None, None, [], [f"no ECS service registers its tasks in {_name(cloudmap)}"])
    ecs = services[0]
    registry = (plan.values[ecs].get("service_registries") or [{}])[0]
    port = registry.get("container_port") or registry.get("port")
    problems = []
    task_definition = next(iter(plan.attr(ecs, "task_definition")), None)
    published = _container_ports(plan, task_definition, registry.get("container_name"))
    if port is None:
        problems.append(f"{plan.values[ecs].get('name')} registers no port in Cloud Map (SRV needs one)")
    elif port not in published:
        problems.append(
            f"{plan.values[ecs].get('name')} registers port {port}, but its container "
            f"{registry.get('container_name')!r} publishes {published or 'no port'}"
        )
    groups = plan.attr(ecs, "network_configuration", 0, "security_groups")
    return _Target(ecs, int(port) if port is not None else None, groups, problems)


def _records(plan: _Plan, cloudmap: Address | None) -> tuple[str, ...]:
    if cloudmap is None:
        return ()
    dns = (plan.values[cloudmap].get("dns_config") or [{}])[0]
    return tuple(str(r.get("type")) for r in dns.get("dns_records", []))


def check_paths(env: str, cfg: EnvConfig, plan_json: dict[str, Any]) -> PathReport:
    """Follow every route and every ``calls`` edge through a plan; name each broken link.

    Args:
        env: the environment's name (for the report).
        cfg: the environment: only its route keys and ``calls`` (the intent) are read.
        plan_json: ``terraform show -json`` of a saved plan.

    Returns:
        The rows and the problems; ``report.ok`` when every link holds.
    """
    plan = _Plan(plan_json)
    report = PathReport(env, cfg.namespace)
    rules = plan.security_rules()
    by_key: dict[str, RouteRow] = {}
    for route in plan.of_type("aws_apigatewayv2_route"):
        row = _route_row(plan, rules, route)
        by_key[row.route] = row
        report.routes.append(row)
    ecs_names = {str(plan.values[s].get("name")): s for s in plan.of_type("aws_ecs_service")}
    for name in cfg.services:
        for key in cfg.route_keys(name):
            row_or_none = by_key.get(key)
            if row_or_none is None:
                report.problems.append(f"{key}: routed to {name} in the YAML, but the plan has no such route")
            elif row_or_none.ecs_service not in ("", name):
                report.problems.append(
                    f"{key}: routed to {name} in the YAML, but the plan sends it to {row_or_none.ecs_service}"
                )
    for row in report.routes:
        report.problems += [f"{row.route}: {p}" for p in row.problems]
    for caller, svc in cfg.services.items():
        for callee in svc.calls:
            call = _call_row(plan, rules, ecs_names, cfg.namespace, caller, callee)
            report.calls.append(call)
            report.problems += [f"{caller} -> {callee}: {p}" for p in call.problems]
    report.routes.sort(key=lambda r: (r.route.partition(" ")[2], r.route))
    return report


def _route_row(plan: _Plan, rules: list[_Rule], route: Address) -> RouteRow:
    values = plan.values[route]
    key = str(values.get("route_key"))
    auth = str(values.get("authorization_type") or "NONE")
    problems: list[str] = []
    api = next(iter(plan.attr(route, "api_id")), None)
    cors = bool(api and plan.values[api].get("cors_configuration"))
    method = "$default" if key == "$default" else key.partition(" ")[0]
    preflight_safe = not (cors and auth == "JWT" and method in ("ANY", "OPTIONS", "$default"))
    if not preflight_safe:
        problems.append(
            "a JWT route that matches OPTIONS while CORS is configured: browsers' preflights get 401 "
            "(API Gateway answers them itself only when no route matches)"
        )
    if auth == "JWT" and not plan.attr(route, "authorizer_id"):
        problems.append("authorization_type JWT without an authorizer")
    integration = next((a for a in plan.attr(route, "target") if plan.types[a] == "aws_apigatewayv2_integration"), None)
    if integration is None:
        problems.append("no integration")
        return RouteRow(key, auth, preflight_safe, "", "", (), "", None, False, tuple(problems))
    ivalues = plan.values[integration]
    kind = f"{ivalues.get('integration_type')}/{ivalues.get('connection_type')}"
    if kind != "HTTP_PROXY/VPC_LINK":
        problems.append(f"integration is {kind}, not HTTP_PROXY over a VPC link")
    link = next(
        (a for a in plan.attr(integration, "connection_id") if plan.types[a] == "aws_apigatewayv2_vpc_link"), None
    )
    if link is None:
        problems.append("the integration names no VPC link")
    cloudmap = next(
        (a for a in plan.attr(integration, "integration_uri") if plan.types[a] == "aws_service_discovery_service"), None
    )
    records = _records(plan, cloudmap)
    if cloudmap is not None and "SRV" not in records:
        problems.append(f"Cloud Map service {_name(cloudmap)} has no SRV record (API Gateway needs IP and port)")
    target = _behind(plan, cloudmap)
    problems += target.problems
    admitted = False
    if target.port is not None and link is not None:
        link_groups = plan.attr(link, "security_group_ids")
        ingress = _admits(rules, target.groups, link_groups, target.port)
        egress = _sends(rules, link_groups, target.groups, target.port)
        admitted = ingress and egress
        service = plan.values[target.ecs].get("name") if target.ecs else "?"
        if not ingress:
            problems.append(f"the tasks of {service} admit nothing from the VPC link's security group on {target.port}")
        if not egress:
            problems.append(f"the VPC link's security group sends nothing to the tasks of {service} on {target.port}")
    return RouteRow(
        key,
        auth,
        preflight_safe,
        kind,
        str(plan.values[cloudmap].get("name")) if cloudmap else "",
        records,
        str(plan.values[target.ecs].get("name")) if target.ecs else "",
        target.port,
        admitted,
        tuple(problems),
    )


def _call_row(
    plan: _Plan, rules: list[_Rule], ecs_names: dict[str, Address], namespace: str, caller: str, callee: str
) -> CallRow:
    problems: list[str] = []
    source, ecs = ecs_names.get(caller), ecs_names.get(callee)
    if source is None or ecs is None:
        missing = caller if source is None else callee
        return CallRow(caller, callee, None, False, False, (f"the plan has no ECS service {missing}",))
    cloudmap = next(
        (
            a
            for a in plan.attr(ecs, "service_registries", 0, "registry_arn")
            if plan.types[a] == "aws_service_discovery_service"
        ),
        None,
    )
    target = _behind(plan, cloudmap)
    problems += target.problems
    records = _records(plan, cloudmap)
    resolvable = cloudmap is not None and "A" in records and plan.values[cloudmap].get("name") == callee
    namespaces = (
        [str(plan.values[n].get("name")) for n in plan.attr(cloudmap, "dns_config", 0, "namespace_id")]
        if cloudmap is not None
        else []
    )
    if namespaces and namespaces != [namespace]:
        resolvable = False
        problems.append(f"{callee}'s Cloud Map service is in {namespaces[0]}, not {namespace}")
    if not resolvable:
        problems.append(f"{callee}.{namespace} does not resolve: its Cloud Map service has no A record")
    admitted = False
    if target.port is not None:
        groups = plan.attr(source, "network_configuration", 0, "security_groups")
        ingress = _admits(rules, target.groups, groups, target.port)
        egress = _sends(rules, groups, target.groups, target.port)
        admitted = ingress and egress
        if not ingress:
            problems.append(f"the tasks of {callee} admit nothing from {caller}'s on {target.port}")
        if not egress:
            problems.append(f"the tasks of {caller} may not send to {callee}'s on {target.port}")
    return CallRow(caller, callee, target.port, resolvable, admitted, tuple(problems))


def as_table(report: PathReport) -> list[str]:
    """The report as text lines: routes, then calls, then each broken link."""

    def yes(flag: bool) -> str:
        return "yes" if flag else "NO"

    rows = [
        ("ROUTE", "AUTH", "PREFLIGHT", "INTEGRATION", "CLOUD MAP", "SERVICE", "PORT", "SG CHAIN"),
        *(
            (
                r.route,
                r.auth,
                "safe" if r.preflight_safe else "CAUGHT",
                r.integration or "-",
                f"{r.cloudmap_service or '-'} ({'+'.join(r.records) or 'none'})",
                r.ecs_service or "-",
                str(r.port) if r.port is not None else "-",
                "admitted" if r.admitted else "BLOCKED",
            )
            for r in report.routes
        ),
    ]
    lines = [f"Request path of {report.env} (from the plan)", *_columns(rows)]
    if report.calls:
        calls = [
            ("CALLER", "CALLEE", "URL", "RESOLVABLE", "ADMITTED"),
            *(
                (
                    c.caller,
                    c.callee,
                    f"http://{c.callee}.{report.namespace}:{c.port if c.port is not None else '?'}",
                    yes(c.resolvable),
                    yes(c.admitted),
                )
                for c in report.calls
            ),
        ]
        lines += ["", *_columns(calls)]
    lines.append("")
    if report.ok:
        lines.append(f"every link holds: {len(report.routes)} route(s), {len(report.calls)} call(s)")
    else:
        lines += [f"broken: {p}" for p in report.problems]
    return lines


def _columns(rows: Sequence[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
