"""``plan --affected`` and ``apply --affected``: exactly the roots ``hclforge affected`` lists, in its order.

So a developer sees on one machine what CI will do (docs/ci.md): per environment, its
shared root (or its one root, ``.``) first, then its service roots. Roots run one at a
time here: a service root listed ``after: shared`` is planned once shared applied
(``apply``), or with shared's values as last kept (``plan``, which says so).
"""

from __future__ import annotations

from typing import Any

import click

from hclforge.cli import planapply, splitcli
from hclforge.cli.app import App, confirm, interactive, print_summary
from hclforge.cli.shipout import report_applied, wait_after_apply
from hclforge.errors import ChangesPresent, SharedOutputsError


def run_affected(app: App, command: str, *, base: str | None, envs: list[str], **options: Any) -> None:
    """Plan (``command="plan"``) or apply the affected roots of ``envs`` (all when empty) since ``base``."""
    from hclforge.affected import find_affected

    found = find_affected(app.root, base=base, envs=envs)
    for removed in found.removed:
        click.echo(f"{removed.env}/{removed.root}: removed since the base; not planned (docs/ci.md)", err=True)
    if not found.roots:
        click.echo(f"No root is affected since {found.base.name}.")
        return
    changes = False
    for entry in found.roots:
        after = " (after shared)" if entry.after else ""
        click.echo(f"== {entry.env}/{entry.root}{after}: {', '.join(entry.why)}", err=True)
        changes = _one(app, command, entry.env, entry.root, **options) or changes
    if command == "plan" and options.get("detailed_exitcode") and changes:
        raise ChangesPresent("a plan of an affected root has changes")


def _one(app: App, command: str, env: str, root: str, **options: Any) -> bool:
    """One listed root: its plan printed, or its apply done; whether it had changes."""
    emulator, fmt = options.get("emulator", False), options.get("fmt", "table")
    cfg = splitcli.split_config(app, env, root=root)
    try:
        one = None if cfg is None else splitcli.one_root(app, env, cfg, root, None, command, emulator=emulator)
    except SharedOutputsError:
        if command != "plan":
            raise
        click.echo(f"{env}/{root}: planned after shared applies (shared has no values for it yet)")
        return True
    ws = one if one is not None else app.workspace(env, emulator=emulator)
    if command == "plan":
        if ws.layout is not None and not ws.layout.shared and ws.root.var_file and not ws.root.var_file.is_file():
            click.echo(f"{ws.root.label}: planned after shared applies (shared has no values for it yet)")
            return True
        summary = planapply.plan(ws).summary
        print_summary(app, summary, fmt)
        return summary.has_changes

    def confirm_plan(summary: Any) -> bool:
        print_summary(app, summary, "table")
        return confirm(f"Apply these changes to {ws.root.label}?")

    auto_approve = options.get("auto_approve", False)
    summary = planapply.apply(
        ws, auto_approve=auto_approve, interactive=interactive(), confirm=confirm_plan, outputs_too=cfg is not None
    )
    splitcli.keep_if_shared(ws)
    report_applied(ws.root.label, summary)
    wait_after_apply(ws, summary, wait=not options.get("no_wait", False))
    return summary.has_changes
