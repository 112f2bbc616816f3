"""Copilot manifests in, hclforge environment files and a report out (pure: nothing is written here).

:func:`import_workspace` maps every workload in every chosen environment, then
writes the values all environments share into one layer (``_copilot.yaml``) and
what differs into one file per environment that extends it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from hclforge.copilot.environment import choose_domain, infer_calls, map_environment
from hclforge.copilot.facts import Facts
from hclforge.copilot.manifests import Workspace, for_env, leaves
from hclforge.copilot.report import CHANGED, MAPPED, UNSUPPORTED, Row, merge_rows
from hclforge.copilot.workload import Workload, map_workload
from hclforge.errors import UsageError
from hclforge.model import PROJECT_RE, REGION_RE
from hclforge.source import YamlPath, dotted
from hclforge.tree import ENV_NAME_RE

SHARED_LAYER = "_copilot"
SCHEMA_LINE = "# yaml-language-server: $schema=../schema/hclforge-env.schema.json"
_CERT_ARN = re.compile(r"^arn:aws[a-z-]*:acm:(?P<region>[a-z0-9-]+):(?P<account>[0-9]{12}):certificate/")


@dataclass
class Options:
    """What the command line adds to the manifests.

    Attributes:
        envs: ``(copilot name, hclforge name)`` of each environment to import; empty: all found.
        region: the region of environments whose manifests do not hold one.
        account: the account id, likewise.
        images: ``SERVICE=URI`` for images Copilot built (or to replace a location).
        shell: the shell's variables, for ``${VAR}`` in manifests.
    """

    envs: list[tuple[str, str]] = field(default_factory=list)
    region: str | None = None
    account: str | None = None
    images: dict[str, str] = field(default_factory=dict)
    shell: Mapping[str, str] = field(default_factory=dict)


@dataclass
class Imported:
    """The files to write (name under ``envs/`` → text), the report rows, and the names used."""

    files: dict[str, str]
    rows: list[Row]
    project: str
    envs: list[str]


def environments(ws: Workspace, chosen: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The environments to import: the ones asked for, else every environment manifest, else every override.

    Raises:
        UsageError: none found, or a name hclforge cannot use.
    """
    if not chosen:
        names = list(ws.envs)
        if not names:
            found = {k for m in ws.workloads.values() for k in (m.data.get("environments") or {})}
            names = sorted(str(n) for n in found)
        chosen = [(n, n) for n in names]
    if not chosen:
        raise UsageError("no Copilot environment found (no copilot/environments/<env>/ and no overrides): pass --env")
    for source, target in chosen:
        if not ENV_NAME_RE.fullmatch(target):
            raise UsageError(
                f"'{target}' cannot name an hclforge environment (allowed: ^[a-z][a-z0-9-]{{0,19}}$): "
                f"pass --env {source}=NEW-NAME"
            )
    return chosen


def import_workspace(ws: Workspace, options: Options, app_fallback: str) -> Imported:
    """Map the workspace's workloads into each environment and split the result into layers.

    Args:
        ws: the manifests (:func:`hclforge.copilot.manifests.read_workspace`).
        options: the command line's environments, region, account and images.
        app_fallback: the application's name when ``copilot/.workspace`` names none.

    Raises:
        UsageError: a region or account is needed and not known, or an --image names no workload.
    """
    app = ws.app or app_fallback
    project, rows = _project(ws.app, app)
    chosen = environments(ws, options.envs)
    unknown = sorted(set(options.images) - set(ws.workloads) - {m.data.get("name") for m in ws.workloads.values()})
    if unknown:
        raise UsageError(f"--image names no workload: {', '.join(unknown)} (workloads: {', '.join(ws.workloads)})")
    docs: dict[str, dict[str, Any]] = {}
    notes: dict[str, list[str]] = {}
    needs_account: list[str] = []
    seen: set[tuple[str, YamlPath]] = set()
    for source, target in chosen:
        facts = _facts(ws, source, app, options)
        doc, env_rows, env_notes = _environment(ws, facts, project, target, options, seen)
        docs[target] = doc
        notes[target] = env_notes
        rows += env_rows
        needs_account += facts.needs_account
    if needs_account:
        raise UsageError(
            "--account-id is needed: secrets name SSM parameters or Secrets Manager secrets, whose ARNs hold "
            f"the account ({', '.join(sorted(set(needs_account)))})"
        )
    rows += _not_imported_overrides(ws, [s for s, _ in chosen])
    rows += _overridden_everywhere(ws, seen, [s for s, _ in chosen])
    rows += _extras(ws)
    shared = _common(list(docs.values()))
    files = {f"{SHARED_LAYER}.yaml": _text(shared, _shared_header(app))}
    for (source, target), doc in zip(chosen, docs.values(), strict=True):
        rest = {"extends": [SHARED_LAYER], **_without(doc, shared)}
        files[f"{target}.yaml"] = _text(rest, _env_header(app, source, notes[target]))
    return Imported(files, merge_rows(rows, [s for s, _ in chosen]), project, [t for _, t in chosen])


def _extras(ws: Workspace) -> list[Row]:
    """Copilot's ``addons/`` and ``overrides/`` folders: CloudFormation (or CDK and YAML patches), never imported."""
    rows = []
    for folder in ws.extras:
        if folder.endswith("/addons"):
            detail = (
                "CloudFormation templates, not imported: write the resources as Terraform addons in "
                "addons/<env>/*.tf or addons/_shared/*.tf (docs/addons.md) and grant them in the YAML "
                '(permissions.statements resources: "addon:TYPE.NAME.arn"); the originals stay where they are'
            )
        else:
            detail = (
                "overrides of Copilot's CloudFormation (CDK or YAML patches), not imported: the rendered "
                "Terraform is plain and reviewable; change it through the YAML or an addon"
            )
        rows.append(Row(f"copilot/{folder}/", 0, folder.rpartition("/")[2], UNSUPPORTED, detail))
    return rows


def _project(written: str | None, app: str) -> tuple[str, list[Row]]:
    name = re.sub(r"[^a-z0-9-]+", "-", app.lower()).strip("-")
    if name and not name[0].isalpha():
        name = "p-" + name
    name = name[:20].rstrip("-") or "copilot"
    source = "copilot/.workspace" if written else "copilot/"
    status = MAPPED if name == app and written else CHANGED
    why = "" if written else " (no copilot/.workspace names the application: named after its folder)"
    if not re.fullmatch(PROJECT_RE, name):
        raise UsageError(f"cannot make a project name of '{app}' (allowed: {PROJECT_RE})")
    return name, [Row(source, 1 if written else 0, "application", status, f"project: {name}{why}")]


def _facts(ws: Workspace, env: str, app: str, options: Options) -> Facts:
    """The environment's region and account: from its certificates' ARNs, else the flags."""
    region, account = options.region, options.account
    origin = "--region"
    manifest = ws.envs.get(env)
    if manifest is not None:
        http = manifest.data.get("http")
        public = http.get("public") if isinstance(http, dict) else None
        certs = public.get("certificates") if isinstance(public, dict) else None
        for cert in certs if isinstance(certs, list) else []:
            match = _CERT_ARN.match(str(cert))
            if match:
                origin = "--region" if region else f"the certificate {match.group(0)}..."
                region = region or match.group("region")
                account = account or match.group("account")
    if region is None:
        raise UsageError(
            f"--region is needed: Copilot keeps environment {env}'s region outside the manifests "
            "(e.g. --region eu-west-1)"
        )
    if not re.fullmatch(REGION_RE, region):
        raise UsageError(f"'{region}' is not an AWS region (e.g. eu-west-1)")
    if account is not None and not re.fullmatch(r"[0-9]{12}", account):
        raise UsageError(f"'{account}' is not an AWS account id (12 digits)")
    facts = Facts(env, app, region, account, dict(options.images))
    facts.origin = origin
    return facts


def _environment(
    ws: Workspace, facts: Facts, project: str, target: str, options: Options, seen: set[tuple[str, YamlPath]]
) -> tuple[dict[str, Any], list[Row], list[str]]:
    env_manifest = ws.envs.get(facts.env)
    env_view = for_env(env_manifest, facts.env, facts.app, options.shell) if env_manifest else None
    part = map_environment(env_manifest, env_view, facts)
    workloads: list[Workload] = []
    for manifest in ws.workloads.values():
        workloads.append(map_workload(manifest, for_env(manifest, facts.env, facts.app, options.shell), facts))
    infer_calls(workloads, facts, f"{project}-{target}.internal")
    domain = choose_domain(workloads, part, facts)
    aws: dict[str, Any] = {"region": facts.region}
    if facts.account is not None:
        aws["account_id"] = facts.account
    doc: dict[str, Any] = {"project": project, "aws": aws, "network": part.network}
    cluster = dict(part.cluster)
    if any(w.spot for w in workloads):
        cluster["capacity_providers"] = ["FARGATE", "FARGATE_SPOT"]
    if cluster:
        doc["cluster"] = cluster
    if domain is not None:
        doc["api"] = {"domain": domain}
    doc["services"] = {w.name: w.service for w in workloads if w.service is not None}
    schedules = {w.name: w.schedule for w in workloads if w.schedule is not None}
    if schedules:
        doc["scheduled_tasks"] = schedules
    where = env_manifest.file if env_manifest else "(command line)"
    rows = [
        *part.rows,
        Row(where, 0, "(region)", MAPPED, f"aws.region: {facts.region} (from {facts.origin})", (facts.env,)),
    ]
    for tracker in [*([part.tracker] if part.tracker else []), *(w.tracker for w in workloads)]:
        rows += tracker.finish()
        seen.update((tracker.manifest.file, tracker.view.source.get(p, p)) for p in tracker.covered)
    return doc, rows, part.notes


def _overridden_everywhere(ws: Workspace, seen: set[tuple[str, YamlPath]], envs: list[str]) -> list[Row]:
    """Fields every imported environment's override replaced: met, used nowhere, and said so."""
    rows = [
        Row(m.file, 0, "(environment)", UNSUPPORTED, f"environment {name} is not imported (pass --env {name})")
        for name, m in ws.envs.items()
        if name not in envs
    ]
    for manifest in [*ws.workloads.values(), *(m for name, m in ws.envs.items() if name in envs)]:
        base = {k: v for k, v in manifest.data.items() if k != "environments"}
        for leaf in leaves(base):
            if leaf and not any((manifest.file, leaf[:n]) in seen for n in range(1, len(leaf) + 1)):
                rows.append(
                    Row(
                        manifest.file,
                        manifest.line(leaf),
                        dotted(leaf),
                        CHANGED,
                        "replaced by the override of every imported environment (see environments)",
                    )
                )
    return rows


def _not_imported_overrides(ws: Workspace, envs: list[str]) -> list[Row]:
    """Overrides for environments not imported: named, never dropped silently."""
    rows = []
    for manifest in ws.workloads.values():
        found = manifest.data.get("environments")
        overrides: dict[str, Any] = found if isinstance(found, dict) else {}
        for env in overrides:
            if env not in envs:
                path = ("environments", env)
                for leaf in leaves(overrides[env], path):
                    rows.append(
                        Row(
                            manifest.file,
                            manifest.line(leaf),
                            dotted(leaf),
                            UNSUPPORTED,
                            f"environment {env} is not imported (pass --env {env} to import it)",
                        )
                    )
    return rows


# ------------------------------------------------------------------ layers


def _common(docs: list[dict[str, Any]]) -> dict[str, Any]:
    """What every document says alike, key by key (maps merge when layered, so they split by key)."""
    if not docs:
        return {}
    out: dict[str, Any] = {}
    for key, first in docs[0].items():
        values = [d.get(key) for d in docs]
        if any(key not in d for d in docs):
            continue
        if all(v == first for v in values):
            out[key] = first
        elif all(isinstance(v, dict) for v in values):
            inner = _common(values)  # type: ignore[arg-type]
            if inner:
                out[key] = inner
    return out


def _without(doc: dict[str, Any], shared: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in doc.items():
        if key not in shared:
            out[key] = value
        elif isinstance(value, dict) and isinstance(shared[key], dict) and value != shared[key]:
            rest = _without(value, shared[key])
            if rest:
                out[key] = rest
        elif value != shared[key]:
            out[key] = value
    return out


class _Dumper(yaml.SafeDumper):
    """Block style, except lists of plain values, which read best on one line."""


def _represent_list(dumper: yaml.SafeDumper, data: list[Any]) -> yaml.Node:
    flow = all(not isinstance(v, dict | list) for v in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


_Dumper.add_representer(list, _represent_list)


def _text(doc: dict[str, Any], header: list[str]) -> str:
    body = yaml.dump(doc, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=120, default_flow_style=False)
    return "\n".join([SCHEMA_LINE, *header]) + "\n" + (body if doc else "")


def _shared_header(app: str) -> list[str]:
    return [
        f"# Imported from AWS Copilot (application {app}) by 'hclforge import copilot':",
        "# what every imported environment shares. The import's report says where each value came from.",
    ]


def _env_header(app: str, env: str, notes: list[str]) -> list[str]:
    lines = [f"# Imported from AWS Copilot (application {app}, environment {env}) by 'hclforge import copilot'."]
    for note in notes:
        lines += [f"# {line}" for line in note.splitlines()]
    return lines
