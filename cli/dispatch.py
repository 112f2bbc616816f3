"""Where a ``plan`` or ``apply`` of ENV goes: ``--affected``, a split environment's roots, or its one root.

Called by the click commands of :mod:`~hclforge.cli.cmd_terraform`, which only parse.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hclforge.cli.app import App, print_summary
from hclforge.errors import ChangesPresent


def plan_one(
    app: App, env: str, fmt: str, detailed_exitcode: bool, json_out: Path | None, where: Any, **options: Any
) -> None:
    """``plan`` of one environment: a split one's roots (:mod:`~hclforge.cli.splitcli`), or its one root."""
    from hclforge.cli import batch, splitcli

    emulator, allow_replace, baseline = options["emulator"], options["allow_replace"], options.pop("baseline")
    cfg = splitcli.split_config(app, env, root=where[0], service=where[1])
    if cfg is not None:
        splitcli.refuse_baseline(env, baseline)
        return splitcli.plan_cmd(app, env, cfg, fmt, detailed_exitcode, json_out, where, **options)
    ws = app.workspace(env, emulator=emulator, allow_replace=allow_replace)
    if baseline is not None:
        from hclforge.cli.baseline import apply_baseline

        apply_baseline(ws, baseline)
    result = batch.plan_env(ws, json_out)
    print_summary(app, result.summary, fmt)
    if detailed_exitcode and result.summary.has_changes:
        raise ChangesPresent("the plan has changes")


def apply_elsewhere(app: App, env: str, where: Any, affected: tuple[bool, str | None], **flags: Any) -> bool:
    """``apply --affected`` (the listed roots), or a split environment's apply; False for one state."""
    from hclforge.cli import splitcli

    root_path, service, jobs = where
    if affected[0]:
        from hclforge.cli.affectedrun import run_affected

        flags.pop("allow_replace")
        run_affected(app, "apply", base=affected[1], envs=[env], **flags)
        return True
    cfg = splitcli.split_config(app, env, root=root_path, service=service)
    if cfg is None:
        return False
    wait = not flags.pop("no_wait")
    splitcli.apply_cmd(app, env, cfg, root=root_path, service=service, wait=wait, jobs=jobs, **flags)
    return True
