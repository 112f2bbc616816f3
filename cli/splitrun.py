"""A split environment's roots, run in order: shared first, then the service roots in parallel.

An environment with ``state.split: service`` is one ``shared`` root and one root per
service or group (:mod:`hclforge.roots`), each with its own state and lock. This
module runs them as one environment (DESIGN §10):

- ``plan``: shared, then every service root in parallel (``jobs``). A service root
  takes shared's values as literal inputs: a var file written from shared's outputs
  as they were kept after shared last applied (:func:`write_inputs`). Where shared's
  plan changes an output a service root takes, that root is marked to be planned
  again after shared applies.
- ``apply``: the same plans (fresh saved plans are reused), one confirmation, then
  shared; its outputs are kept; the service roots whose inputs changed are planned
  again and, with the others, applied in parallel.
- ``destroy``: the service roots in parallel, then shared. ``drift``: shared, then the rest.

Each root is a :class:`~hclforge.cli.ops.Workspace` of its own (the caller's factory
makes it), so each holds its own command lock and state lock: two deploys of
services in different roots never wait on each other. A run of the whole
environment holds every root's lock from its first plan to its last apply, and
stops every root at once on a signal (:mod:`~hclforge.cli.rootruns`). Nothing here
prints: progress goes to the ``info`` callback, results are returned.
"""

from __future__ import annotations

from collections.abc import Callable

from hclforge.cli import planapply, runs
from hclforge.cli.binding import resource_count
from hclforge.cli.ops import Workspace
from hclforge.cli.rootruns import RootRun as RootRun
from hclforge.cli.rootruns import SplitRun as SplitRun
from hclforge.cli.rootruns import default_jobs as default_jobs
from hclforge.cli.rootruns import each_root, holding
from hclforge.cli.sharedvalues import (
    MakeWorkspace,
    current_outputs,
    ensure_inputs,
    keep_outputs,
    kept_outputs,
    outputs_path,
    read_outputs,
    write_inputs,
)
from hclforge.cli.summary import Drift, Summary
from hclforge.errors import PlanRefused, SharedOutputsError, UsageError, printable
from hclforge.model import EnvConfig
from hclforge.roots import RootLayout, root_inputs, split_layout


def layouts(env: str, cfg: EnvConfig) -> list[RootLayout]:
    """The environment's roots, shared first (:func:`~hclforge.roots.split_layout`)."""
    return split_layout(env, cfg)


def select(env: str, cfg: EnvConfig, *, root: str | None = None, service: str | None = None) -> RootLayout:
    """The one root ``--root ROOT`` or ``--service S`` names.

    Raises:
        UsageError: no such root or service (exit 2), with the ones there are; both given.
    """
    found = layouts(env, cfg)
    if service is not None and root is not None:
        raise UsageError(f"--root and --service each name one root of {env}: give one of them, not both")
    if service is not None:
        if service not in cfg.services:
            raise UsageError(f"{env} has no service {printable(service)}; services: {', '.join(cfg.services)}")
        name = cfg.root_of(service)
        return next(layout for layout in found if not layout.shared and layout.name == name)
    for layout in found:
        if layout.path == root:
            return layout
    roots = ", ".join(layout.path for layout in found)
    raise UsageError(f"{env} has no root {printable(str(root))}; its roots: {roots}")


# ------------------------------------------------------------------ plan, apply


def _plan_root(ws: Workspace, *, reuse: bool) -> Summary:
    if reuse:
        # An apply (or plan) an earlier hclforge left running is waited for first: until
        # it ends, the state has not moved and its spent plan would look fresh.
        runs.settle_interrupted_run(ws.root, ws.info)
        ws.init()
        if ws.saved_plan_problem() is None:
            return ws.load_saved_summary()
    return planapply.plan(ws).summary


def runs_of(make: MakeWorkspace, env: str, cfg: EnvConfig) -> SplitRun:
    """A run of every root of the environment, shared first, each with its workspace; the environment rendered
    if stale, once for them all.

    The render check digests every file of ``modules/<env>/``: done by each root, a
    run of 200 roots would read the tree 200 times (about 40 CPU-seconds, ``make bench``).
    """
    run = SplitRun(env, [RootRun(layout, workspace=make(layout)) for layout in layouts(env, cfg)])
    assert run.shared.workspace is not None
    run.shared.workspace.render()
    for root in run.roots:
        assert root.workspace is not None
        root.workspace.render_checked = True
    return run


def plan(make: MakeWorkspace, env: str, cfg: EnvConfig, *, jobs: int) -> SplitRun:
    """Plan shared, then every service root in parallel, holding every root's lock (:func:`holding`).

    Args:
        make: makes each root's workspace.
        env: the environment.
        cfg: its configuration.
        jobs: service roots planned at once.

    Raises:
        HclforgeError: shared's plan failed (nothing else is planned). A service
            root's failure is kept on its :class:`RootRun`.
    """
    run = runs_of(make, env, cfg)
    with holding(run, "plan"):
        _plan(run, cfg, jobs=jobs, reuse=False)
    return run


def _plan(run: SplitRun, cfg: EnvConfig, *, jobs: int, reuse: bool) -> None:
    """Plan the roots of ``run``; ``reuse``: a root whose saved plan is still fresh is not planned again (apply)."""
    env = run.env
    shared = run.shared
    assert shared.workspace is not None
    shared.summary = _plan_root(shared.workspace, reuse=reuse)
    shared.workspace.info(f"{env}/shared: {_line(shared.summary)}")
    outputs = current_outputs(shared.workspace)
    if outputs is None and resource_count(shared.workspace.state_doc()):
        outputs = read_outputs(shared.workspace)  # applied on another machine (a CI runner): read once
    changed = {name for name in shared.summary.output_changes}
    for svc in run.services:
        assert svc.workspace is not None
        if outputs is None:
            svc.waiting = "shared has not been applied yet"
            continue
        try:
            write_inputs(svc.workspace, outputs)
        except SharedOutputsError:
            svc.waiting = "it needs a value shared has not applied yet"
            continue
        svc.after_shared = bool(changed & {v.name for v in root_inputs(cfg, svc.layout.services)})

    def plan_one(svc: RootRun) -> None:
        assert svc.workspace is not None
        svc.summary = _plan_root(svc.workspace, reuse=reuse)
        svc.workspace.info(f"{env}/{svc.name}: {_line(svc.summary)}")

    each_root(jobs, [svc for svc in run.services if not svc.waiting], plan_one)


def _line(summary: Summary) -> str:
    t = summary.totals
    if not summary.has_changes:
        return "no changes" + (" (outputs change)" if summary.output_changes else "")
    return f"{t['create']} to create, {t['update']} to update, {t['replace']} to replace, {t['delete']} to delete"


def apply(
    make: MakeWorkspace,
    env: str,
    cfg: EnvConfig,
    *,
    jobs: int,
    auto_approve: bool,
    interactive: bool,
    confirm: Callable[[SplitRun], bool],
) -> SplitRun:
    """Plan (reusing fresh saved plans), confirm once, apply shared, keep its outputs, then the service roots.

    A service root whose inputs changed when shared applied (or that waited for
    shared) is planned again with the new values and applied in the same command.

    Raises:
        UsageError: confirmation is needed and there is no terminal.
        PlanRefused: the user said no, or a root failed to plan (nothing was applied).
    """
    if not auto_approve and not interactive:
        raise UsageError(
            f"apply needs confirmation and there is no terminal: run 'hclforge apply {env} --auto-approve' "
            f"(make apply ENV={env} AUTO_APPROVE=1) to apply without asking"
        )
    run = runs_of(make, env, cfg)
    with holding(run, "apply"):
        _plan(run, cfg, jobs=jobs, reuse=True)
        if run.failed:
            return run
        if not run.has_changes:
            for root in run.roots:
                if root.workspace is not None:
                    root.workspace.discard_plan()
            return run
        if not auto_approve and not confirm(run):
            raise PlanRefused("apply cancelled; nothing was changed")
        _apply(run, jobs=jobs, confirm=None if auto_approve else confirm)
    return run


def _yes(_summary: Summary) -> bool:
    return True


def _apply(run: SplitRun, *, jobs: int, confirm: Callable[[SplitRun], bool] | None) -> None:
    """Apply shared (when it changes, or its outputs were never kept), keep its outputs, then the service roots.

    Each root's saved plan was made or found fresh by this run's plan phase (:func:`_plan_root`):
    its apply does not read terraform's version and the state again (on S3, a ``state pull`` per root).
    """
    env = run.env
    shared = run.shared.workspace
    assert shared is not None
    summary = run.shared.summary
    if (summary is not None and (summary.has_changes or summary.output_changes)) or kept_outputs(shared) is None:
        planapply.apply(shared, auto_approve=True, interactive=False, confirm=_yes, outputs_too=True, checked=True)
    outputs = keep_outputs(shared)

    again: list[RootRun] = []

    def plan_again(svc: RootRun) -> None:
        ws = svc.workspace
        assert ws is not None
        if write_inputs(ws, outputs) or svc.waiting:
            ws.discard_plan()  # planned with other values (or not at all): planned again now
            svc.summary, svc.waiting = planapply.plan(ws).summary, ""
            again.append(svc)
            ws.info(f"{env}/{svc.name}: planned again with shared's new values: {_line(svc.summary)}")

    each_root(jobs, run.services, plan_again)
    if run.failed:
        return
    # What was confirmed did not show these plans: on a terminal they are shown and asked for too.
    shown = [svc for svc in again if svc.summary is not None and svc.summary.has_changes]
    if shown and confirm is not None and not confirm(SplitRun(env, [RootRun(run.shared.layout), *shown])):
        raise PlanRefused(f"apply cancelled after shared; the service roots of {env} were not changed")

    def apply_one(svc: RootRun) -> None:
        assert svc.workspace is not None
        svc.summary = planapply.apply(svc.workspace, auto_approve=True, interactive=False, confirm=_yes, checked=True)

    each_root(jobs, run.services, apply_one)


def destroy(make: MakeWorkspace, env: str, cfg: EnvConfig, *, jobs: int, force: bool) -> SplitRun:
    """Destroy the service roots in parallel, then shared (the caller has confirmed).

    A service root with nothing in its state is left alone (it needs shared's values
    to plan even its destroy). ``force``: a protected environment, confirmed by name.
    """
    run = runs_of(make, env, cfg)
    with holding(run, "destroy"):
        _destroy_all(run, jobs=jobs, force=force)
    return run


def _destroy_all(run: SplitRun, *, jobs: int, force: bool) -> None:
    env = run.env
    shared = run.shared.workspace
    assert shared is not None
    outputs = current_outputs(shared)
    if outputs is None:  # never kept on this machine (a CI runner): read once from shared's state, if it has one
        shared.init()
        outputs = read_outputs(shared) if resource_count(shared.state_doc()) else None

    def destroy_one(svc: RootRun) -> None:
        ws = svc.workspace
        assert ws is not None
        ws.init()
        if not resource_count(ws.state_doc()):
            return
        if outputs is None:
            raise SharedOutputsError(
                f"{env}/{svc.name} has resources, and shared, whose outputs it needs to plan their destroy, has "
                "none: its state is empty or unreadable"
            )
        write_inputs(ws, outputs)
        _destroy(ws, force=force)

    each_root(jobs, run.services, destroy_one)
    if run.failed:
        return  # shared holds what the failed roots still use: it stays
    assert run.shared.workspace is not None
    each_root(1, [run.shared], lambda shared: _destroy(shared.workspace, force=force))
    if not run.failed:
        outputs_path(run.shared.workspace).unlink(missing_ok=True)


def _destroy(ws: Workspace | None, *, force: bool) -> None:
    assert ws is not None
    ws.info(f"destroying {ws.root.label}")
    planapply.destroy(ws, auto_approve=True, interactive=False, confirm=lambda _q: True, force=force, yes_i_mean=True)


def drift(make: MakeWorkspace, env: str, cfg: EnvConfig, *, jobs: int) -> tuple[SplitRun, dict[str, list[Drift]]]:
    """A refresh-only plan of every root, shared first: what changed behind Terraform, by root."""
    run = runs_of(make, env, cfg)
    found: dict[str, list[Drift]] = {}

    def drift_one(root: RootRun) -> None:
        ws = root.workspace
        assert ws is not None
        ensure_inputs(make, ws)
        found[root.name] = ws.drift()
        if root is run.shared and kept_outputs(ws) is None:
            keep_outputs(ws)  # once here, not once per service root

    each_root(1, run.roots[:1], drift_one)
    each_root(jobs, run.services, drift_one)
    return run, {name: found[name] for name in sorted(found)}
