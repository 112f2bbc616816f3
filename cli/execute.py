"""``hclforge exec``: ECS Exec into a running task of a service.

The shell itself is the AWS CLI's ``aws ecs execute-command`` with the Session
Manager plugin: hclforge finds the task and builds the command line. When either
tool is missing, the exact command is printed with what to install, instead of a
half-working session.
"""

from __future__ import annotations

import shlex
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hclforge.cli.emulator import environ as emulator_environ
from hclforge.errors import UsageError
from hclforge.model import EnvConfig

if TYPE_CHECKING:
    from hclforge.cli.ops import Workspace

SESSION_MANAGER_PLUGIN = "session-manager-plugin"


@dataclass(frozen=True)
class ExecPlan:
    """The command that opens the session, and what is missing to run it."""

    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    # On the emulator: the whole, scrubbed environment of the AWS CLI (fake keys, no profile,
    # no AWS_* of the user's), never added to the user's own.
    scrubbed: dict[str, str] | None = None

    def process_env(self, base: Mapping[str, str]) -> dict[str, str]:
        """The environment the AWS CLI runs with, from the user's ``base``."""
        return dict(self.scrubbed) if self.scrubbed is not None else {**base, **self.env}

    @property
    def command_line(self) -> str:
        prefix = " ".join(f"{k}={shlex.quote(v)}" for k, v in sorted(self.env.items()))
        return (prefix + " " if prefix else "") + shlex.join(self.argv)


def check_exec_enabled(cfg: EnvConfig, service: str) -> None:
    """Refuse a service that does not exist or has ECS Exec off, before anything talks to AWS.

    Raises:
        UsageError: which, and what to change.
    """
    svc = cfg.services.get(service)
    if svc is None:
        raise UsageError(f"no service '{service}' in {cfg.environment} (services: {', '.join(cfg.services)})")
    if not svc.exec:
        raise UsageError(
            f"ECS Exec is off for {service}: set services.{service}.exec: true, then apply "
            "(new tasks get the SSM agent's channels; running ones do not)"
        )


def exec_plan(cfg: EnvConfig, ecs: Any, service: str, command: list[str], *, endpoint: str | None = None) -> ExecPlan:
    """Find a running task of ``service`` and build the ``aws ecs execute-command`` line.

    Args:
        cfg: the environment.
        ecs: a boto3 ECS client for the environment's account and region.
        service: the service to exec into (``exec: true`` in the YAML).
        command: the command to run; default an interactive ``/bin/sh``.
        endpoint: the emulator's endpoint, passed to the AWS CLI.

    Raises:
        UsageError: no such service, ECS Exec not enabled for it, or no task running.
    """
    check_exec_enabled(cfg, service)
    tasks = ecs.list_tasks(cluster=cfg.cluster_name, serviceName=service, desiredStatus="RUNNING").get("taskArns", [])
    if not tasks:
        on_emulator = " (the emulator runs no containers: exec works only on AWS)" if endpoint is not None else ""
        raise UsageError(f"no running task of {service} in cluster {cfg.cluster_name}{on_emulator}")
    argv = [
        "aws",
        "ecs",
        "execute-command",
        "--region",
        cfg.aws.region,
        "--cluster",
        cfg.cluster_name,
        "--task",
        sorted(tasks)[0],
        "--container",
        service,
        "--interactive",
        "--command",
        shlex.join(command or ["/bin/sh"]),
    ]
    env: dict[str, str] = {}
    scrubbed = None
    if endpoint is not None:
        argv[3:3] = ["--endpoint-url", endpoint]
        scrubbed = emulator_environ(endpoint, cfg.aws.region)
    elif cfg.aws.profile is not None:
        env["AWS_PROFILE"] = cfg.aws.profile
    missing = [
        f"{tool} ({hint})"
        for tool, hint in (
            ("aws", "the AWS CLI v2: https://docs.aws.amazon.com/cli/latest/userguide/getting-started-install.html"),
            (
                SESSION_MANAGER_PLUGIN,
                "https://docs.aws.amazon.com/systems-manager/latest/userguide/session-manager-working-with-install-plugin.html",
            ),
        )
        if shutil.which(tool) is None
    ]
    return ExecPlan(argv, env, missing, scrubbed)


def exec_plan_for(ws: Workspace, service: str, command: list[str]) -> ExecPlan:
    """:func:`exec_plan` for a workspace: its config, its ECS client, the emulator's endpoint on the emulator."""
    check_exec_enabled(ws.loaded.config, service)
    endpoint = ws.emulator().endpoint if ws.on_emulator else None
    return exec_plan(ws.loaded.config, ws.aws_client("ecs"), service, command, endpoint=endpoint)
