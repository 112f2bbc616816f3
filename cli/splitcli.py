"""The terraform commands on a split environment (``state.split: service``): call :mod:`~hclforge.cli.splitrun`, print.

``plan``, ``apply``, ``destroy`` and ``drift`` of a split environment come here from
their click commands (:mod:`~hclforge.cli.cmd_terraform`): the whole environment in
order, or one root (``--root shared``, ``--root services/<name>``, ``--service S``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from hclforge.cli import sharedvalues, splitrun
from hclforge.cli.app import App, confirm, interactive, print_summary, report
from hclforge.errors import ChangesPresent, HclforgeError, UsageError, printable

if TYPE_CHECKING:
    from hclforge.cli.ops import Workspace
    from hclforge.model import EnvConfig
    from hclforge.roots import RootLayout


def split_config(app: App, env: str, *, root: str | None = None, service: str | None = None) -> EnvConfig | None:
    """The environment's config when it is split (None: one state); ``--root``/``--service`` checked against it.

    Raises:
        UsageError: ``--root`` other than ``.``, or ``--service`` with plan/apply, on a one-state environment.
    """
    cfg = app.workspace(env, stream=False).loaded.config
    if cfg.split:
        return cfg
    if root not in (None, "."):
        raise UsageError(f"{env} has one state (no state.split): its only root is '.', not {printable(root)}")
    if service is not None:
        raise UsageError(
            f"{env} has one state (no state.split): --service plans or applies one root of a split environment; "
            f"to ship one service of {env}, run 'hclforge deploy {env} --service {printable(service)}'"
        )
    return None


def workspaces(app: App, env: str, root: str | None, *, every: bool, **options: Any) -> list[Workspace]:
    """The workspaces a command of one root at a time works on (``init``, ``output``).

    One state: the environment's. Split: ``--root``'s; without it every root (``every``),
    or shared.
    """
    from hclforge.roots import SHARED

    cfg = split_config(app, env, root=root)
    if cfg is None:
        return [app.workspace(env, **options)]
    if root is not None:
        return [app.workspace(env, layout=splitrun.select(env, cfg, root=root), **options)]
    found = splitrun.layouts(env, cfg) if every else [splitrun.select(env, cfg, root=SHARED)]
    return [app.workspace(env, layout=layout, **options) for layout in found]


def maker(app: App, env: str, *, emulator: bool, allow_replace: bool = False) -> sharedvalues.MakeWorkspace:
    """The workspaces of an environment-wide run: no progress bars (roots run in parallel), one line per root."""

    made: list[Workspace] = []  # the first root's: its loaded environment (and warnings, once) for all

    def make(layout: RootLayout) -> Workspace:
        from hclforge.cli.ops import Workspace

        options = {**app.workspace_options(stream=True), "events": None}
        options.update(emulator=emulator, allow_replace=allow_replace, layout=layout)
        ws = Workspace(app.settings(), env, loaded=made[0].loaded if made else None, **options)
        made.append(ws)
        return ws

    return make


def one_root(
    app: App, env: str, cfg: EnvConfig, root: str | None, service: str | None, command: str, **options: Any
) -> Workspace | None:
    """The workspace of the one root ``--root``/``--service`` names, given its inputs; None without either.

    Its var file is written under its command lock: never while a run of the whole
    environment holds the root between its plan and its apply (that fails at once,
    naming the holder).
    """
    if root is None and service is None:
        return None
    layout = splitrun.select(env, cfg, root=root, service=service)
    ws = app.workspace(env, layout=layout, **options)
    with ws.holding(command):
        sharedvalues.ensure_inputs(maker(app, env, emulator=options.get("emulator", False)), ws)
    return ws


def show_run(app: App, run: splitrun.SplitRun, fmt: str) -> None:
    """The environment's one summary, what waits for shared, and each root's failure."""
    print_summary(app, run.summary(), fmt)
    for root in run.later:
        click.echo(f"  {root.later_note()}", err=fmt == "json")
    show_failed(run)


def show_failed(run: splitrun.SplitRun) -> None:
    """Each failed root, by name, with its error (an unexpected one too: never a bare "failed")."""
    for root in run.failed:
        click.echo(f"{run.env}/{root.name}: failed", err=True)
        if isinstance(root.error, HclforgeError):
            report(root.error)
        else:
            click.echo(f"  {root.error!r}", err=True)


def plan(app: App, env: str, cfg: EnvConfig, *, jobs: int | None, emulator: bool, allow_replace: bool) -> Any:
    """Plan a split environment whole; the run (the caller prints it)."""
    make = maker(app, env, emulator=emulator, allow_replace=allow_replace)
    return splitrun.plan(make, env, cfg, jobs=jobs or splitrun.default_jobs())


def plan_cmd(
    app: App,
    env: str,
    cfg: EnvConfig,
    fmt: str,
    detailed_exitcode: bool,
    json_out: Any,
    where: tuple[str | None, str | None],
    **options: Any,
) -> None:
    """``plan`` of a split environment: one root (``--root``/``--service``), or the whole environment."""
    from hclforge.cli import batch

    options_one = {k: v for k, v in options.items() if k != "jobs"}
    ws = one_root(app, env, cfg, *where, "plan", **options_one)
    if ws is None:
        if json_out is not None:
            raise UsageError(f"--json-out writes one root's plan: add --root ROOT (a root of {env}) or --service S")
        return plan_whole(app, env, cfg, fmt, detailed_exitcode, **options)
    result = batch.plan_env(ws, json_out)
    print_summary(app, result.summary, fmt)
    if detailed_exitcode and result.summary.has_changes:
        raise ChangesPresent("the plan has changes")


def apply_cmd(
    app: App, env: str, cfg: EnvConfig, *, root: str | None, service: str | None, wait: bool, **options: Any
) -> None:
    """``apply`` of a split environment: one root, or the whole environment in order."""
    from hclforge.cli import planapply
    from hclforge.cli.shipout import report_applied, wait_after_apply

    auto_approve = options.pop("auto_approve")
    jobs = options.pop("jobs", None)
    ws = one_root(app, env, cfg, root, service, "apply", **options)
    if ws is None:
        return apply_whole(app, env, cfg, auto_approve=auto_approve, wait=wait, jobs=jobs, **options)

    def confirm_plan(summary: Any) -> bool:
        print_summary(app, summary, "table")
        return confirm(f"Apply these changes to {ws.root.label}?")

    summary = planapply.apply(
        ws, auto_approve=auto_approve, interactive=interactive(), confirm=confirm_plan, outputs_too=True
    )
    keep_if_shared(ws)
    report_applied(ws.root.label, summary)
    wait_after_apply(ws, summary, wait=wait)


def deploy_cmd(
    app: App, env: str, cfg: EnvConfig, services: list[str], confirm: Any, timeout: str, **options: Any
) -> None:
    """``deploy`` of a split environment: each named service's root alone (refreshed), or every root in order."""
    from hclforge.cli import deploy as lib
    from hclforge.cli.durations import seconds
    from hclforge.cli.shipout import progress_sink, report_deployed

    wait = options.pop("wait")
    if not services:
        return apply_whole(app, env, cfg, auto_approve=options.pop("auto_approve"), wait=wait, **options)
    by_root: dict[str, list[str]] = {}
    for name in services:
        by_root.setdefault(splitrun.select(env, cfg, service=name).path, []).append(name)
    for root, names in by_root.items():
        ws = one_root(app, env, cfg, root, None, "deploy", emulator=options["emulator"])
        done = lib.deploy(
            ws,
            services=names,
            auto_approve=options["auto_approve"],
            interactive=interactive(),
            confirm=confirm,
            wait=wait,
            timeout=seconds(timeout),
            on_progress=progress_sink(),
        )
        report_deployed(env, done)


def plan_whole(app: App, env: str, cfg: EnvConfig, fmt: str, detailed_exitcode: bool, **options: Any) -> None:
    run = plan(app, env, cfg, **options)
    show_run(app, run, fmt)
    run.raise_failed("plan")
    if detailed_exitcode and run.has_changes:
        raise ChangesPresent("the plan has changes")


def apply_whole(app: App, env: str, cfg: EnvConfig, *, auto_approve: bool, wait: bool, **options: Any) -> None:
    """Apply a split environment whole, then wait for the rollouts of each service root it changed."""
    from hclforge.cli.shipout import wait_after_apply

    jobs = options.pop("jobs", None) or splitrun.default_jobs()
    make = maker(app, env, **options)

    def confirm_run(run: splitrun.SplitRun) -> bool:
        show_run(app, run, "table")
        return confirm(f"Apply these changes to {env}?")

    run = splitrun.apply(
        make, env, cfg, jobs=jobs, auto_approve=auto_approve, interactive=interactive(), confirm=confirm_run
    )
    if run.failed:
        show_run(app, run, "table")
        run.raise_failed("plan or apply")
    if not run.has_changes:
        click.echo(f"No changes in {env}: every root matches its configuration.")
        return
    t = run.summary().totals
    click.echo(
        f"applied {env} ({len(run.roots)} roots): {t['create']} created, {t['update']} updated, "
        f"{t['replace']} replaced, {t['delete']} deleted"
    )
    for root in run.services:
        if root.workspace is not None and root.summary is not None and root.summary.has_changes:
            wait_after_apply(root.workspace, root.summary, wait=wait)


def destroy_whole(app: App, env: str, cfg: EnvConfig, *, force: bool, jobs: int | None, emulator: bool) -> None:
    # A protected environment (confirmed with --force) is destroyed from unprotected copies of its roots.
    make = maker(app, env, emulator=emulator, allow_replace=cfg.protect)
    run = splitrun.destroy(make, env, cfg, jobs=jobs or splitrun.default_jobs(), force=force)
    show_failed(run)
    run.raise_failed("destroy")
    click.echo(f"destroyed {env} ({len(run.roots)} roots)")


def drift_whole(app: App, env: str, cfg: EnvConfig, *, jobs: int | None, emulator: bool) -> None:
    run, found = splitrun.drift(maker(app, env, emulator=emulator), env, cfg, jobs=jobs or splitrun.default_jobs())
    show_failed(run)
    run.raise_failed("refresh")
    items = [(name, item) for name, drifts in found.items() for item in drifts]
    if not items:
        click.echo(f"No drift in {env}: every root's infrastructure matches its state.")
        return
    click.echo(f"Drift in {env} (changed outside Terraform):")
    for name, item in items:
        detail = ", ".join(item.attributes) if item.action == "changed" else "deleted"
        click.echo(app.styled(f"  ~ {name}: {item.address}: {detail}", fg="yellow"))
    raise ChangesPresent(f"{len(items)} resource(s) drifted")


def refuse_baseline(env: str, baseline: str | None) -> None:
    if baseline is not None:
        raise UsageError(f"--baseline applies one tree; {env} is split into roots (state.split: service)")


def keep_if_shared(ws: Workspace) -> None:
    """After ``apply --root shared``: keep shared's outputs for the service roots."""
    if ws.layout is not None and ws.layout.shared:
        sharedvalues.keep_outputs(ws)


def confirm_destroy(env: str, cfg: EnvConfig, *, auto_approve: bool, force: bool, yes_i_mean: bool) -> None:
    """``destroy``'s confirmations, once for every root (:func:`~hclforge.cli.planapply.check_destroy`'s rules)."""
    from hclforge.cli import planapply
    from hclforge.errors import PlanRefused

    planapply.check_destroy(
        env,
        cfg.protect,
        auto_approve=auto_approve,
        interactive=interactive(),
        force=force,
        typed_name=lambda: click.prompt(f"Type {env} to destroy every resource of it", default="", show_default=False),
        yes_i_mean=yes_i_mean,
    )
    if not cfg.protect and not auto_approve and not confirm(f"Destroy every resource of {env} (every root)?"):
        raise PlanRefused("destroy cancelled; nothing was changed")
