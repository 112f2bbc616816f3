"""Day-two commands: set-image, deploy, status, logs, run (DESIGN §5).

Each command parses, calls :mod:`cli.deploy` (set-image: :mod:`cli.setimage`) and prints. ``register(group)`` adds
them to the ``hclforge`` group. ``run`` exits with the task's container exit code:
the library raises :class:`~hclforge.errors.TaskExitCode`, whose exit code
``exit_code_for`` reads from the instance (the one deliberate exception to the table).
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

import click

from hclforge.cli.app import EMULATOR_HELP
from hclforge.cli.completion import complete_env, complete_service
from hclforge.cli.shipout import progress_sink, report_deployed

if TYPE_CHECKING:  # imported in each command: `hclforge --help` stays fast
    pass


def _interactive() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()


def _confirm_for(app: Any, env: str) -> Any:
    def confirm(summary: Any) -> bool:
        from hclforge.cli.summary import as_table

        for text, style in as_table(summary):
            click.echo(click.style(text, bold=True) if app.color and style else text)
        return click.confirm(f"Apply these changes to {env}?", default=False)

    return confirm


def _stderr(message: str) -> None:
    click.echo(message, err=True)


@click.command("set-image", epilog="Example: hclforge set-image dev api registry.example.com/api:1.5.0")
@click.argument("env", shell_complete=complete_env)
@click.argument("service", shell_complete=complete_service)
@click.argument("image")
@click.option("--layer", help="Pin in this layer under envs/ (e.g. _base.yaml), not envs/ENV.yaml.")
@click.option("--yes", "assume_yes", is_flag=True, help="Change other environments on the file without asking.")
@click.pass_obj
def set_image_cmd(app: Any, env: str, service: str, image: str, layer: str | None, assume_yes: bool) -> None:
    """Pin SERVICE's IMAGE in the YAML (only that line changes), re-render, and show both diffs.

    Other environments whose image the edit changes too (they share the file) are
    named, and changed only after a yes: a prompt on a terminal, or --yes.
    """
    from hclforge.cli.app import confirm
    from hclforge.cli.setimage import set_image

    pin = set_image(
        app.root, env, service, image, layer=layer, assume_yes=assume_yes, interactive=_interactive(), confirm=confirm
    )
    if not pin.changed:
        click.echo(f"{service} already runs {image} in {pin.path.name}: nothing changed")
        return
    click.echo(pin.yaml_diff, nl=False)
    click.echo(pin.hcl_diff or "(the rendered tree did not change)\n", nl=False)
    for name, (old, new) in pin.others.items():
        app.info(f"also changed {name}: {service} {old} -> {new}")


@click.command(epilog="Example: hclforge deploy dev --service api")
@click.argument("env", shell_complete=complete_env)
@click.option(
    "--service",
    "services",
    multiple=True,
    shell_complete=complete_service,
    help="Only this service's ECS service and task definition; split: its root (repeatable).",
)
@click.option("--auto-approve", is_flag=True, help="Apply without asking.")
@click.option("--timeout", default="15m", show_default=True, help="How long to wait for the rollouts.")
@click.option("--no-wait", is_flag=True, help="Apply, and do not wait for the rollouts.")
@click.option("--emulator", is_flag=True, help=EMULATOR_HELP)
@click.pass_obj
def deploy(
    app: Any, env: str, services: tuple[str, ...], auto_approve: bool, timeout: str, no_wait: bool, emulator: bool
) -> None:
    """Ship to running services: plan, apply, then wait for each changed ECS service's rollout.

    Use deploy to ship an image (after 'hclforge set-image ENV SERVICE IMAGE'): it
    plans afresh (--service: only what that service needs), applies after confirmation,
    and waits up to --timeout for every ECS service it changed to finish rolling out.
    For infrastructure changes reviewed as a saved plan first, use plan, then apply.
    """
    from hclforge.cli import deploy as lib
    from hclforge.cli import splitcli
    from hclforge.cli.durations import seconds

    if (cfg := splitcli.split_config(app, env)) is not None:  # a split environment: its roots, in order
        options = {"auto_approve": auto_approve, "emulator": emulator, "wait": not no_wait}
        return splitcli.deploy_cmd(app, env, cfg, list(services), _confirm_for(app, env), timeout, **options)
    done = lib.deploy(
        app.workspace(env, emulator=emulator),
        services=list(services),
        auto_approve=auto_approve,
        interactive=_interactive(),
        confirm=_confirm_for(app, env),
        wait=not no_wait,
        timeout=seconds(timeout),
        on_progress=progress_sink(),
    )
    report_deployed(env, done)


@click.command(epilog="Example: hclforge status dev")
@click.argument("env", shell_complete=complete_env)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--emulator", is_flag=True, help=EMULATOR_HELP)
@click.pass_obj
def status(app: Any, env: str, as_json: bool, emulator: bool) -> None:
    """Services (counts, task definition, image, rollout, events), API endpoint, schedules, alarms. Read-only.

    On the emulator, which runs no tasks, each service shows its desired count, marked emulated.
    """
    from hclforge.cli import deploy as lib

    doc = lib.status(app.workspace(env, emulator=emulator, stream=False))
    if as_json:
        click.echo(json.dumps(doc, indent=2, default=str))
        return
    for line in lib.status_lines(doc):
        click.echo(line)


@click.command(epilog="Example: hclforge logs dev api --since 1h")
@click.argument("env", shell_complete=complete_env)
@click.argument("service", shell_complete=complete_service)
@click.option("--since", default="10m", show_default=True, help="How far back: 30s, 10m, 1h, 2d, 1h30m.")
@click.option("--follow", "-f", "follow_logs", is_flag=True, help="Keep printing new lines (Ctrl-C stops).")
@click.option("--emulator", is_flag=True, help=EMULATOR_HELP)
@click.pass_obj
def logs(app: Any, env: str, service: str, since: str, follow_logs: bool, emulator: bool) -> None:
    """SERVICE's CloudWatch Logs from all its tasks, ordered by time; --follow until Ctrl-C.

    Only log lines go to stdout; that there are none is said on stderr.
    """
    from hclforge.cli import deploy as lib

    ws = app.workspace(env, emulator=emulator, stream=False)
    for line in lib.log_lines(ws, service, since=since, follow_logs=follow_logs, on_empty=_stderr):
        click.echo(line)


@click.command(
    "run",
    context_settings={"ignore_unknown_options": True},
    epilog="Example: hclforge run dev api -- python -m migrate",
)
@click.argument("env", shell_complete=complete_env)
@click.argument("service", shell_complete=complete_service)
@click.argument("command", nargs=-1, type=click.UNPROCESSED, metavar="-- CMD...")
@click.option("--no-wait", is_flag=True, help="Print the task ARN and return.")
@click.option("--timeout", default="10m", show_default=True, help="How long to wait for the task to stop.")
@click.option("--emulator", is_flag=True, help=EMULATOR_HELP)
@click.pass_obj
def run_cmd(
    app: Any, env: str, service: str, command: tuple[str, ...], no_wait: bool, timeout: str, emulator: bool
) -> None:
    """Run CMD once in a new task of SERVICE, stream its logs, and exit with CMD's exit code.

    The task gets SERVICE's task definition and network. On the emulator no container
    runs: the task is started, and run says so and exits 1 (0 with --no-wait).
    """
    from hclforge.cli import deploy as lib
    from hclforge.cli.durations import seconds

    ws = app.workspace(env, emulator=emulator, stream=False)
    result = lib.run_one(
        ws,
        service,
        list(command),
        wait=not no_wait,
        timeout=seconds(timeout),
        on_started=lambda spec: click.echo(spec.task_arn),
        on_line=click.echo,
        on_note=_stderr,
    )
    if result is not None:
        click.echo(f"task stopped: exit code 0 ({result.stopped_reason or 'done'})", err=True)


def register(group: click.Group) -> None:
    """Add set-image, deploy, status, logs and run to ``group``."""
    for command in (set_image_cmd, deploy, status, logs, run_cmd):
        group.add_command(command)
