"""What a deploy or an apply shipped, printed: the rollout progress, what was applied, what rolled out.

Shared by ``deploy``, ``apply`` and a split environment's runs (:mod:`~hclforge.cli.splitcli`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from hclforge.cli import deploy as lib


def progress_sink() -> Any:
    """A rollout progress sink for one command: plain lines on stderr, a service's only when it changed."""
    from hclforge.cli import deploy as lib

    return lib.progress_printer(lambda line: click.echo(line, err=True))


def report_deployed(env: str, done: lib.Deployed) -> None:
    """What deploy / apply did, after the wait."""
    t = done.summary.totals
    if done.summary.has_changes:
        click.echo(
            f"applied {env}: {t['create']} created, {t['update']} updated, "
            f"{t['replace']} replaced, {t['delete']} deleted"
        )
    if done.waited:
        click.echo(f"rolled out: {', '.join(done.services) or 'no ECS service changed'}")
    elif done.services:
        click.echo(f"not waiting (--no-wait) for: {', '.join(done.services)}")


def wait_after_apply(ws: Any, summary: Any, *, wait: bool, timeout: str = "15m") -> None:
    """``apply``'s wait: the rollouts of the services the applied plan changed (exit 1 on failure)."""
    from hclforge.cli import deploy as lib
    from hclforge.cli.durations import seconds

    done = lib.wait_applied(ws, summary, wait=wait, timeout=seconds(timeout), on_progress=progress_sink())
    if done.waited:
        click.echo(f"rolled out: {', '.join(done.services) or 'no ECS service changed'}")


def report_applied(label: str, summary: Any) -> None:
    """``applied ENV: N created, ...`` after an apply with changes (``label``: the environment or the root)."""
    if summary.has_changes:
        t = summary.totals
        click.echo(
            f"applied {label}: {t['create']} created, {t['update']} updated, "
            f"{t['replace']} replaced, {t['delete']} deleted"
        )
