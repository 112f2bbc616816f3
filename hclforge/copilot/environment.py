"""A Copilot environment: its manifest (network, certificates), its domain, and who calls whom.

The environment manifest gives the network (an imported VPC's ids, or the CIDR of
the VPC Copilot made) and the certificates of its load balancer. The workloads'
``http.alias`` names become ``api.domain`` when one certificate is known; and a
variable that names another service's endpoint (Copilot's service discovery name
or a Service Connect alias) opens ``calls`` and is rewritten to hclforge's name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from hclforge.copilot.facts import Alias, Facts
from hclforge.copilot.manifests import Manifest, View
from hclforge.copilot.report import CHANGED, Row, Tracker
from hclforge.copilot.workload import Workload

# Copilot makes this VPC when the environment manifest imports none (template-with-basic-manifest.yml).
COPILOT_DEFAULT_CIDR = "10.0.0.0/16"
COPILOT_DEFAULT_PRIVATE_SUBNETS = 2


@dataclass
class EnvPart:
    """What the environment manifest gives: network, cluster settings, certificates, and notes."""

    network: dict[str, Any]
    cluster: dict[str, Any] = field(default_factory=dict)
    certificates: list[str] = field(default_factory=list)
    certificates_given: bool = False
    tracker: Tracker | None = None
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def map_environment(manifest: Manifest | None, view: View | None, facts: Facts) -> EnvPart:
    """Map an environment manifest (or Copilot's defaults when there is none)."""
    if manifest is None or view is None:
        part = EnvPart({"create": {"cidr": COPILOT_DEFAULT_CIDR, "private_subnets": COPILOT_DEFAULT_PRIVATE_SUBNETS}})
        part.rows.append(
            Row(
                f"copilot/environments/{facts.env}/manifest.yml",
                0,
                "network",
                CHANGED,
                "no environment manifest: Copilot made a VPC of 10.0.0.0/16; network.create makes hclforge's own "
                "beside it (10.0.0.0/16, 2 private subnets, NAT egress); to share Copilot's VPC, set "
                "network.vpc_id and private_subnet_ids instead",
                (facts.env,),
            )
        )
        return part
    t = Tracker(manifest, view, facts.env)
    data = view.data
    part = EnvPart({}, tracker=t)
    for key in ("name", "type"):
        if key in data:
            t.mapped((key,), "the environment file's name" if key == "name" else "an hclforge environment")
    _network(part, t, data.get("network"))
    _http(part, t, data.get("http"))
    observability = data.get("observability")
    if isinstance(observability, dict) and isinstance(observability.get("container_insights"), bool):
        part.cluster["container_insights"] = observability["container_insights"]
        t.mapped(("observability", "container_insights"), "cluster.container_insights")
    if "cdn" in data:
        t.unsupported(("cdn",), "CloudFront is not rendered; nearest: a distribution before api.domain, as an addon")
    return part


def _network(part: EnvPart, t: Tracker, network: Any) -> None:
    found = network.get("vpc") if isinstance(network, dict) else None
    vpc: dict[str, Any] = found if isinstance(found, dict) else {}
    subnets: dict[str, Any] = vpc["subnets"] if isinstance(vpc.get("subnets"), dict) else {}
    private = [s for s in subnets.get("private") or [] if isinstance(s, dict)]
    if isinstance(vpc.get("id"), str):
        part.network["vpc_id"] = vpc["id"]
        t.mapped(("network", "vpc", "id"), "network.vpc_id")
        ids = [s["id"] for s in private if isinstance(s.get("id"), str)]
        if ids:
            part.network["private_subnet_ids"] = ids
            t.mapped(("network", "vpc", "subnets", "private"), "network.private_subnet_ids")
    else:
        cidr = vpc.get("cidr", COPILOT_DEFAULT_CIDR)
        count = len(private) or COPILOT_DEFAULT_PRIVATE_SUBNETS
        part.network["create"] = {"cidr": cidr, "private_subnets": count}
        where = ("network", "vpc", "cidr") if "cidr" in vpc else ("network",)
        detail = (
            f"network.create: {{cidr: {cidr}, private_subnets: {count}}}: hclforge makes its own VPC beside "
            "Copilot's (NAT egress) and carves its own subnets; to share Copilot's, set network.vpc_id and "
            "private_subnet_ids"
        )
        if where == ("network",) and not isinstance(network, dict):
            part.rows.append(Row(t.manifest.file, 0, "network", CHANGED, f"not written: {detail}", (t.env,)))
        else:
            t.changed(where, detail)
        if private:
            t.changed(("network", "vpc", "subnets", "private"), "their count is network.create.private_subnets")
    if "public" in subnets:
        t.unsupported(
            ("network", "vpc", "subnets", "public"),
            "hclforge runs tasks in private subnets only (the HTTP API reaches them through a VPC link)",
        )
    for key, why in (
        ("security_group", "the environment's security group rules are not rendered; each service has its own group"),
        ("flow_logs", "VPC flow logs are not rendered; nearest: an addon (addons/<env>/*.tf)"),
    ):
        if key in vpc:
            t.unsupported(("network", "vpc", key), why)


def _http(part: EnvPart, t: Tracker, http: Any) -> None:
    if not isinstance(http, dict):
        return
    public: dict[str, Any] = http["public"] if isinstance(http.get("public"), dict) else {}
    certs = public.get("certificates")
    if isinstance(certs, list):
        part.certificates = [c for c in certs if isinstance(c, str) and "${" not in c]
        part.certificates_given = True
    for key in public:
        if key != "certificates":
            t.unsupported(
                ("http", "public", key),
                "the public load balancer's settings do not apply to the HTTP API (TLS 1.2, access logs on)",
            )
    if "private" in http:
        t.unsupported(
            ("http", "private"),
            "the internal load balancer is not rendered: services reach each other through calls",
        )


# ------------------------------------------------------------------ the domain


def choose_domain(workloads: list[Workload], part: EnvPart, facts: Facts) -> dict[str, Any] | None:
    """``http.alias`` → ``api.domain`` when the environment names exactly one certificate.

    Returns:
        ``api.domain``, or None (the alias rows then say what to supply).
    """
    aliases = [a for w in workloads for a in w.aliases]
    trackers = {w.name: w.tracker for w in workloads}
    cert_path = ("http", "public", "certificates")
    if not aliases:
        if part.tracker is not None and part.certificates_given:
            part.tracker.unsupported(cert_path, "no http.alias of a Load Balanced Web Service uses them: no api.domain")
        return None
    usable = [a for a in aliases if "${" not in a.name]
    chosen = usable[0] if usable else None
    domain: dict[str, Any] | None = None
    if chosen is not None and len(part.certificates) == 1:
        domain = {"name": chosen.name, "certificate_arn": part.certificates[0]}
        if chosen.zone:
            domain["zone_id"] = chosen.zone
        if part.tracker is not None:
            part.tracker.mapped(cert_path, "api.domain.certificate_arn")
    elif part.tracker is not None and part.certificates_given:
        part.tracker.unsupported(
            cert_path,
            f"{len(part.certificates)} certificate ARN(s) known (a ${{VAR}} this shell does not set is not one): "
            "api.domain takes the one covering the domain",
        )
    by_path: dict[tuple[str, tuple[str | int, ...]], list[Alias]] = {}
    for alias in aliases:
        by_path.setdefault((alias.service, alias.path), []).append(alias)
    for (service, path), group in by_path.items():
        tracker = trackers[service]
        names = ", ".join(dict.fromkeys(a.name for a in group))
        others = list(dict.fromkeys(a.name for a in group if chosen is None or a.name != chosen.name))
        extra = f"; {', '.join(others)} not imported (one custom domain per HTTP API)" if others else ""
        if chosen is None:
            tracker.changed(path, f"{names}: needs a variable this shell does not set; set it and import again")
        elif len(others) == len(group):
            tracker.unsupported(
                path,
                f"{names}: an HTTP API has one custom domain here ({chosen.name}); nearest: another "
                "aws_apigatewayv2_domain_name with an API mapping, as an addon",
            )
        elif domain is not None:
            zone = f", zone_id {chosen.zone}" if chosen.zone else ""
            tracker.changed(path, f"api.domain.name: {chosen.name}{zone} (one domain for the whole API){extra}")
        else:
            why = "Copilot made its own certificate" if not part.certificates else "several certificates"
            tracker.changed(
                path,
                f"api.domain is left as a comment in the environment file: it needs the ARN of an ACM "
                f"certificate in {facts.region} covering {chosen.name} ({why}){extra}",
            )
    if domain is None and chosen is not None:
        zone = f", zone_id: {chosen.zone}" if chosen.zone else ""
        part.notes.append(
            f"http.alias {chosen.name}: give an ACM certificate in {facts.region} covering it, then uncomment:\n"
            f"api:\n  domain: {{name: {chosen.name}, certificate_arn: ARN{zone}}}"
        )
    return domain


# ------------------------------------------------------------------ calls


def infer_calls(workloads: list[Workload], facts: Facts, namespace: str) -> None:
    """Rewrite variables that name another service's endpoint, and list that service in ``calls``.

    Copilot names a service ``<svc>.<env>.<app>.local`` (service discovery; ``<svc>.<app>.local``
    before v1.5) or ``<alias>`` (Service Connect). hclforge names it ``<svc>.<namespace>``.
    """
    callees = {w.name: w for w in workloads if w.service is not None and w.service.get("port") is not None}
    app, env = re.escape(facts.app), re.escape(facts.env)
    patterns: list[tuple[str, re.Pattern[str]]] = []
    for name, callee in callees.items():
        edge = r"(?![A-Za-z0-9-])"
        patterns.append((name, re.compile(rf"(?<![A-Za-z0-9.-]){re.escape(name)}\.(?:{env}\.)?{app}\.local{edge}")))
        for alias in {name, _connect_alias(callee) or name}:
            patterns.append((name, re.compile(rf"(?<=://){re.escape(alias)}(?=[:/]|$)|^{re.escape(alias)}(?=:\d+$)")))
    called: dict[str, set[str]] = {}
    for work in workloads:
        svc = work.service
        if svc is None:
            continue
        for key, value in list((svc.get("environment") or {}).items()):
            new, hits = value, []
            for name, pattern in patterns:
                if name != work.name and pattern.search(new):
                    new = pattern.sub(f"{name}.{namespace}", new)
                    hits.append(name)
            if not hits:
                continue
            svc["environment"][key] = new
            calls = svc.setdefault("calls", [])
            for name in hits:
                if name not in calls:
                    calls.append(name)
                called.setdefault(name, set()).add(work.name)
            work.tracker.replace(
                ("variables", key),
                CHANGED,
                f"names {', '.join(hits)}'s endpoint: rewritten to {', '.join(f'{h}.{namespace}' for h in hits)}; "
                f"services.{work.name}.calls: [{', '.join(calls)}]",
            )
    for work in workloads:
        _report_connect(work, called)


def _connect_alias(work: Workload) -> str | None:
    network = work.tracker.view.data.get("network")
    connect = network.get("connect") if isinstance(network, dict) else None
    alias = connect.get("alias") if isinstance(connect, dict) else None
    return alias if isinstance(alias, str) else None


def _report_connect(work: Workload, called: dict[str, set[str]]) -> None:
    network = work.tracker.view.data.get("network")
    if not isinstance(network, dict) or "connect" not in network:
        return
    connect = network["connect"]
    where = ("network", "connect")
    if connect is False:
        work.tracker.mapped(where, "no Service Connect: services reach each other through calls")
        return
    svc = work.service or {}
    callers = sorted(called.get(work.name, set()))
    calls = svc.get("calls") or []
    if callers or calls:
        parts = [f"called by {', '.join(callers)}"] if callers else []
        parts += [f"calls {', '.join(calls)}"] if calls else []
        work.tracker.changed(
            where,
            f"Service Connect is not used: {'; '.join(parts)} at http://<service>.<project>-<env>.internal:<port> "
            "(inferred from variables naming the endpoint)",
        )
    else:
        work.tracker.unsupported(
            where,
            "Service Connect is not used, and no variable names this service's endpoint or another's: "
            "add calls: [NAME] to each service that calls another (at http://NAME.<project>-<env>.internal:<port>)",
        )
