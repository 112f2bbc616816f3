"""Day-two operations: deploy (and apply's wait), status, logs, run (set-image: :mod:`cli.setimage`).

Library functions over a :class:`~hclforge.cli.ops.Workspace` and plain arguments:
they return data or yield lines and raise typed errors (``hclforge.errors``); the
click commands in :mod:`cli.cmd_deploy` only parse, call and print.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from hclforge.cli import planapply
from hclforge.cli.awsapi import known_service
from hclforge.cli.rollout import ServiceProgress, format_progress, wait_for_rollouts
from hclforge.cli.summary import ROLLOUT_TYPES, Summary, rollout_services
from hclforge.errors import (
    Interrupted,
    PlanRefused,
    UsageError,
)
from hclforge.hcl import ident
from hclforge.shims import EMULATOR_READ_SHIMS

ECS_MODULE = "module.ecs"
ProgressSink = Callable[[list[ServiceProgress]], None]
# The wait ignores the applied task definition on the emulator (see hclforge/shims.py).
assert "rollout_ignores_task_definition" in EMULATOR_READ_SHIMS


# ------------------------------------------------------------------ deploy / apply


def service_targets(cfg: Any, services: Sequence[str]) -> list[str]:
    """The ``-target`` addresses of ``services``: their ECS service and task definition (dependencies follow)."""
    return [f"{ECS_MODULE}.{kind}.{ident(known_service(cfg, s))}" for s in services for kind in ROLLOUT_TYPES]


def applied_services(ws: Any, summary: Summary) -> list[str]:
    """The services the plan just applied by ``ws`` rolls out.

    From the plan's event stream when this process planned it; otherwise from the
    saved plan's metadata (``rollout``, recorded when it was planned); failing both,
    every service with a change in the ecs module of ``summary``.
    """
    services = list(ws.loaded.config.services)
    events = ws.runner().last_events
    if any(e.get("type") == "planned_change" for e in events):
        return rollout_services(events, services)
    recorded = ws.applied_meta.get("rollout")
    if isinstance(recorded, list):
        return [s for s in recorded if s in services]
    return [r.service for r in summary.rows if r.module == "ecs" and r.service in services and r.total]


def expected_task_definitions(ws: Any, services: Sequence[str]) -> dict[str, str] | None:
    """service -> the task definition ARN in the state after apply; None on the emulator.

    On the emulator the waiter must not compare task definitions
    (``EMULATOR_READ_SHIMS["rollout_ignores_task_definition"]``).
    """
    if ws.on_emulator:
        return None
    wanted = {str(ident(s)): s for s in services}
    found: dict[str, str] = {}
    state = ws.runner().show_json()
    modules = [state.get("values", {}).get("root_module", {})]
    while modules:
        module = modules.pop()
        modules += module.get("child_modules", [])
        for res in module.get("resources", []):
            if res.get("type") == "aws_ecs_service" and res.get("name") in wanted:
                arn = res.get("values", {}).get("task_definition")
                if arn:
                    found[wanted[res["name"]]] = str(arn)
    return found


def wait_services(
    ws: Any,
    services: Sequence[str],
    *,
    timeout: float,
    since: datetime | None,
    on_progress: ProgressSink | None = None,
    poll: float = 6.0,
) -> list[ServiceProgress]:
    """Wait for ``services``' rollouts (RolloutFailed / RolloutTimeout, exit 1)."""
    if not services:
        return []
    show = on_progress
    if on_progress is not None and ws.on_emulator:

        def show(progress: list[ServiceProgress]) -> None:
            # The emulator's running count is the one it was started with (hclforge/shims.py), not tasks.
            on_progress([replace(p, emulated=True) for p in progress])

    return wait_for_rollouts(
        ws.aws_client("ecs"),
        ws.loaded.config.cluster_name,
        services,
        timeout=timeout,
        poll=poll,
        on_progress=show,
        expected_task_definitions=expected_task_definitions(ws, services),
        events_since=since,
    )


def progress_printer(echo: Callable[[str], None]) -> ProgressSink:
    """An ``on_progress`` that prints each service's line only when it changed since the last poll.

    A 15-minute wait polls 150 times: unchanged counts are not repeated; new events always print.
    """
    last: dict[str, str] = {}

    def show(progress: list[ServiceProgress]) -> None:
        for p, line in zip(progress, _status_lines(progress), strict=True):
            for event_line in line[:-1]:
                echo(event_line)
            if last.get(p.service) != line[-1]:
                last[p.service] = line[-1]
                echo(line[-1])

    return show


def _status_lines(progress: list[ServiceProgress]) -> list[list[str]]:
    """:func:`format_progress`'s lines, grouped per service (its event lines, then its status line)."""
    lines = iter(format_progress(progress))
    grouped: list[list[str]] = []
    for p in progress:
        count = max(len(p.new_events) - 1, 0) + 1
        grouped.append([next(lines) for _ in range(count)])
    return grouped


@dataclass
class Deployed:
    """What ``deploy`` / ``apply`` did: the applied summary and the services it waited for."""

    summary: Summary
    services: list[str] = field(default_factory=list)
    progress: list[ServiceProgress] = field(default_factory=list)
    waited: bool = False


def deploy(
    ws: Any,
    *,
    services: Sequence[str] = (),
    auto_approve: bool,
    interactive: bool,
    confirm: Callable[[Summary], bool],
    wait: bool = True,
    timeout: float = 900.0,
    on_progress: ProgressSink | None = None,
    poll: float = 6.0,
) -> Deployed:
    """Plan (only ``services``' resources when given), apply with ``apply``'s confirmation rules, wait.

    Its plan and apply are one hold of the environment's command lock (:mod:`cli.envlock`):
    another deploy, plan or apply cannot plan or apply in between. The wait is not under it.

    Raises:
        UsageError: unknown service, or confirmation needed without a terminal (before planning).
        StateLocked: another hclforge command is planning or applying the environment (exit 1).
        RolloutFailed, RolloutTimeout: the wait (exit 1).
    """
    cfg = ws.loaded.config
    # A root of a split environment (ws.layout) is planned whole, with a refresh: it holds
    # only its services. One state is planned for the part (-target), from the state.
    targets = service_targets(cfg, services) if services and ws.layout is None else None
    if not auto_approve and not interactive:
        raise UsageError(
            f"deploy needs confirmation and there is no terminal: run 'hclforge deploy {ws.env} --auto-approve'"
        )
    if targets:
        ws.info(targeting_note(ws.env, services))
    with ws.holding("deploy"):
        planapply.plan(ws, targets=targets)
        started = datetime.now(UTC)
        try:
            summary = planapply.apply(
                ws, auto_approve=auto_approve, interactive=interactive, confirm=confirm, targets=targets
            )
        except PlanRefused:
            if targets:  # a targeted plan left saved would be applied, partial, by a later 'hclforge apply'
                ws.discard_plan()
            raise
    return wait_applied(ws, summary, wait=wait, timeout=timeout, since=started, on_progress=on_progress, poll=poll)


def targeting_note(env: str, services: Sequence[str]) -> str:
    """The one line that says why deploy --service targets (in place of terraform's warnings about -target)."""
    names = ", ".join(services)
    return (
        f"deploy --service {names}: only the ECS service and task definition of {names}, and what they "
        f"depend on, are planned and applied (terraform -target); 'hclforge plan {env}' shows any other change"
    )


def wait_applied(
    ws: Any,
    summary: Summary,
    *,
    wait: bool = True,
    timeout: float = 900.0,
    since: datetime | None = None,
    on_progress: ProgressSink | None = None,
    poll: float = 6.0,
) -> Deployed:
    """After ``planapply.apply`` returned ``summary``: wait for the services it rolled out (none without changes)."""
    if not summary.has_changes:
        return Deployed(summary)
    services = applied_services(ws, summary)
    if not wait:
        return Deployed(summary, services)
    try:
        progress = wait_services(ws, services, timeout=timeout, since=since, on_progress=on_progress, poll=poll)
    except KeyboardInterrupt as stop:  # Ctrl-C, or SIGTERM/SIGHUP raised like it (cli/main.py)
        raise stopped_waiting(ws.env, summary, services, stop) from None
    return Deployed(summary, services, progress, waited=True)


def stopped_waiting(env: str, summary: Summary, services: Sequence[str], stop: KeyboardInterrupt) -> Interrupted:
    """The error for a wait stopped by a signal: the apply is done, the rollouts go on without a watcher."""
    from hclforge.cli.tfprocess import SignalInterrupt

    signum = stop.signum if isinstance(stop, SignalInterrupt) else signal.SIGINT
    t = summary.totals
    return Interrupted(
        f"interrupted ({signal.Signals(signum).name}) while waiting for the rollouts of {', '.join(services)}: "
        f"the apply of {env} had finished ({t['create']} created, {t['update']} updated, {t['replace']} replaced, "
        f"{t['delete']} deleted), and ECS goes on rolling out; see 'hclforge status {env}'",
        signum=int(signum),
    )


from hclforge.cli.oneoff import log_lines as log_lines, run_one as run_one  # noqa: E402, I001
from hclforge.cli.status import alarms_in_alarm as alarms_in_alarm  # noqa: E402
from hclforge.cli.status import schedule_status as schedule_status  # noqa: E402
from hclforge.cli.status import service_status as service_status  # noqa: E402
from hclforge.cli.status import status as status  # noqa: E402
from hclforge.cli.status import status_lines as status_lines  # noqa: E402
