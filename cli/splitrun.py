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
services in different roots never wait on each other. Nothing here prints: progress
goes to the ``info`` callback, results are returned.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from hclforge.cli import planapply
from hclforge.cli.binding import resource_count
from hclforge.cli.ops import Workspace
from hclforge.cli.sharedvalues import (
    MakeWorkspace,
    ensure_inputs,
    keep_outputs,
    kept_outputs,
    read_outputs,
    write_inputs,
)
from hclforge.cli.summary import Drift, Row, Summary
from hclforge.errors import PlanRefused, SharedOutputsError, UsageError
from hclforge.model import EnvConfig
from hclforge.roots import RootLayout, root_inputs, shared_outputs_file, split_layout


@dataclass
class RootRun:
    """What happened to one root in an environment-wide run.

    Attributes:
        layout: the root.
        summary: its plan's summary (None when it was not planned, or failed).
        error: why it failed (None when it did not).
        after_shared: its inputs can change when shared applies: it is planned again then.
        waiting: why it could not be planned now (shared was never applied, or lacks what it needs).
        workspace: the workspace that ran it.
    """

    layout: RootLayout
    summary: Summary | None = None
    error: BaseException | None = None
    after_shared: bool = False
    waiting: str = ""
    workspace: Workspace | None = None

    @property
    def name(self) -> str:
        return self.layout.path


@dataclass
class SplitRun:
    """An environment-wide run of a split environment: each root's outcome, shared first."""

    env: str
    roots: list[RootRun] = field(default_factory=list)

    @property
    def shared(self) -> RootRun:
        return self.roots[0]

    @property
    def services(self) -> list[RootRun]:
        return self.roots[1:]

    @property
    def failed(self) -> list[RootRun]:
        return [r for r in self.roots if r.error is not None]

    @property
    def later(self) -> list[RootRun]:
        """The service roots planned again (or for the first time) after shared applies."""
        return [r for r in self.services if r.after_shared or r.waiting]

    @property
    def has_changes(self) -> bool:
        """Any root has changes, shared's outputs change, or a root waits for shared."""
        shared = self.shared.summary
        return (
            any(r.summary is not None and r.summary.has_changes for r in self.roots)
            or bool(shared and shared.output_changes)
            or bool(self.later)
        )

    def summary(self) -> Summary:
        """One summary for the environment: every root's rows, addresses named with their root."""
        merged = Summary(self.env)
        rows: dict[tuple[str, str], Row] = {}
        for run in self.roots:
            if run.summary is None:
                continue
            for row in run.summary.rows:
                into = rows.setdefault((row.module, row.service), Row(row.module, row.service))
                for action in ("create", "update", "replace", "delete"):
                    setattr(into, action, getattr(into, action) + getattr(row, action))
            merged.replaced += [f"{run.name}: {a}" for a in run.summary.replaced]
            merged.deleted += [f"{run.name}: {a}" for a in run.summary.deleted]
            merged.output_changes += [f"{run.name}: {o}" for o in run.summary.output_changes]
        merged.rows = [rows[key] for key in sorted(rows)]
        return merged


def layouts(env: str, cfg: EnvConfig) -> list[RootLayout]:
    """The environment's roots, shared first (:func:`~hclforge.roots.split_layout`)."""
    return split_layout(env, cfg)


def start(make: MakeWorkspace, env: str, cfg: EnvConfig) -> SplitRun:
    """Every root's workspace, shared first, with the environment rendered if stale: once for them all.

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


def select(env: str, cfg: EnvConfig, *, root: str | None = None, service: str | None = None) -> RootLayout:
    """The one root ``--root ROOT`` or ``--service S`` names.

    Raises:
        UsageError: no such root or service (exit 2), with the ones there are.
    """
    found = layouts(env, cfg)
    if service is not None:
        if service not in cfg.services:
            raise UsageError(f"{env} has no service {service}; services: {', '.join(cfg.services)}")
        name = cfg.root_of(service)
        return next(layout for layout in found if not layout.shared and layout.name == name)
    for layout in found:
        if layout.path == root:
            return layout
    raise UsageError(f"{env} has no root {root}; its roots: {', '.join(layout.path for layout in found)}")


# ------------------------------------------------------------------ plan, apply


def _plan_root(ws: Workspace, *, reuse: bool) -> Summary:
    if reuse:
        ws.init()
        if ws.saved_plan_problem() is None:
            return ws.load_saved_summary()
    return planapply.plan(ws).summary


def _each(jobs: int, runs: Sequence[RootRun], work: Callable[[RootRun], None]) -> None:
    """Run ``work`` on each root, ``jobs`` at a time; a root's failure is kept on it, the others go on."""

    def one(run: RootRun) -> None:
        try:
            work(run)
        except Exception as err:  # kept and reported per root; KeyboardInterrupt stops everything
            run.error = err

    if not runs:
        return
    with ThreadPoolExecutor(max_workers=max(1, min(jobs, len(runs)))) as pool:
        list(pool.map(one, runs))


def default_jobs() -> int:
    """Service roots run in parallel by default: one per CPU."""
    return os.cpu_count() or 1


def plan(make: MakeWorkspace, env: str, cfg: EnvConfig, *, jobs: int, reuse: bool = False) -> SplitRun:
    """Plan shared, then every service root in parallel.

    Args:
        make: makes each root's workspace.
        env: the environment.
        cfg: its configuration.
        jobs: service roots planned at once.
        reuse: a root whose saved plan is still fresh is not planned again (``apply``).

    Raises:
        HclforgeError: shared's plan failed (nothing else is planned). A service
            root's failure is kept on its :class:`RootRun`.
    """
    run = start(make, env, cfg)
    shared = run.shared
    assert shared.workspace is not None
    shared.summary = _plan_root(shared.workspace, reuse=reuse)
    shared.workspace.info(f"{env}/shared: {_line(shared.summary)}")
    outputs = kept_outputs(shared.workspace.settings.root, env)
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

    _each(jobs, [svc for svc in run.services if not svc.waiting], plan_one)
    return run


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
    run = plan(make, env, cfg, jobs=jobs, reuse=True)
    if run.failed:
        return run
    if not run.has_changes:
        for root in run.roots:
            if root.workspace is not None:
                root.workspace.discard_plan()
        return run
    if not auto_approve and not confirm(run):
        raise PlanRefused("apply cancelled; nothing was changed")
    shared = run.shared.workspace
    assert shared is not None
    summary = run.shared.summary
    project = shared.settings.root
    if (summary is not None and (summary.has_changes or summary.output_changes)) or kept_outputs(project, env) is None:
        planapply.apply(shared, auto_approve=True, interactive=False, confirm=lambda _s: True, outputs_too=True)
    outputs = keep_outputs(shared)

    def apply_one(svc: RootRun) -> None:
        ws = svc.workspace
        assert ws is not None
        if write_inputs(ws, outputs) or svc.waiting:
            ws.discard_plan()  # planned with other values (or not at all): planned again now
            svc.summary = planapply.plan(ws).summary
            ws.info(f"{env}/{svc.name}: planned again with shared's new values: {_line(svc.summary)}")
        svc.summary = planapply.apply(ws, auto_approve=True, interactive=False, confirm=lambda _s: True)

    _each(jobs, run.services, apply_one)
    return run


def destroy(make: MakeWorkspace, env: str, cfg: EnvConfig, *, jobs: int, force: bool) -> SplitRun:
    """Destroy the service roots in parallel, then shared (the caller has confirmed).

    A service root with nothing in its state is left alone (it needs shared's values
    to plan even its destroy). ``force``: a protected environment, confirmed by name.
    """
    run = start(make, env, cfg)
    outputs = kept_outputs(run.shared.workspace.settings.root, env) if run.shared.workspace else None

    def destroy_one(svc: RootRun) -> None:
        ws = svc.workspace
        assert ws is not None
        ws.init()
        if not resource_count(ws.state_doc()):
            return
        if outputs is None:
            raise SharedOutputsError(
                f"{env}/{svc.name} has resources, and shared's outputs it needs to plan their destroy were never "
                f"kept on this machine: run 'hclforge plan {env} --root {svc.name}' first"
            )
        write_inputs(ws, outputs)
        _destroy(ws, force=force)

    _each(jobs, run.services, destroy_one)
    if run.failed:
        return run  # shared holds what the failed roots still use: it stays
    assert run.shared.workspace is not None
    _each(1, [run.shared], lambda shared: _destroy(shared.workspace, force=force))
    if not run.failed:
        (run.shared.workspace.settings.root / shared_outputs_file(env)).unlink(missing_ok=True)
    return run


def _destroy(ws: Workspace | None, *, force: bool) -> None:
    assert ws is not None
    ws.info(f"destroying {ws.root.label}")
    planapply.destroy(ws, auto_approve=True, interactive=False, confirm=lambda _q: True, force=force, yes_i_mean=True)


def drift(make: MakeWorkspace, env: str, cfg: EnvConfig, *, jobs: int) -> tuple[SplitRun, dict[str, list[Drift]]]:
    """A refresh-only plan of every root, shared first: what changed behind Terraform, by root."""
    run = start(make, env, cfg)
    found: dict[str, list[Drift]] = {}

    def drift_one(root: RootRun) -> None:
        ws = root.workspace
        assert ws is not None
        ensure_inputs(make, ws)
        found[root.name] = ws.drift()
        if root is run.shared and kept_outputs(ws.settings.root, env) is None:
            keep_outputs(ws)  # once here, not once per service root

    _each(1, run.roots[:1], drift_one)
    _each(jobs, run.services, drift_one)
    return run, {name: found[name] for name in sorted(found)}
