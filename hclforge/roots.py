"""The roots of a split environment (``state.split: service``): where each lives, and what it takes from shared.

A split environment renders one **shared** root and one root per service or group
(:attr:`hclforge.model.EnvConfig.split_roots`). Each root is a directory of plain
Terraform with a state and a lock of its own. This module holds their layout as
data (no Jinja, no terraform), so the renderer, the runner and ``affected`` share
one definition:

- the tree: ``modules/<env>/shared/``, ``modules/<env>/services/<root>/``;
- the state: S3 key ``<key prefix>/shared.tfstate``, ``<key prefix>/services/<root>.tfstate``
  (:meth:`~hclforge.model.EnvConfig.state_key`), or local state under
  ``.hclforge/envs/<env>/shared/`` and ``.hclforge/envs/<env>/services/<root>/``;
- the values a service root takes from shared (:data:`SHARED_VALUES`): declared as
  its variables, exposed as shared's outputs, and given to it as literal values in
  a var file that hclforge writes from shared's ``terraform output -json`` after
  shared applies (:func:`input_values`). No root reads another's state.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hclforge.errors import FileTooLargeError, SharedOutputsError
from hclforge.model import EnvConfig, Service
from hclforge.paths import read_private
from hclforge.tree import MODULES_DIR

SHARED = "shared"
# The largest kept outputs file read: shared's outputs for hundreds of services are a few hundred KiB.
MAX_OUTPUTS_BYTES = 16 * 1024 * 1024
SERVICES_DIR = "services"
# Per-environment working files, outside the committed tree (beside the render stamp).
ENV_STATE_DIR = ".hclforge/envs"
STATE_FILE = "terraform.tfstate"
# Shared's `terraform output -json`, kept after shared applies; each service root's var file.
SHARED_OUTPUTS_FILE = "shared-outputs.json"
SHARED_INPUTS_FILE = "shared-inputs.tfvars.json"


@dataclass(frozen=True)
class RootLayout:
    """One root of a split environment: its name, its services and where its files are.

    Attributes:
        env: the environment.
        name: ``shared``, or the service's or group's name.
        services: the services rendered in it (none for shared).
    """

    env: str
    name: str
    services: tuple[str, ...] = ()

    @property
    def shared(self) -> bool:
        return not self.services

    @property
    def path(self) -> str:
        """The root relative to ``modules/<env>/`` (and to ``.hclforge/envs/<env>/``)."""
        return SHARED if self.shared else f"{SERVICES_DIR}/{self.name}"

    @property
    def tree_dir(self) -> str:
        """The root's directory relative to the project root."""
        return f"{MODULES_DIR}/{self.env}/{self.path}"

    @property
    def work_dir(self) -> str:
        """The root's private working directory (local state, shared inputs), relative to the project root."""
        return f"{ENV_STATE_DIR}/{self.env}/{self.path}"

    @property
    def local_state(self) -> str:
        """Where a local backend keeps the root's state, relative to the project root."""
        return f"{self.work_dir}/{STATE_FILE}"

    @property
    def local_state_from_tree(self) -> str:
        """:attr:`local_state` relative to :attr:`tree_dir`, as the rendered backend names it."""
        return "../" * self.tree_dir.count("/") + "../" + self.local_state

    @property
    def inputs_file(self) -> str:
        """The var file of a service root's shared values, relative to the project root.

        Outside the committed tree: the values are the shared root's, they change
        when shared is applied, and terraform reads them only through ``-var-file``.
        """
        if self.shared:
            raise ValueError("the shared root takes no shared inputs")
        return f"{self.work_dir}/{SHARED_INPUTS_FILE}"


# What does not move between one root and split roots (`state split`, `state join`): the one
# root's execution role reads every service's secrets through one pinned inline policy; split,
# each service root grants its own services' (service_secrets_policy_name) and the role is not
# pinned, since the pin would remove the service roots' policies. Every other resource keeps
# its address, module included, in exactly one split root.
ONE_ROOT_ONLY = (
    "module.iam.aws_iam_role_policy.execution_read_secrets",
    "module.iam.aws_iam_role_policies_exclusive.execution",
)


def shared_outputs_file(env: str) -> str:
    """Where shared's ``terraform output -json`` is kept after it applies, relative to the project root."""
    return f"{ENV_STATE_DIR}/{env}/{SHARED}/{SHARED_OUTPUTS_FILE}"


def read_kept_outputs(path: Path, shown: str, env: str) -> dict[str, Any] | None:
    """Shared's outputs as kept at ``path`` after it last applied (None: never kept on this machine).

    Read as hclforge reads its own files under ``.hclforge/`` (:func:`~hclforge.paths.read_private`):
    never through a link, never blocking on a FIFO, at most :data:`MAX_OUTPUTS_BYTES`.
    ``shown`` is the path as messages name it.

    Raises:
        UnsafePathError: the file (or a directory on the way) is a link, not a regular
            file, or not the user's own (exit 2); it is not read.
        SharedOutputsError: it is not shared's ``terraform output -json`` (damaged, or
            too large); the message says to remove it, and what happens then.
    """
    try:
        raw = read_private(path, MAX_OUTPUTS_BYTES)
    except FileNotFoundError:
        return None
    except FileTooLargeError as err:
        raise _damaged(shown, env, str(err)) from None
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as err:
        raise _damaged(shown, env, f"not JSON ({err})") from None
    if not isinstance(doc, dict) or not all(isinstance(v, dict) and "value" in v for v in doc.values()):
        raise _damaged(shown, env, "not a JSON object of outputs, each with its value")
    return doc


def _damaged(shown: str, env: str, why: str) -> SharedOutputsError:
    return SharedOutputsError(
        f"{shown} is not shared's outputs as hclforge kept them: {why}; nothing was planned or applied. "
        f"Remove it: the next 'hclforge plan {env}' reads shared's outputs from its state again"
    )


def split_layout(env: str, cfg: EnvConfig) -> list[RootLayout]:
    """The roots of a split environment: shared first, then each service root in YAML order.

    Returns:
        ``[]`` for an environment with one state (``state.split: none``).
    """
    if not cfg.split:
        return []
    return [RootLayout(env, SHARED), *(RootLayout(env, name, tuple(svcs)) for name, svcs in cfg.split_roots.items())]


# ------------------------------------------------------------------ shared values


@dataclass(frozen=True)
class SharedValue:
    """A value the shared root exposes as an output and service roots take as a variable.

    Attributes:
        name: the output's and the variable's name.
        type: its HCL type constraint, also the shape :func:`input_values` checks.
        description: the variable's and the output's description.
    """

    name: str
    type: str
    description: str


SHARED_VALUES: tuple[SharedValue, ...] = (
    SharedValue("subnet_ids", "list(string)", "Private subnets the tasks run in, once their way out exists."),
    SharedValue("cluster_arn", "string", "ARN of the ECS cluster."),
    SharedValue("cluster_name", "string", "Name of the ECS cluster."),
    SharedValue("execution_role_arn", "string", "ARN of the task execution role."),
    SharedValue("execution_role_name", "string", "Name of the task execution role."),
    SharedValue(
        "security_group_ids",
        "map(string)",
        "Security group of the tasks, by service (a service root takes its own and its callees').",
    ),
    SharedValue("namespace_id", "string", "ID of the Cloud Map private DNS namespace."),
    SharedValue("api_id", "string", "ID of the HTTP API."),
    SharedValue("vpc_link_id", "string", "ID of the API Gateway VPC link."),
    SharedValue("vpc_link_security_group_id", "string", "Security group of the VPC link."),
    SharedValue("authorizer_id", "string", "ID of the JWT authorizer."),
    SharedValue("endpoint_security_group_id", "string", "Security group of the VPC interface endpoints."),
    SharedValue("scheduler_role_arn", "string", "Role EventBridge Scheduler runs the scheduled tasks with."),
)
SHARED_VALUE = {value.name: value for value in SHARED_VALUES}


def shared_value_names(cfg: EnvConfig) -> list[str]:
    """The shared values the shared root of ``cfg`` has, in :data:`SHARED_VALUES` order.

    The authorizer exists whenever ``auth`` is configured (not only while some
    service uses it), so a service turning ``auth: jwt`` on or off changes its own
    root only.
    """
    names = [v.name for v in SHARED_VALUES]
    if cfg.auth is None:
        names.remove("authorizer_id")
    if not cfg.interface_endpoints:
        names.remove("endpoint_security_group_id")
    if not cfg.scheduled_tasks:
        names.remove("scheduler_role_arn")
    return names


def root_inputs(cfg: EnvConfig, services: tuple[str, ...] | list[str]) -> list[SharedValue]:
    """The shared values a service root of ``services`` declares as variables, in :data:`SHARED_VALUES` order."""
    own = [cfg.services[name] for name in services]
    wanted = {"subnet_ids", "cluster_arn", "execution_role_arn", "security_group_ids"}
    if any(reads_secrets(svc) for svc in own):
        wanted.add("execution_role_name")
    if any(svc.autoscaling is not None for svc in own) or cfg.alarms is not None:
        wanted.add("cluster_name")
    if any(svc.port is not None for svc in own):
        wanted.add("namespace_id")
    if any(svc.routes for svc in own):
        wanted |= {"api_id", "vpc_link_id", "vpc_link_security_group_id"}
    if any(svc.routes and svc.auth == "jwt" for svc in own):
        wanted.add("authorizer_id")
    if cfg.interface_endpoints:
        wanted.add("endpoint_security_group_id")
    if any(task.service in services for task in cfg.scheduled_tasks.values()):
        wanted.add("scheduler_role_arn")
    return [value for value in SHARED_VALUES if value.name in wanted]


def split_only_addresses(cfg: EnvConfig, root: RootLayout) -> list[str]:
    """The resources of ``root`` that the one root of the same environment does not have (see :data:`ONE_ROOT_ONLY`)."""
    return [
        f"module.iam.aws_iam_role_policy.execution_{name.replace('-', '_')}"
        for name in root.services
        if reads_secrets(cfg.services[name])
    ]


def reads_secrets(svc: Service) -> bool:
    """Whether the execution role reads secrets (or decrypts them) to start ``svc``'s tasks."""
    return bool(svc.secrets or svc.kms_key_arns or any(car.secrets for car in svc.sidecars.values()))


def security_group_keys(cfg: EnvConfig, services: tuple[str, ...] | list[str]) -> list[str]:
    """The services whose security groups a root of ``services`` names: its own, then those they call."""
    keys = list(services)
    for name in services:
        keys += [callee for callee in cfg.services[name].calls if callee not in keys]
    return keys


def _shaped(value: Any, hcl_type: str) -> bool:
    if hcl_type == "string":
        return isinstance(value, str)
    if hcl_type == "list(string)":
        return isinstance(value, list) and all(isinstance(item, str) for item in value)
    if hcl_type == "map(string)":
        return isinstance(value, dict) and all(isinstance(item, str) for item in value.values())
    raise ValueError(f"no shape check for {hcl_type}")


def input_values(cfg: EnvConfig, root: RootLayout, outputs: Mapping[str, Any]) -> dict[str, Any]:
    """A service root's variable values, from the shared root's ``terraform output -json``.

    Args:
        cfg: the environment.
        root: a service root of it.
        outputs: shared's outputs as ``terraform output -json`` prints them:
            ``{name: {"value": ..., "type": ..., "sensitive": ...}}``.

    Returns:
        ``{variable: value}`` for exactly the root's variables (:func:`root_inputs`);
        ``security_group_ids`` holds only the groups the root names
        (:func:`security_group_keys`), so another service's group never changes this root's inputs.

    Raises:
        SharedOutputsError: an output is missing or of the wrong shape: shared was not
            applied since the environment changed.
    """
    values: dict[str, Any] = {}
    missing = []
    for spec in root_inputs(cfg, root.services):
        entry = outputs.get(spec.name)
        if not isinstance(entry, Mapping) or "value" not in entry:
            missing.append(spec.name)
            continue
        value = entry["value"]
        if not _shaped(value, spec.type):
            raise SharedOutputsError(
                f"shared output {spec.name} is not a {spec.type}; apply the shared root of {root.env} again"
            )
        values[spec.name] = value
    if missing:
        raise SharedOutputsError(
            f"the shared root of {root.env} has no output {', '.join(missing)}, which root {root.name} takes: "
            f"apply shared first (hclforge apply {root.env} applies shared, then the service roots)"
        )
    groups = values["security_group_ids"]
    absent = [key for key in security_group_keys(cfg, root.services) if key not in groups]
    if absent:
        raise SharedOutputsError(
            f"the shared root of {root.env} has no security group of {', '.join(absent)}, which root {root.name} "
            "names: apply shared first"
        )
    values["security_group_ids"] = {key: groups[key] for key in security_group_keys(cfg, root.services)}
    return values


def inputs_text(values: Mapping[str, Any]) -> str:
    """The var file of a service root: JSON, sorted keys, two-space indent, a trailing newline."""
    return json.dumps(dict(values), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
