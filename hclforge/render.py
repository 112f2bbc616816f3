"""Render environment files into plain Terraform under ``modules/<env>/``.

This module is both the library the CLI calls and a script::

    python render.py dev            # write modules/dev/
    python render.py --all --check  # exit 1 with a unified diff when modules/ is stale

Rendering happens in memory first; only then are files written, each through a
temporary file and an atomic replace. Only generated ``.tf`` files are written or
removed: ``.terraform/``, ``.terraform.lock.hcl``, saved plans and state are never
touched. ``--check`` runs the same code path and compares instead of writing.
"""

from __future__ import annotations

import argparse
import difflib
import ipaddress
import os
import re
import sys
import tempfile
from collections.abc import Callable, Iterable
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
import jinja2.bccache

from hclforge import addons, hcl, sealed
from hclforge.config import LoadedEnv, load_env
from hclforge.errors import (
    EXIT_OK,
    HclforgeError,
    Problem,
    StaleTreeError,
    TemplateError,
    exit_code_for,
    report_lines,
)
from hclforge.model import EnvConfig
from hclforge.paths import confined_path
from hclforge.protect import PROTECTED_TYPES
from hclforge.roots import SHARED_VALUE, RootLayout, root_inputs, shared_value_names, split_layout
from hclforge.rules import SECRET_ARN_RE, route_address
from hclforge.shims import shims_for
from hclforge.tree import GENERATED_MARK as GENERATED_MARK  # also render's names, as before tree.py
from hclforge.tree import (
    MODULES_DIR,
    RenderedTree,
    check_contents,
    existing_generated,
    local_state_path,
    render_lock,
)
from hclforge.tree import FileChange as FileChange
from hclforge.tree import select_envs as select_envs

# Inside the package (a wheel carries them); in a clone, hclforge/templates links to templates/.
TEMPLATES = Path(str(resources.files("hclforge") / "templates"))
TERRAFORM_VERSION = ">= 1.10.0"
AWS_PROVIDER_VERSION = ">= 5.68.0, < 6.0.0"
EMULATOR_ACCOUNT_ID = "123456789012"
CHILD_FILES = ("main.tf", "variables.tf", "outputs.tf", "versions.tf")
TMP_VOLUME = "tmp"
# ECS Exec's SSM agent writes its state and logs under these paths. AWS calls a read-only
# root with ECS Exec unsupported (ECS developer guide, "ECS Exec considerations"); with
# writable task volumes there the agent runs (toricls, "Using ECS Exec with
# readonlyRootFilesystem enabled containers", 2021; containers-roadmap #1359).
EXEC_AGENT_VOLUMES = (("ssm-agent-state", "/var/lib/amazon"), ("ssm-agent-logs", "/var/log/amazon"))


# ------------------------------------------------------------------ jinja


def _finalize(obj: Any) -> Any:
    """Refuse to print a plain string: YAML text must pass through an escaping filter."""
    if isinstance(obj, hcl.HclText):
        return obj
    if isinstance(obj, bool):
        return "true" if obj else "false"
    if isinstance(obj, int | float):
        return repr(obj)
    raise TemplateError(f"unescaped {type(obj).__name__} {obj!r} in a template: use '| q' or '| hcl'")


@cache
def jinja_env() -> jinja2.Environment:
    """The one Jinja environment: strict, with the HCL filters registered."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
        finalize=_finalize,
    )
    env.filters["q"] = hcl.quote
    env.filters["hcl"] = hcl.value
    env.filters["ident"] = hcl.ident
    env.filters["label"] = hcl.label
    return env


class SealedBytecodeCache(jinja2.BytecodeCache):
    """Jinja's compiled templates in a private directory, each entry sealed (:mod:`hclforge.sealed`).

    A compiled template is code that runs when it is loaded: an entry this user's
    hclforge did not write (planted through a swapped directory, restored from
    another machine's cache) is never loaded, and the template is compiled again.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    @staticmethod
    def _name(bucket: jinja2.bccache.Bucket) -> str:
        return f"__jinja2_{bucket.key}.cache"

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        body = sealed.load(self.directory, self._name(bucket))
        if body is not None:
            bucket.bytecode_from_string(body)  # Jinja checks its own magic and the source's checksum

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        sealed.store(self.directory, self._name(bucket), bucket.bytecode_to_string())


def use_bytecode_cache(directory: Path) -> None:
    """Keep compiled templates in ``directory``, so a later process skips Jinja's compile step.

    Jinja keys each entry on the template's name and a checksum of its source (and
    on its own version and Python's), so an edited or upgraded template is compiled
    again; the cache changes how fast a tree renders, never what it holds. The
    directory is private to the user (the CLI uses ``.hclforge/cache/jinja``) and
    every entry is sealed (:class:`SealedBytecodeCache`).
    """
    jinja_env().bytecode_cache = SealedBytecodeCache(directory)


def _render_template(name: str, context: dict[str, Any]) -> str:
    try:
        text = jinja_env().get_template(name).render(context)
    except jinja2.UndefinedError as err:
        raise TemplateError(f"template {name}: undefined value: {err.message}") from err
    except jinja2.TemplateError as err:
        raise TemplateError(f"template {name}: {err}") from err
    return hcl.format_hcl(context["header"] + "\n" + text)


# ---------------------------------------------------------------- render


def _subnet_cidrs(cidr: str, count: int) -> tuple[list[str], list[str]]:
    """Private and public subnet CIDRs: ``count`` of each, private first, /4 longer than the VPC."""
    net = ipaddress.IPv4Network(cidr)
    new_prefix = min(net.prefixlen + 4, 28)
    blocks = [str(s) for s in net.subnets(new_prefix=new_prefix)]
    return blocks[:count], blocks[count : 2 * count]


# A Secrets Manager secret's full ARN ends in "-" and six random characters.
_SECRET_SUFFIX_RE = re.compile(r"-[A-Za-z0-9]{6}")


def _secret_resource(arn: str) -> str:
    """The IAM resource that grants reading the secret ``arn`` refers to.

    JSON-key and version suffixes (``:key:stage:id``) are dropped. A Secrets Manager
    ARN without its 6-character suffix matches no secret in an IAM policy, so it is
    granted as ``<arn>-??????`` (AWS: "Resource: secrets in IAM policies").
    """
    parts = arn.split(":")
    if parts[2] != "secretsmanager":
        return arn
    base = ":".join(parts[:7])
    name = parts[6]
    return base if _SECRET_SUFFIX_RE.fullmatch(name[-7:]) else f"{base}-??????"


def container_definitions(cfg: EnvConfig, name: str) -> list[dict[str, Any]]:
    """The ECS container definitions of service ``name``: its own container, then its sidecars.

    Keys AWS leaves out when empty are left out here too, so a re-plan stays clean.
    """
    svc = cfg.services[name]
    main = _container(cfg, name, name, svc.image, True, svc.command, svc.environment, svc.secrets, svc.port)
    waits = [{"containerName": side, "condition": "START"} for side, car in svc.sidecars.items() if car.depends_on_main]
    if waits:
        main["dependsOn"] = waits
    if svc.health_check is not None:
        hc = svc.health_check
        main["healthCheck"] = {
            "command": hc.command,
            "interval": hc.interval,
            "timeout": hc.timeout,
            "retries": hc.retries,
            "startPeriod": hc.start_period,
        }
    containers = [main]
    for side, car in svc.sidecars.items():
        sidecar = _container(
            cfg, name, side, car.image, car.essential, car.command, car.environment, car.secrets, car.port
        )
        if car.memory_reservation is not None:
            sidecar["memoryReservation"] = car.memory_reservation
        containers.append(sidecar)
    for container in containers:
        # Last, as it always was: the rendered HCL reads top-down from name and image.
        container["logConfiguration"] = container.pop("logConfiguration")
        if "ecs_container_memory" in shims_for(cfg) and "memoryReservation" not in container:
            container["memory"] = svc.memory
    return containers


def _container(
    cfg: EnvConfig,
    service: str,
    name: str,
    image: str,
    essential: bool,
    command: list[str],
    environment: dict[str, str],
    secrets: dict[str, str],
    port: int | None,
) -> dict[str, Any]:
    """One container of ``service``'s task: what its own container and its sidecars share."""
    svc = cfg.services[service]
    container: dict[str, Any] = {"name": name, "image": image, "essential": essential}
    if command:
        container["command"] = command
    if port is not None:
        mapping = "http" if name == service else name
        container["portMappings"] = [{"name": mapping, "containerPort": port, "protocol": "tcp"}]
    if environment:
        container["environment"] = [{"name": k, "value": v} for k, v in sorted(environment.items())]
    if secrets:
        container["secrets"] = [{"name": k, "valueFrom": v} for k, v in sorted(secrets.items())]
    if svc.readonly_root_filesystem:
        container["readonlyRootFilesystem"] = True
        # Most runtimes need a writable /tmp: an ephemeral task volume (see the task definition).
        container["mountPoints"] = [{"sourceVolume": TMP_VOLUME, "containerPath": "/tmp", "readOnly": False}]
        if svc.exec and name == service:
            # `hclforge exec` opens the service's own container; its agent needs these writable.
            container["mountPoints"] += [
                {"sourceVolume": volume, "containerPath": path, "readOnly": False}
                for volume, path in EXEC_AGENT_VOLUMES
            ]
    if svc.stop_timeout is not None:
        container["stopTimeout"] = svc.stop_timeout
    container["logConfiguration"] = {
        "logDriver": "awslogs",
        "options": {
            "awslogs-group": hcl.HclText(f"aws_cloudwatch_log_group.{hcl.ident(service)}.name"),
            "awslogs-region": hcl.HclText("data.aws_region.current.name"),
            "awslogs-stream-prefix": "ecs",
        },
    }
    return container


def _ignore_changes(cfg: EnvConfig, name: str, shims: frozenset[str]) -> list[hcl.HclText]:
    ignored = []
    if cfg.services[name].autoscaling is not None:
        ignored.append(hcl.HclText("desired_count"))
    if "ecs_service_ignore_az_rebalancing" in shims:
        ignored.append(hcl.HclText("availability_zone_rebalancing"))
    return ignored


def addon_arns(cfg: EnvConfig) -> dict[str, hcl.HclText]:
    """The addon attributes the task roles are granted, by key: what the root passes into the IAM module.

    ``{"aws_sqs_queue.jobs.arn": aws_sqs_queue.jobs.arn}``; each reference was checked
    against :data:`hclforge.addons.REF_RE` and the addons' resources when the
    environment was loaded, so the expression is a plain reference, never YAML text.
    """
    keys = {
        key
        for svc in cfg.services.values()
        for st in svc.permissions.statements
        for resource in st.resources
        if (key := addons.ref_key(resource)) is not None
    }
    return {key: hcl.HclText(key) for key in sorted(keys)}


def policy_resources(resources: list[str]) -> list[str | hcl.HclText]:
    """A statement's resources as the IAM module renders them: an addon reference becomes ``var.addon_arns[...]``."""
    out: list[str | hcl.HclText] = []
    for resource in resources:
        key = addons.ref_key(resource)
        if key is None:
            out.append(resource)
            continue
        ref = f"var.addon_arns[{hcl.quote(key)}]"
        suffix = addons.ref_suffix(resource)
        out.append(hcl.HclText(f'"${{{ref}}}{hcl.quote(suffix)[1:-1]}"' if suffix else ref))
    return out


def _secret_grants(cfg: EnvConfig, services: Iterable[str]) -> dict[str, list[str]]:
    """What the execution role must read to start ``services``' tasks: their secrets and secrets' keys."""
    own = [cfg.services[name] for name in services]
    arns = sorted(
        {
            _secret_resource(arn)
            for svc in own
            for secrets in (svc.secrets, *(car.secrets for car in svc.sidecars.values()))
            for arn in secrets.values()
            if SECRET_ARN_RE.fullmatch(arn)
        }
    )
    return {
        "secretsmanager": [a for a in arns if a.split(":")[2] == "secretsmanager"],
        "ssm": [a for a in arns if a.split(":")[2] == "ssm"],
        "kms": sorted({k for svc in own for k in svc.kms_key_arns}),
    }


def build_context(loaded: LoadedEnv) -> dict[str, Any]:
    """Everything the templates see, derived once from the validated config (the one-root shape)."""
    cfg = loaded.config
    grants = _secret_grants(cfg, cfg.services)
    sources = ", ".join(loaded.sources)
    shims = shims_for(cfg)
    private_cidrs, public_cidrs = (
        _subnet_cidrs(cfg.network.create.cidr, cfg.network.create.private_subnets) if cfg.network.create else ([], [])
    )
    return {
        "cfg": cfg,
        "env": loaded.name,
        "header": f"# {GENERATED_MARK}: rendered by hclforge from {sources}\n",
        "shims": shims,
        "containers": {name: container_definitions(cfg, name) for name in cfg.services},
        "ignore_changes": {name: _ignore_changes(cfg, name, shims) for name in cfg.services},
        "default_tags": dict(
            sorted(
                {**cfg.tags, "Project": cfg.project, "Environment": cfg.environment, "ManagedBy": "hclforge"}.items()
            )
        ),
        "terraform_version": TERRAFORM_VERSION,
        "aws_provider_version": AWS_PROVIDER_VERSION,
        "emulator_account_id": EMULATOR_ACCOUNT_ID,
        "route_address": route_address,
        "protected_types": PROTECTED_TYPES,
        "secret_arns": {"secretsmanager": grants["secretsmanager"], "ssm": grants["ssm"]},
        "kms_key_arns": grants["kms"],
        "callers": {n: sorted(c for c, s in cfg.services.items() if n in s.calls) for n in cfg.services},
        "task_volumes": {
            name: [TMP_VOLUME, *(v for v, _ in EXEC_AGENT_VOLUMES if svc.exec)] if svc.readonly_root_filesystem else []
            for name, svc in cfg.services.items()
        },
        "subnet_cidrs": private_cidrs,
        "public_subnet_cidrs": public_cidrs,
        "nat_count": cfg.nat_gateway_count,
        # One private route table per NAT gateway (per AZ), else one for all.
        "private_route_tables": max(cfg.nat_gateway_count, 1),
        "interface_endpoints": cfg.interface_endpoints,
        "addon_arns": addon_arns(cfg),
        "policy_resources": policy_resources,
        "state_path": local_state_path(loaded.name),
        "backend_key": cfg.backend.key,
        "service_secrets": {},
        **scope_context(cfg, "all", list(cfg.services)),
    }


def modules_for(loaded: LoadedEnv) -> list[str]:
    """The child modules an environment gets, in dependency order."""
    cfg = loaded.config
    names = []
    if cfg.network.create:
        names.append("network")
    if cfg.auth is not None and cfg.auth.cognito.create:
        names.append("cognito")
    names += ["iam", "cloudmap", "apigateway", "ecs"]
    if cfg.scheduled_tasks:
        names.append("scheduler")
    if cfg.alarms is not None:
        names.append("alarms")
    return names


def render_env(loaded: LoadedEnv) -> RenderedTree:
    """Render a validated environment into file texts, writing nothing.

    Args:
        loaded: the environment from :func:`hclforge.config.load_env`.

    Returns:
        The tree: root ``main.tf`` and ``outputs.tf``, four files per module, and a copy
        of each addon (``addon_<name>.tf``, see :mod:`hclforge.addons`); with
        ``state.split: service``, a ``shared/`` root and a ``services/<root>/`` root per
        service or group instead (:func:`render_split`).

    Raises:
        TemplateError: a template failed (a bug in hclforge, not in the YAML).
    """
    context = build_context(loaded)
    if loaded.config.split:
        return render_split(loaded, context)
    modules = modules_for(loaded)
    context["modules"] = modules
    tree = RenderedTree(loaded.name)
    for name in ("main.tf", "outputs.tf"):
        tree.files[name] = _render_template(f"root/{name}.j2", context)
    for module in modules:
        for name in CHILD_FILES:
            template = f"{module}/{name}.j2" if name != "versions.tf" else "versions.tf.j2"
            tree.files[f"{module}/{name}"] = _render_template(template, context)
    for addon in loaded.addons:
        tree.files[addon.copy] = addons.copy_text(addon)
    return tree


# ----------------------------------------------------------- split roots


class Refs:
    """How a template names what the shared part of an environment owns.

    In the one root and in the shared root, a resource of the same module; in a
    service root, one of the variables that shared's outputs fill.
    """

    def __init__(self, service_root: bool) -> None:
        self._var = service_root

    def _pick(self, own: str, var: str) -> hcl.HclText:
        return hcl.HclText(var if self._var else own)

    def sg(self, service: str) -> hcl.HclText:
        """The security group of ``service``'s tasks."""
        if self._var:
            return hcl.HclText(f"var.security_group_ids[{hcl.quote(service)}]")
        return hcl.HclText(f"aws_security_group.{hcl.ident(service)}.id")

    @property
    def cluster(self) -> hcl.HclText:
        return self._pick("aws_ecs_cluster.this.id", "var.cluster_arn")

    @property
    def namespace_id(self) -> hcl.HclText:
        return self._pick("aws_service_discovery_private_dns_namespace.this.id", "var.namespace_id")

    @property
    def api_id(self) -> hcl.HclText:
        return self._pick("aws_apigatewayv2_api.this.id", "var.api_id")

    @property
    def vpc_link_id(self) -> hcl.HclText:
        return self._pick("aws_apigatewayv2_vpc_link.this.id", "var.vpc_link_id")

    @property
    def authorizer_id(self) -> hcl.HclText:
        return self._pick("aws_apigatewayv2_authorizer.jwt.id", "var.authorizer_id")

    @property
    def scheduler_role_arn(self) -> hcl.HclText:
        return self._pick("aws_iam_role.this.arn", "var.role_arn")


def scope_context(cfg: EnvConfig, scope: str, services: list[str]) -> dict[str, Any]:
    """What the child templates render of the environment: all of it, its shared part, or some services.

    Args:
        cfg: the environment.
        scope: ``all`` (the one root), ``shared`` or ``services`` (a service root).
        services: the services whose own resources are rendered (none for shared).

    Returns:
        The per-scope part of the template context; one set of templates renders all three shapes.
    """
    own = {name: cfg.services[name] for name in services}
    return {
        "scope": scope,
        "own_services": own,
        "own_routed": {n: s for n, s in own.items() if s.routes},
        "own_discoverable": {n: s for n, s in own.items() if s.port is not None},
        "own_tasks": {n: t for n, t in cfg.scheduled_tasks.items() if t.service in own},
        "own_jwt": any(s.routes and s.auth == "jwt" for s in own.values()),
        "own_autoscaling": any(s.autoscaling is not None for s in own.values()),
        # Security groups live in the shared root of a split environment: their rules name them across roots.
        "ecs_services": own if scope == "services" else cfg.services,
        # Split: the authorizer exists with `auth`, so a service turning JWT on or off changes its own root only.
        "has_authorizer": cfg.uses_jwt if scope == "all" else scope == "shared" and cfg.auth is not None,
        "ref": Refs(scope == "services"),
    }


def _root_context(base: dict[str, Any], cfg: EnvConfig, layout: RootLayout) -> dict[str, Any]:
    scope = "shared" if layout.shared else "services"
    context = {
        **base,
        **scope_context(cfg, scope, list(layout.services)),
        "state_path": layout.local_state_from_tree,
        "backend_key": cfg.state_key(layout.path) if cfg.backend.type == "s3" else None,
        # The one execution policy of a single root is split: each service root grants its own.
        "secret_arns": {"secretsmanager": [], "ssm": []},
        "kms_key_arns": [],
    }
    if layout.shared:
        context["shared_values"] = [_typed(SHARED_VALUE[name]) for name in shared_value_names(cfg)]
    else:
        context["inputs"] = [_typed(value) for value in root_inputs(cfg, layout.services)]
        grants = {name: _secret_grants(cfg, [name]) for name in layout.services}
        context["service_secrets"] = {name: g for name, g in grants.items() if any(g.values())}
    return context


def _typed(value: Any) -> dict[str, Any]:
    return {"name": value.name, "type": hcl.HclText(value.type), "description": value.description}


def split_modules(cfg: EnvConfig, layout: RootLayout) -> list[str]:
    """The child modules of one root of a split environment, in dependency order."""
    if layout.shared:
        names = ["network"] if cfg.network.create else []
        if cfg.auth is not None and cfg.auth.cognito.create:
            names.append("cognito")
        names += ["iam", "cloudmap", "apigateway", "ecs"]
        if cfg.scheduled_tasks:
            names.append("scheduler")
        return names + (["alarms"] if cfg.alarms is not None else [])
    own = [cfg.services[name] for name in layout.services]
    names = ["iam"]
    if any(svc.port is not None for svc in own):
        names.append("cloudmap")
    if any(svc.routes for svc in own):
        names.append("apigateway")
    names.append("ecs")
    if any(task.service in layout.services for task in cfg.scheduled_tasks.values()):
        names.append("scheduler")
    return names + (["alarms"] if cfg.alarms is not None else [])


def render_split(loaded: LoadedEnv, base: dict[str, Any]) -> RenderedTree:
    """Render a split environment: ``shared/`` and ``services/<root>/``, each a root of its own.

    Args:
        loaded: an environment with ``state.split: service``.
        base: its one-root context (:func:`build_context`), narrowed here per root.

    Returns:
        The tree, paths relative to ``modules/<env>/``.
    """
    cfg = loaded.config
    tree = RenderedTree(loaded.name)
    for layout in split_layout(loaded.name, cfg):
        context = _root_context(base, cfg, layout)
        modules = split_modules(cfg, layout)
        context["modules"] = modules
        roots = ("main.tf", "outputs.tf") if layout.shared else ("main.tf", "variables.tf", "outputs.tf")
        for name in roots:
            template = f"root/{name}.j2" if layout.shared else f"root/service-{name}.j2"
            tree.files[f"{layout.path}/{name}"] = _render_template(template, context)
        for module in modules:
            for name in CHILD_FILES:
                template = f"{module}/{name}.j2" if name != "versions.tf" else "versions.tf.j2"
                tree.files[f"{layout.path}/{module}/{name}"] = _render_template(template, context)
    return tree


def render(root: Path, env: str) -> RenderedTree:
    """Load ``env`` under ``root`` and render it (no files written)."""
    return render_env(load_env(root, env))


# ----------------------------------------------------------------- write


def diff_tree(root: Path, tree: RenderedTree) -> list[FileChange]:
    """Compare a rendered tree with ``modules/<env>/`` on disk.

    Raises:
        ForeignFileError: the tree holds a link, a non-regular file, or a file terraform
            reads that this render does not write (:func:`hclforge.tree.check_contents`).
    """
    check_contents(root, tree.env, set(tree.files))
    existing = existing_generated(root, tree.env)
    changes = []
    for rel, text in sorted(tree.files.items()):
        path = confined_path(root, f"{MODULES_DIR}/{tree.env}/{rel}")
        if not path.exists():
            changes.append(FileChange(rel, "create"))
        elif path.read_text(encoding="utf-8") != text:
            changes.append(FileChange(rel, "update"))
        else:
            changes.append(FileChange(rel, "identical"))
    for rel in sorted(existing - set(tree.files)):
        changes.append(FileChange(rel, "delete"))
    return changes


def unified_diff(root: Path, tree: RenderedTree) -> str:
    """A unified diff from what is on disk to the fresh render ('' when identical)."""
    target = root / MODULES_DIR / tree.env
    chunks = []
    for change in diff_tree(root, tree):
        if change.action == "identical":
            continue
        path = target / change.path
        old = path.read_text(encoding="utf-8") if change.action != "create" else ""
        new = tree.files.get(change.path, "")
        name = f"{MODULES_DIR}/{tree.env}/{change.path}"
        chunks.append(
            "".join(
                difflib.unified_diff(
                    old.splitlines(keepends=True),
                    new.splitlines(keepends=True),
                    fromfile=f"a/{name}" if change.action != "create" else "/dev/null",
                    tofile=f"b/{name}" if change.action != "delete" else "/dev/null",
                )
            )
        )
    return "".join(chunks)


def write_tree(root: Path, tree: RenderedTree) -> list[FileChange]:
    """Write ``tree`` into ``modules/<env>/``, touching only generated ``.tf`` files.

    All new texts go to a temporary directory beside the target first, and each is
    then moved into place with an atomic rename, so a failure never leaves a file
    half-written. Stale generated files are removed; anything else is left alone.
    One render of an environment at a time (a per-environment file lock); nothing
    is written or read through a symlink, and nothing but regular files is opened.

    Raises:
        UnsafePathError: ``modules``, ``modules/<env>``, a subdirectory or a file is a
            symlink, or a file is not a regular one.
    """
    with render_lock(root, tree.env):
        return _write_tree_locked(root, tree)


def _write_tree_locked(root: Path, tree: RenderedTree) -> list[FileChange]:
    base = f"{MODULES_DIR}/{tree.env}"
    changes = diff_tree(root, tree)
    pending = [c for c in changes if c.action in ("create", "update")]
    if pending:
        target = confined_path(root, base, kind="dir")
        target.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=".render-", dir=target) as tmp:
            staged = []
            for change in pending:
                tmp_path = Path(tmp) / change.path
                tmp_path.parent.mkdir(parents=True, exist_ok=True)
                tmp_path.write_text(tree.files[change.path], encoding="utf-8")
                staged.append((tmp_path, change.path))
            for tmp_path, rel in staged:
                parent = confined_path(root, str(Path(base, rel).parent), kind="dir")
                parent.mkdir(parents=True, exist_ok=True)
                os.replace(tmp_path, confined_path(root, f"{base}/{rel}"))
    for change in changes:
        if change.action == "delete":
            path = confined_path(root, f"{base}/{change.path}")
            path.unlink()
            _prune_empty_parents(root / base, path.parent)
    return changes


def _prune_empty_parents(top: Path, directory: Path) -> None:
    """Remove ``directory`` and its parents up to (not including) ``top`` while they are empty.

    A split environment's files are two and three levels deep (``services/<root>/ecs/``):
    a root that goes away leaves no empty directories behind. A directory holding
    anything else (a ``.terraform/``, a hand-written file) stays.
    """
    while directory != top and directory.is_relative_to(top) and not any(directory.iterdir()):
        directory.rmdir()
        directory = directory.parent


def check_tree(root: Path, tree: RenderedTree) -> None:
    """Raise :class:`StaleTreeError` with a unified diff when ``modules/<env>/`` is stale."""
    diff = unified_diff(root, tree)
    if diff:
        raise StaleTreeError(diff)


def render_many(
    root: Path, names: Iterable[str], *, check: bool, warn: Callable[[Problem], None] | None = None
) -> dict[str, list[FileChange]]:
    """Render (or, with ``check``, compare) several environments, validating all before writing any.

    Args:
        root: the project root.
        names: the environments.
        check: compare with ``modules/`` instead of writing.
        warn: called with each warning of each environment (see :attr:`LoadedEnv.warnings`).

    Returns:
        The changes per environment: written ones, or with ``check`` the ones that would be.

    Raises:
        ConfigError: any environment is invalid (nothing is written).
        StaleTreeError: with ``check``, some tree is stale; carries every diff.
    """
    loaded = [load_env(root, name) for name in names]
    for env in loaded:
        for problem in env.warnings:
            if warn is not None:
                warn(problem)
    trees = [render_env(env) for env in loaded]
    if check:
        diff = "".join(unified_diff(root, tree) for tree in trees)
        if diff:
            raise StaleTreeError(diff)
        return {tree.env: diff_tree(root, tree) for tree in trees}
    return {tree.env: write_tree(root, tree) for tree in trees}


# ----------------------------------------------------------------- script


def result_lines(results: dict[str, list[FileChange]], *, check: bool) -> list[str]:
    """What ``render`` (or ``render --check``) reports: each file written, then each tree's state."""
    lines = []
    for env, changes in results.items():
        if not check:
            lines += [f"{c.action:>9}  {MODULES_DIR}/{env}/{c.path}" for c in changes if c.action != "identical"]
        lines.append(f"{'up to date' if check else 'rendered'} {MODULES_DIR}/{env}/")
    return lines


def main(argv: list[str] | None = None) -> int:
    """``python render.py ENV...|--all [--check] [--root DIR]``."""
    parser = argparse.ArgumentParser(prog="render.py", description="Render envs/<env>.yaml into modules/<env>/.")
    parser.add_argument("envs", nargs="*", metavar="ENV")
    parser.add_argument("--all", action="store_true", help="every environment under envs/")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 with a diff when stale")
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="project root (default: cwd)")
    args = parser.parse_args(argv)
    try:
        results = render_many(
            args.root,
            select_envs(args.root, args.envs, args.all),
            check=args.check,
            warn=lambda problem: print(f"warning: {problem}", file=sys.stderr),
        )
    except HclforgeError as err:
        for line in report_lines(err, render_command="python render.py --all"):
            print(line, file=sys.stderr)
        return exit_code_for(err)
    for line in result_lines(results, check=args.check):
        print(line)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
