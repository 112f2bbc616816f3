"""Terraform commands: init, plan, apply, destroy, output, drift, bootstrap, routes, exec."""

from __future__ import annotations

import json
import os
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import click

from hclforge.cli.app import EMULATOR_HELP, App, confirm, echo_lines, interactive, pass_app, print_summary, report
from hclforge.cli.completion import complete_env, complete_service
from hclforge.errors import ChangesPresent, ConfigError

if TYPE_CHECKING:
    from hclforge.cli.batch import EnvOutcome
    from hclforge.cli.summary import Summary


ROOT_HELP = "A split environment: only this root (shared, services/NAME); '.' is a one-state environment's."
AFFECTED_HELP = "Only the roots 'hclforge affected' lists, in its order (what CI runs)."
JOBS_HELP = "A split environment: how many of its service root runs go at once (default: CPUs)."
SERVICE_HELP = "A split environment: only the root holding this service, refreshed (not -target)."


@click.command(epilog="Example: hclforge init dev")
@click.argument("env", shell_complete=complete_env)
@click.option("--emulator", is_flag=True, help=EMULATOR_HELP)
@click.option("--force", is_flag=True, help="Run init even when nothing changed.")
@click.option("--root", "root_path", metavar="ROOT", help=ROOT_HELP)
@pass_app
def init(app: App, env: str, emulator: bool, force: bool, root_path: str | None) -> None:
    """Run terraform init for ENV (providers from the mirror or cache); skipped when nothing changed.

    A split environment: every root, or --root's.
    """
    from hclforge.cli import splitcli

    for ws in splitcli.workspaces(app, env, root_path, every=True, emulator=emulator):
        ran = ws.init(force=force)
        prefix = f"{ws.root.name}: " if ws.root.name else ""
        click.echo(prefix + ("initialized" if ran else "init skipped: nothing changed since the last init"))


def _show_outcome(app: App, fmt: str, outcome: EnvOutcome) -> None:
    """One environment of ``plan --all``, printed whole: its messages, then its summary or failure."""
    for line in outcome.lines:
        app.info(line)
    if isinstance(outcome.error, ConfigError):
        click.echo(f"Plan for {outcome.env}: invalid configuration (listed at the end)", err=True)
    elif outcome.error is not None:
        click.echo(f"Plan for {outcome.env}: failed", err=True)
        report(outcome.error)
    elif outcome.result is not None:
        print_summary(app, outcome.result.summary, fmt)
    click.echo("")


@click.command(epilog="Example: hclforge plan dev")
@click.argument("env", required=False, shell_complete=complete_env)
@click.option("--all", "all_envs", is_flag=True, help="Every environment, in a bounded parallel pool.")
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(1, 64),
    default=None,
    help="Plans at once: environments (--all), or a split one's service root plans (default: CPUs).",
)
@click.option("--emulator", is_flag=True, help=EMULATOR_HELP)
@click.option("--format", "fmt", type=click.Choice(["table", "markdown", "json"]), default="table", show_default=True)
@click.option("--detailed-exitcode", is_flag=True, help="Exit 3 when a plan has changes.")
@click.option("--allow-replace", is_flag=True, help="protect: true environments: allow destroying protected resources.")
@click.option(
    "--json-out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the plan's show -json to FILE before returning (for scanners); "
    "{env} in FILE is the environment's name, and needed with --all.",
)
@click.option(
    "--baseline",
    metavar="GIT_REF",
    help="On the emulator: apply GIT_REF's committed tree first, so the plan shows what changed since.",
)
@click.option("--root", "root_path", metavar="ROOT", help=ROOT_HELP)
@click.option("--service", metavar="SERVICE", shell_complete=complete_service, help=SERVICE_HELP)
@click.option("--affected", is_flag=True, help=AFFECTED_HELP)
@click.option("--base", metavar="REF", help="With --affected: the base (default: merge base with the default branch).")
@pass_app
def plan(
    app: App,
    env: str | None,
    all_envs: bool,
    jobs: int | None,
    emulator: bool,
    fmt: str,
    detailed_exitcode: bool,
    allow_replace: bool,
    json_out: Path | None,
    baseline: str | None,
    root_path: str | None,
    service: str | None,
    affected: bool,
    base: str | None,
) -> None:
    """Plan ENV and print a summary of its changes; the plan is saved for apply.

    Renders modules/ENV first if the YAML changed, and runs terraform init if needed.
    """
    from hclforge.cli import batch, dispatch
    from hclforge.tree import select_envs

    if affected:
        options_ = {"emulator": emulator, "fmt": fmt, "detailed_exitcode": detailed_exitcode}
        from hclforge.cli.affectedrun import run_affected

        return run_affected(app, "plan", base=base, envs=[env] if env else [], **options_)
    names = select_envs(app.root, [env] if env else [], all_envs)
    if all_envs:
        options = {"emulator": emulator, "allow_replace": allow_replace, "json_out": json_out, "jobs": jobs}
        show = partial(_show_outcome, app, fmt)
        batch.plan_all(app.settings(), names, show=show, detailed_exitcode=detailed_exitcode, **options)
        return
    one = {"emulator": emulator, "allow_replace": allow_replace, "jobs": jobs, "baseline": baseline}
    dispatch.plan_one(app, names[0], fmt, detailed_exitcode, json_out, (root_path, service), **one)


@click.command(epilog="Example: hclforge apply dev   (after: hclforge plan dev)")
@click.argument("env", shell_complete=complete_env)
@click.option("--auto-approve", is_flag=True, help="Apply without asking.")
@click.option("--emulator", is_flag=True, help=EMULATOR_HELP)
@click.option("--allow-replace", is_flag=True, help="protect: true environments: allow destroying protected resources.")
@click.option("--no-wait", is_flag=True, help="Do not wait for the rollouts of the ECS services it changed.")
@click.option("--root", "root_path", metavar="ROOT", help=ROOT_HELP)
@click.option("--service", metavar="SERVICE", shell_complete=complete_service, help=SERVICE_HELP)
@click.option("--jobs", "-j", type=click.IntRange(1, 64), default=None, help=JOBS_HELP)
@click.option("--affected", is_flag=True, help=AFFECTED_HELP)
@click.option("--base", metavar="REF", help="With --affected: the base (default: merge base with the default branch).")
@pass_app
def apply(
    app: App,
    env: str,
    auto_approve: bool,
    emulator: bool,
    allow_replace: bool,
    no_wait: bool,
    root_path: str | None,
    service: str | None,
    jobs: int | None,
    affected: bool,
    base: str | None,
) -> None:
    """Apply ENV's reviewed plan, then wait for the rollouts of the ECS services it changed.

    Use apply for infrastructure changes reviewed as a plan: 'hclforge plan ENV',
    read the summary, then apply applies exactly that saved plan. With no saved
    plan, or one that anything it was made from changed since, it plans again and
    asks first (unless --auto-approve; a stale plan is refused without a terminal).
    To ship an image to running services, use deploy.
    """
    from hclforge.cli import dispatch, planapply
    from hclforge.cli.shipout import report_applied, wait_after_apply

    flags = {"auto_approve": auto_approve, "emulator": emulator, "allow_replace": allow_replace, "no_wait": no_wait}
    if dispatch.apply_elsewhere(app, env, (root_path, service, jobs), (affected, base), **flags):
        return
    ws = app.workspace(env, emulator=emulator, allow_replace=allow_replace)

    def confirm_plan(summary: Summary) -> bool:
        print_summary(app, summary, "table")
        return confirm(f"Apply these changes to {env}?")

    summary = planapply.apply(ws, auto_approve=auto_approve, interactive=interactive(), confirm=confirm_plan)
    report_applied(env, summary)
    wait_after_apply(ws, summary, wait=not no_wait)


@click.command(
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    epilog="Example: hclforge destroy local --auto-approve",
)
@click.argument("env", shell_complete=complete_env)
@click.option("--auto-approve", is_flag=True, help="Destroy without asking (not for protected environments).")
@click.option("--force", is_flag=True, help="Protected environments: required, then the name typed.")
@click.option("--emulator", is_flag=True, help=EMULATOR_HELP)
@click.option("--jobs", "-j", type=click.IntRange(1, 64), default=None, help=JOBS_HELP)
@click.pass_context
def destroy(ctx: click.Context, env: str, auto_approve: bool, force: bool, emulator: bool, jobs: int | None) -> None:
    """Destroy every resource of ENV, after confirmation.

    A protected environment (protect: true) needs --force and its name typed,
    or --force --yes-i-mean-ENV without a terminal.
    """
    from hclforge.cli import planapply, splitcli
    from hclforge.protect import parse_confirmation_flag

    app: App = ctx.obj
    yes_i_mean = parse_confirmation_flag(env, ctx.args)
    cfg = splitcli.split_config(app, env)
    if cfg is not None:
        splitcli.confirm_destroy(env, cfg, auto_approve=auto_approve, force=force, yes_i_mean=yes_i_mean)
        return splitcli.destroy_whole(app, env, cfg, force=force, jobs=jobs, emulator=emulator)
    destroyed = planapply.destroy(
        app.workspace(env, emulator=emulator),
        auto_approve=auto_approve,
        interactive=interactive(),
        confirm=confirm,
        force=force,
        typed_name=lambda: click.prompt(f"Type {env} to destroy every resource of it", default="", show_default=False),
        yes_i_mean=yes_i_mean,
    )
    click.echo(f"destroyed {env}" + (f": {destroyed} resource(s)" if destroyed is not None else ""))


@click.command(epilog="Example: hclforge bootstrap prod")
@click.argument("env", shell_complete=complete_env)
@pass_app
def bootstrap(app: App, env: str) -> None:
    """Create ENV's S3 state bucket (and DynamoDB lock table), idempotently."""
    app.workspace(env, stream=False).bootstrap()
    click.echo(f"bootstrapped {env}")


@click.command(epilog="Example: hclforge drift prod")
@click.argument("env", shell_complete=complete_env)
@click.option("--emulator", is_flag=True, help=EMULATOR_HELP)
@click.option("--jobs", "-j", type=click.IntRange(1, 64), default=None, help=JOBS_HELP)
@pass_app
def drift(app: App, env: str, emulator: bool, jobs: int | None) -> None:
    """Refresh-only plan: exit 3 when something changed behind Terraform."""
    from hclforge.cli import splitcli
    from hclforge.cli.binding import resource_count

    cfg = splitcli.split_config(app, env)
    if cfg is not None:
        return splitcli.drift_whole(app, env, cfg, jobs=jobs, emulator=emulator)

    ws = app.workspace(env, emulator=emulator)
    found = ws.drift()
    if not found and not resource_count(ws.state_doc()):
        # An empty state file is no state to terraform: nothing was compared.
        click.echo(
            f"No drift in {env}: its state holds no resources, so there is nothing to compare "
            "(not applied yet, or its state file was emptied)."
        )
        return
    if not found:
        click.echo(f"No drift in {env}: the infrastructure matches the state.")
        return
    click.echo(f"Drift in {env} (changed outside Terraform):")
    for item in found:
        detail = ", ".join(item.attributes) if item.action == "changed" else "deleted"
        click.echo(app.styled(f"  ~ {item.address}: {detail}", fg="yellow"))
    raise ChangesPresent(f"{len(found)} resource(s) drifted")


@click.command(epilog="Example: hclforge output dev api_endpoint")
@click.argument("env", shell_complete=complete_env)
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True, help="JSON output.")
@click.option("--emulator", is_flag=True, help=EMULATOR_HELP)
@click.option("--root", "root_path", metavar="ROOT", help=ROOT_HELP)
@pass_app
def output(app: App, env: str, name: str | None, as_json: bool, emulator: bool, root_path: str | None) -> None:
    """Show the outputs of ENV (all, or NAME); of a split environment, shared's (or --root's)."""
    from hclforge.cli import splitcli

    ws = splitcli.workspaces(app, env, root_path, every=False, emulator=emulator, stream=False)[0]
    values = ws.outputs(name)
    if as_json:
        click.echo(json.dumps(values, indent=2, sort_keys=True))
    elif name:
        click.echo(values if isinstance(values, str) else json.dumps(values))
    else:
        for key, item in sorted(values.items()):
            value = item["value"]
            click.echo(f"{key} = {value if isinstance(value, str) else json.dumps(value)}")


@click.command(epilog="Example: hclforge routes dev --emulator")
@click.argument("env", shell_complete=complete_env)
@click.option("--emulator", is_flag=True, help=EMULATOR_HELP)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@pass_app
def routes(app: App, env: str, emulator: bool, fmt: str) -> None:
    """The request path read from the plan: routes to containers, and calls between services."""
    from hclforge.cli import planapply
    from hclforge.errors import BrokenPath
    from hclforge.routes import as_table

    report_ = planapply.routes(app.workspace(env, emulator=emulator))
    if fmt == "json":
        click.echo(json.dumps(report_.to_json(), indent=2))
    else:
        echo_lines(as_table(report_))
    if not report_.ok:
        raise BrokenPath(f"{len(report_.problems)} broken link(s) in the request path of {env}")


@click.command(
    "exec", context_settings={"ignore_unknown_options": True}, epilog="Example: hclforge exec dev api -- /bin/sh"
)
@click.argument("env", shell_complete=complete_env)
@click.argument("service", shell_complete=complete_service)
@click.argument("command", nargs=-1, type=click.UNPROCESSED, metavar="[-- CMD...]")
@click.option("--emulator", is_flag=True, help=EMULATOR_HELP)
@pass_app
def exec_cmd(app: App, env: str, service: str, command: tuple[str, ...], emulator: bool) -> None:
    """Open a shell (/bin/sh, or CMD) in a running task of SERVICE with ECS Exec (needs exec: true)."""
    from hclforge.cli.execute import exec_plan_for
    from hclforge.errors import ToolMissing

    handover = exec_plan_for(app.workspace(env, emulator=emulator, stream=False), service, list(command))
    if handover.missing:
        click.echo(handover.command_line)
        raise ToolMissing("to run the command above, install: " + "; ".join(handover.missing))
    os.execvpe(handover.argv[0], handover.argv, handover.process_env(os.environ))


def register(group: click.Group) -> None:
    """Add the terraform commands to ``group``."""
    for command in (init, plan, apply, destroy, output, drift, bootstrap, routes, exec_cmd):
        group.add_command(command)
