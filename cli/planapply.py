"""Plan, apply and destroy of one root (a :class:`~hclforge.cli.ops.Workspace`): the commands that change things.

A plan is bound to what was reviewed (:mod:`~hclforge.cli.binding`) and refused when
it would destroy what a protected environment keeps (:mod:`hclforge.protect`);
apply and destroy run terraform detached (:mod:`~hclforge.cli.runs`). These functions
sit above the workspace and take it; nothing below imports them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from hclforge import protect
from hclforge.cli import binding, runs
from hclforge.cli.ops import Workspace
from hclforge.cli.private import private_dir, write_private
from hclforge.cli.summary import Summary, rollout_services, summarize_events
from hclforge.cli.tfoutput import destroyed_count, without_targeting_warnings
from hclforge.cli.workcopy import protected_addresses
from hclforge.errors import PlanRefused, TerraformError, UsageError

if TYPE_CHECKING:
    from hclforge.cli.root import Root
    from hclforge.routes import PathReport

Confirm = Callable[[str], bool]
ConfirmPlan = Callable[[Summary], bool]


@dataclass(frozen=True)
class PlanResult:
    """A saved plan and its summary."""

    plan_file: Path
    summary: Summary


def plan(ws: Workspace, *, targets: list[str] | None = None) -> PlanResult:
    """Render if stale, init if needed, ``plan -out``; save the plan, its summary and metadata.

    What the plan is bound to in the project (YAML, tree, provider lock, target)
    is read *before* terraform plans, so a change made while it plans makes the
    saved plan stale, never silently part of it. The state's lineage and serial are
    the ones terraform planned against, read from the saved plan: terraform reads
    the state in one snapshot. The plan file's own SHA-256 and the environment's
    name are recorded beside it.

    The summary, and the services the plan rolls out, come from the ``-json``
    event stream. (``--json-out`` writes the plan's ``show -json``; nothing else
    needs it, and it costs as much CPU as a small plan.)

    Raises:
        PlanRefused: a protected environment's plan deletes or replaces a
            protected resource.
        StateLocked: another hclforge command is planning or applying the environment.
    """
    with ws.holding("plan"):
        return _plan(ws, targets=targets)


def _plan(ws: Workspace, *, targets: list[str] | None) -> PlanResult:
    ws.check_account()
    runs.settle_interrupted_run(ws.root, ws.info)
    ws.init()
    root = ws.root
    private_dir(root.files_dir)
    root.plan_meta_file.unlink(missing_ok=True)
    root.plan_file.unlink(missing_ok=True)  # a failed plan's removed blocks are read from the one it writes, if any
    tf = ws.runner()
    bound = binding.freshness(root, ws.loaded.sources, ws.on_emulator)
    guarded = ws.loaded.config.protect and not ws.allow_replace
    # The plan is bound to the state terraform planned against, which the saved plan holds.
    # A protected environment's resources whose blocks are gone come from there too (the
    # state as stored, `tfstate-prev`), even of a plan terraform stopped: reading the state
    # first cost a `terraform state pull` per root on S3, about half a CPU-second (make bench).
    try:
        with ws.streaming(f"Planning {ws.root.label}", None, progress=False) as events:
            if targets and events and tf.sink is not None:  # hclforge chose -target; deploy says why, once
                tf.sink = without_targeting_warnings(tf.sink)
            # A plan of a part (deploy --service) reads no resource back: with -target,
            # terraform would also refresh everything the targets reach through module
            # outputs (every service's role, at 40 services most of the state). It plans
            # from the state as the last apply left it, as ecspresso and Copilot deploy;
            # the full plan (the default) shows any drift.
            with runs.recorded(root, "plan") as detached:
                tf.plan(root.plan_file, events=True, targets=targets, refresh=not targets, detached=detached)
    except BaseException as err:
        blocked = sorted(set(re.findall(r"Resource (\S+) has lifecycle\.prevent_destroy set", str(err))))
        removed = _removed_blocks(root) if guarded and isinstance(err, TerraformError) and blocked else []
        # terraform writes the plan of a failed or stopped run too (one it will not apply): none is kept.
        root.plan_file.unlink(missing_ok=True)
        if isinstance(err, TerraformError) and blocked:
            raise refuse_protected(ws, sorted({*blocked, *removed})) from None
        raise
    if guarded:
        blocked = sorted({*protect.refused(protect.changes_of_events(tf.last_events)), *_removed_blocks(root)})
        if blocked:
            root.plan_file.unlink(missing_ok=True)
            raise refuse_protected(ws, blocked)
    planned_state = binding.plan_state(root.plan_file)
    summary = summarize_events(ws.env, tf.last_events, ws.loaded.config.services)
    meta = {
        **bound,
        "state": planned_state,
        "plan_sha256": binding.sha256_file(root.plan_file),
        # A plan of a part (deploy --service): only a deploy of that part may apply it.
        "targets": sorted(targets or []),
        "terraform": binding.plan_terraform_version(root.plan_file),
        "created": time.time(),
        "summary": summary.to_json(),
        # What apply (in another process) waits for: services whose task definition or service changes.
        "rollout": rollout_services(tf.last_events, ws.loaded.config.services),
    }
    write_private(root.plan_meta_file, json.dumps(meta, indent=2))
    return PlanResult(root.plan_file, summary)


def _removed_blocks(root: Root) -> list[str]:
    """Protected resources of the plan's prior state whose blocks are gone: deleted, with no prevent_destroy left."""
    return protect.removed_blocks(binding.plan_prior_state(root.plan_file), protected_addresses(root.tree_dir))


def refuse_protected(ws: Workspace, addresses: list[str]) -> PlanRefused:
    listed = "\n".join(f"  ! {a}" for a in addresses)
    return PlanRefused(
        f"{ws.env} is protected (protect: true) and the plan would destroy or replace:\n{listed}\n"
        f"nothing was changed; to allow it once: hclforge apply {ws.env} --allow-replace"
    )


def apply(
    ws: Workspace,
    *,
    auto_approve: bool,
    interactive: bool,
    confirm: ConfirmPlan,
    targets: list[str] | None = None,
    outputs_too: bool = False,
    checked: bool = False,
) -> Summary:
    """Apply the saved plan when it is fresh; otherwise plan again and ask.

    ``outputs_too``: a plan that changes only outputs is applied too (a split
    environment's shared root, whose outputs the service roots take). ``checked``:
    this command made the saved plan or found it fresh (a split run), so terraform's
    version and the state are not read again (:meth:`Workspace.saved_plan_problem`).

    Raises:
        UsageError: confirmation is needed but there is no terminal to ask on.
        PlanRefused: the saved plan is stale and there is no terminal to re-plan
            and confirm on, or the user said no.
        StateLocked: another hclforge command is planning or applying the environment.
    """
    if not auto_approve and not interactive:
        raise UsageError(
            f"apply needs confirmation and there is no terminal: run 'hclforge apply {ws.env} --auto-approve' "
            f"(make apply ENV={ws.env} AUTO_APPROVE=1) to apply without asking"
        )
    with ws.holding("apply"):
        return _apply(
            ws,
            auto_approve=auto_approve,
            interactive=interactive,
            confirm=confirm,
            targets=targets,
            outputs=outputs_too,
            checked=checked,
        )


def _apply(
    ws: Workspace,
    *,
    auto_approve: bool,
    interactive: bool,
    confirm: ConfirmPlan,
    targets: list[str] | None,
    outputs: bool = False,
    checked: bool = False,
) -> Summary:
    ws.check_account()
    runs.settle_interrupted_run(ws.root, ws.info)
    ws.render()
    ws.prepare_workdir()
    root = ws.root
    problem = ws.saved_plan_problem(targets=targets, checked=checked)
    if problem is None:
        summary = ws.load_saved_summary()
        ws.info(f"applying the saved plan {root.rel(root.plan_file)}")
    else:
        if problem != binding.NO_SAVED_PLAN:
            if auto_approve and not interactive:
                raise PlanRefused(f"the saved plan is stale: {problem}; run 'hclforge plan {ws.env}' again")
            ws.info(f"the saved plan is stale: {problem}; planning again")
        summary = plan(ws, targets=targets).summary
    if not summary.has_changes and not (outputs and summary.output_changes):
        ws.info("no changes to apply")
        ws.discard_plan()
        return summary
    if not auto_approve and not confirm(summary):
        raise PlanRefused("apply cancelled; nothing was changed")
    t = summary.totals
    # A replacement finishes twice in the event stream: its destroy and its create.
    steps = t["create"] + t["update"] + t["delete"] + 2 * t["replace"]
    # terraform applies a private copy whose bytes are the ones checked: the saved
    # file cannot be swapped between the check and the apply.
    meta = binding.saved_meta(root)
    ws.applied_meta = meta
    applying = root.files_dir / f"applying.{os.getpid()}.tfplan"
    shutil.copyfile(root.plan_file, applying)
    os.chmod(applying, 0o600)
    if binding.sha256_file(applying) != meta.get("plan_sha256"):
        applying.unlink(missing_ok=True)
        raise PlanRefused(f"the plan file {root.rel(root.plan_file)} changed while being applied; nothing was")
    try:
        with ws.streaming(f"Applying {ws.root.label}", steps) as events:
            tf = ws.runner()
            if targets and events and tf.sink is not None:
                tf.sink = without_targeting_warnings(tf.sink)
            runs.run_detached(root, tf, "apply", meta.get("plan_sha256"), events, applying)
    finally:
        applying.unlink(missing_ok=True)
    ws.discard_plan()
    return summary


def check_destroy(
    env: str,
    protect: bool,
    *,
    auto_approve: bool,
    interactive: bool,
    force: bool,
    typed_name: Callable[[], str] | None,
    yes_i_mean: bool,
) -> None:
    """``destroy``'s rules before anything runs, for one root or every root of a split environment.

    A protected environment needs ``force``, then its name typed (or ``yes_i_mean``
    without a terminal); any other needs ``auto_approve`` without a terminal (it is
    asked for on one, after init).
    """
    if protect:
        if not force:
            raise UsageError(
                f"{env} is protected (protect: true): destroy needs --force, then the environment name "
                f"typed (or --force --yes-i-mean-{env} without a terminal)"
            )
        if not yes_i_mean:
            if not interactive or typed_name is None:
                raise UsageError(f"no terminal to type the name on: add --yes-i-mean-{env} to destroy {env}")
            if typed_name() != env:
                raise PlanRefused("the name typed does not match; nothing was destroyed")
    elif not auto_approve and not interactive:
        raise UsageError(
            f"destroy needs confirmation and there is no terminal: run 'hclforge destroy {env} --auto-approve'"
        )


def destroy(
    ws: Workspace,
    *,
    auto_approve: bool,
    interactive: bool,
    confirm: Confirm,
    force: bool = False,
    typed_name: Callable[[], str] | None = None,
    yes_i_mean: bool = False,
) -> int | None:
    """Destroy the environment's resources, after confirmation.

    A protected environment (protect: true) needs ``force`` and then the
    environment's name typed, or ``yes_i_mean`` (``--yes-i-mean-ENV``) without a
    terminal; its ``prevent_destroy`` is lifted on a copy of the tree.

    Returns:
        How many resources terraform destroyed (data sources, only read, are not
        counted); None when its output does not say.
    """
    check_destroy(
        ws.env,
        ws.loaded.config.protect,
        auto_approve=auto_approve,
        interactive=interactive,
        force=force,
        typed_name=typed_name,
        yes_i_mean=yes_i_mean,
    )
    if ws.loaded.config.protect:
        ws.lift_protection()
    with ws.holding("destroy"):
        ws.check_account()
        runs.settle_interrupted_run(ws.root, ws.info)
        ws.init()
        if not ws.loaded.config.protect and not auto_approve and not confirm(f"Destroy every resource of {ws.env}?"):
            raise PlanRefused("destroy cancelled; nothing was changed")
        with ws.streaming(f"Destroying {ws.root.label}", None) as events:
            result = runs.run_detached(ws.root, ws.runner(), "destroy", None, events)
        ws.discard_plan()
    return destroyed_count(result.stdout)


def routes(ws: Workspace) -> PathReport:
    """Plan, then follow every route and ``calls`` edge through the plan's JSON."""
    from hclforge.routes import check_paths

    result = plan(ws)
    return check_paths(ws.env, ws.loaded.config, ws.runner().show_json(result.plan_file))
