"""The ``hclforge`` command line (click). Commands parse options and call :mod:`cli.ops`.

Every error is an :class:`~hclforge.errors.HclforgeError`; :func:`main` prints it
once, without a traceback, and exits with the code from
:func:`~hclforge.errors.exit_code_for`.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from hclforge import __version__
from hclforge.cli import cmd_deploy
from hclforge.errors import (
    ChangesPresent,
    ConfigError,
    HclforgeError,
    Interrupted,
    StaleTreeError,
    exit_code_for,
)


@dataclass
class App:
    """What every command gets: the project root and output preferences."""

    root: Path
    color: bool
    verbose: bool

    def settings(self) -> Any:
        from hclforge.cli.settings import load_settings

        return load_settings(self.root)

    def workspace(self, env: str, *, emulator: bool = False, stream: bool = True, allow_replace: bool = False) -> Any:
        from hclforge.cli.ops import Workspace

        return Workspace(
            self.settings(),
            env,
            emulator=emulator,
            allow_replace=allow_replace,
            **self.workspace_options(stream=stream),
        )

    def workspace_options(self, *, stream: bool = True) -> dict[str, Any]:
        """How a workspace reports: terraform's lines (with -v), messages and progress."""
        sink = self.echo_terraform if (stream and self.verbose) else None
        return {"sink": sink, "info": self.info, "color": self.color, "events": self.events}

    def events(self, title: str, total: int | None, progress: bool) -> Any:
        """The display of a ``-json`` event stream: a rich bar on a terminal, plain lines otherwise.

        Without ``progress`` (plan), only diagnostics and ``-v`` messages are shown.
        """
        from hclforge.cli.progress import EventStream, PlainView, RichView

        view: Any = None
        if progress:
            view = RichView() if self.color and sys.stderr.isatty() else PlainView(self.echo_terraform)
        return EventStream(title, total, view, self.echo_terraform, self.verbose)

    def info(self, message: str) -> None:
        click.secho(message, fg="cyan" if self.color else None, err=True)

    def echo_terraform(self, line: str) -> None:
        click.echo(line, err=True)


pass_app = click.make_pass_decorator(App)


def _interactive() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()


def _confirm(question: str) -> bool:
    return click.confirm(question, default=False)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--root",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Project root holding envs/ (default: the nearest directory upwards with hclforge.toml or envs/).",
)
@click.option("--no-color", is_flag=True, help="No colours (also NO_COLOR).")
@click.option("-v", "--verbose", is_flag=True, help="Stream terraform's own output.")
@click.version_option(version=__version__, prog_name="hclforge")
@click.pass_context
def cli(ctx: click.Context, root: Path | None, no_color: bool, verbose: bool) -> None:
    """Render envs/<env>.yaml into Terraform modules and run terraform on them."""
    color = not no_color and "NO_COLOR" not in os.environ and sys.stdout.isatty()
    from hclforge.cli.settings import find_root

    ctx.obj = App(root=(root or find_root(Path.cwd())).resolve(), color=color, verbose=verbose)


# ------------------------------------------------------------------- config


@cli.command()
@pass_app
def envs(app: App) -> None:
    """List environments: region, account, backend, services."""
    from hclforge.config import env_names, load_env

    names = env_names(app.root)
    if not names:
        raise click.UsageError(f"no environments under {app.root / 'envs'}")
    click.echo(f"{'env':<12} {'region':<16} {'account':<14} {'backend':<8} services")
    problems = []
    for name in names:
        try:
            cfg = load_env(app.root, name).config
        except ConfigError as err:
            problems += err.problems
            click.echo(f"{name:<12} (invalid: see below)")
            continue
        account = "emulator" if cfg.aws.emulator else (cfg.aws.account_id or "-")
        click.echo(f"{name:<12} {cfg.aws.region:<16} {account:<14} {cfg.backend.type:<8} {', '.join(cfg.services)}")
    if problems:
        raise ConfigError(problems)


@cli.command()
@click.argument("env")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--origin", is_flag=True, help="Each value with the layer and line it came from, or 'default'.")
@pass_app
def show(app: App, env: str, as_json: bool, origin: bool) -> None:
    """Show the layered, validated config of ENV with defaults filled in."""
    import yaml

    from hclforge.config import load_env

    loaded = load_env(app.root, env)
    for problem in loaded.warnings:
        _warn(problem)
    data = loaded.config.model_dump(mode="json")
    if origin:
        from hclforge.explain import origin_rows

        rows = origin_rows(loaded)
        if as_json:
            click.echo(json.dumps([{"path": p, "value": json.loads(v), "origin": o} for p, v, o in rows], indent=2))
            return
        width = max(len(p) for p, _, _ in rows)
        vwidth = min(max(len(v) for _, v, _ in rows), 60)
        for path, value, where in rows:
            click.echo(f"{path:<{width}}  {value:<{vwidth}}  {where}")
    elif as_json:
        click.echo(json.dumps(data, indent=2))
    else:
        click.echo(f"# {env}: layered from {', '.join(loaded.sources)}")
        click.echo(yaml.safe_dump(data, sort_keys=False, allow_unicode=True).rstrip())


@cli.command()
@click.argument("left")
@click.argument("right")
@pass_app
def diff(app: App, left: str, right: str) -> None:
    """Config differences between two environments (e.g. prod against dev)."""
    from hclforge.config import load_env
    from hclforge.explain import diff_rows

    rows = diff_rows(load_env(app.root, left), load_env(app.root, right))
    if not rows:
        click.echo(f"{left} and {right} have the same config")
        return
    click.echo(f"--- {left}\n+++ {right}")
    for sign, path, a, b in rows:
        text = {"~": f"~ {path}: {a} -> {b}", "-": f"- {path}: {a}", "+": f"+ {path}: {b}"}[sign]
        color = {"~": "yellow", "-": "red", "+": "green"}[sign]
        click.echo(click.style(text, fg=color) if app.color else text)


@cli.command()
@click.argument("env")
@click.option(
    "--prices", type=click.Path(dir_okay=False, path_type=Path), help="Price file (default: pricing/aws-prices.yaml)."
)
@pass_app
def cost(app: App, env: str, prices: Path | None) -> None:
    """Monthly estimate of ENV's Fargate tasks, with the same tasks on EKS."""
    from hclforge.config import load_env
    from hclforge.cost import estimate, load_prices, prices_path

    if prices is None:
        prices = prices_path(app.root)
    est = estimate(env, load_env(app.root, env).config, load_prices(prices, str(prices)), str(prices))

    def money(pair: tuple[float, float]) -> str:
        low, high = pair
        return f"{low:,.2f}" if abs(high - low) < 0.005 else f"{low:,.2f} .. {high:,.2f}"

    click.echo(f"Monthly estimate for {env} ({est.region}, prices of {est.date}, {est.currency})")
    click.echo(f"{'item':<24} {'detail':<34} {'tasks':>7} {'per month':>22}")
    for line in est.lines:
        tasks = (
            ""
            if line.tasks == (0, 0) and not line.name.startswith("service ")
            else (str(line.tasks[0]) if line.tasks[0] == line.tasks[1] else f"{line.tasks[0]}..{line.tasks[1]}")
        )
        click.echo(f"{line.name:<24} {line.detail:<34} {tasks:>7} {money(line.monthly):>22}")
    click.echo(f"{'total on ECS':<24} {'':<34} {'':>7} {money(est.total):>22}")
    saving = (est.eks_total[0] - est.tasks_total[0], est.eks_total[1] - est.tasks_total[1])
    click.echo("")
    click.echo(
        f"The same tasks on EKS: {money(est.eks_fargate)} Fargate on demand + "
        f"{est.eks_control_plane:,.2f} control plane = {money(est.eks_total)} {est.currency}/month"
    )
    click.echo(f"against {money(est.tasks_total)} on ECS: ECS saves {money(saving)} {est.currency}/month.")
    for note in est.notes:
        click.echo(f"note: {note}")


@cli.command("render")
@click.argument("envs", nargs=-1)
@click.option("--all", "all_envs", is_flag=True, help="Every environment under envs/.")
@click.option("--check", is_flag=True, help="Write nothing; exit 1 with a unified diff when modules/ is stale.")
@pass_app
def render_cmd(app: App, envs: tuple[str, ...], all_envs: bool, check: bool) -> None:
    """Render ENV... into modules/<env>/."""
    from hclforge import render as renderer

    results = renderer.render_many(app.root, renderer.select_envs(app.root, envs, all_envs), check=check, warn=_warn)
    for env, changes in results.items():
        for change in changes:
            if change.action != "identical" and not check:
                click.echo(f"{change.action:>9}  {renderer.MODULES_DIR}/{env}/{change.path}")
        click.echo(f"{'up to date' if check else 'rendered'} {renderer.MODULES_DIR}/{env}/")


@cli.command()
@click.argument("envs", nargs=-1)
@click.option("--all", "all_envs", is_flag=True, help="Every environment under envs/.")
@click.option("--no-routes", is_flag=True, help="Skip the request-path check (it plans on the emulator).")
@pass_app
def validate(app: App, envs: tuple[str, ...], all_envs: bool, no_routes: bool) -> None:
    """Check schema, domain rules, terraform validate, and the request path (routes)."""
    from hclforge import render as renderer
    from hclforge.cli.ops import validate_env
    from hclforge.errors import BrokenPath, TerraformError

    failed, broken = [], []
    for name in renderer.select_envs(app.root, envs, all_envs):
        doc, report = validate_env(app.settings(), name, check_routes=not no_routes, **app.workspace_options())
        for diag in doc.get("diagnostics", []):
            where = diag.get("range", {})
            loc = f"{where.get('filename', '?')}:{where.get('start', {}).get('line', '?')}"
            click.echo(f"{name}: {diag['severity']}: {loc}: {diag['summary']}", err=True)
        if not doc.get("valid"):
            failed.append(name)
        elif report is not None and not report.ok:
            broken.append(name)
            for problem in report.problems:
                click.echo(f"{name}: broken: {problem}", err=True)
        else:
            click.echo(
                f"valid  {name}"
                + (f" (request path: {len(report.routes)} routes, {len(report.calls)} calls)" if report else "")
            )
    if failed:
        raise TerraformError(f"terraform validate failed for: {', '.join(failed)}")
    if broken:
        raise BrokenPath(f"the request path is broken in: {', '.join(broken)} (see 'hclforge routes ENV --emulator')")


@cli.command()
@click.argument("env")
@click.option("--emulator", is_flag=True, help="Plan against the local emulator, without credentials.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@pass_app
def routes(app: App, env: str, emulator: bool, fmt: str) -> None:
    """The request path read from the plan: routes to containers, and calls between services."""
    from hclforge.errors import BrokenPath
    from hclforge.routes import as_table

    report = app.workspace(env, emulator=emulator).routes()
    if fmt == "json":
        click.echo(json.dumps(report.to_json(), indent=2))
    else:
        for line in as_table(report):
            click.echo(line)
    if not report.ok:
        raise BrokenPath(f"{len(report.problems)} broken link(s) in the request path of {env}")


@cli.command()
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="Write to FILE, not stdout.")
@click.option("--check", is_flag=True, help="Exit 1 when the committed schema/ copy is stale.")
@pass_app
def schema(app: App, output: Path | None, check: bool) -> None:
    """JSON Schema of the environment file, from the typed model."""
    from hclforge.schema import SCHEMA_PATH, env_schema_text

    text = env_schema_text()
    if check:
        committed = app.root / SCHEMA_PATH
        current = committed.read_text(encoding="utf-8") if committed.is_file() else ""
        if current != text:
            raise StaleTreeError(f"{SCHEMA_PATH} is stale: run 'hclforge schema -o {SCHEMA_PATH}'\n")
        click.echo(f"up to date  {SCHEMA_PATH}")
    elif output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}")
    else:
        click.echo(text, nl=False)


# ---------------------------------------------------------------- terraform


@cli.command()
@click.argument("env")
@click.option("--emulator", is_flag=True, help="Against the local emulator (on a copy of the tree).")
@click.option("--force", is_flag=True, help="Run init even when nothing changed.")
@pass_app
def init(app: App, env: str, emulator: bool, force: bool) -> None:
    """terraform init, with the provider mirror/cache; skipped when nothing changed."""
    ran = app.workspace(env, emulator=emulator).init(force=force)
    click.echo("initialized" if ran else "init skipped: nothing changed since the last init")


def _print_summary(app: App, summary: Any, fmt: str) -> None:
    from hclforge.cli.summary import as_json, as_markdown, as_table

    if fmt == "json":
        click.echo(as_json(summary))
    elif fmt == "markdown":
        click.echo(as_markdown(summary), nl=False)
    else:
        for text, style in as_table(summary):
            if app.color and style == "warn":
                text = click.style(text, fg="yellow", bold=True)
            elif app.color and style == "bold":
                text = click.style(text, bold=True)
            click.echo(text)


@cli.command()
@click.argument("env", required=False)
@click.option("--all", "all_envs", is_flag=True, help="Every environment, in a bounded parallel pool.")
@click.option(
    "--jobs", "-j", type=click.IntRange(1, 16), default=None, help="Parallel plans with --all (default: CPUs)."
)
@click.option("--emulator", is_flag=True, help="Plan against the local emulator, without credentials.")
@click.option("--format", "fmt", type=click.Choice(["table", "markdown", "json"]), default="table", show_default=True)
@click.option("--detailed-exitcode", is_flag=True, help="Exit 3 when a plan has changes.")
@click.option("--allow-replace", is_flag=True, help="protect: true environments: allow destroying protected resources.")
@click.option(
    "--json-out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the plan's show -json to FILE before returning (for scanners).",
)
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
) -> None:
    """Render if stale, init if needed, plan -out, and print a summary."""
    from hclforge import render as renderer

    names = renderer.select_envs(app.root, [env] if env else [], all_envs)
    if not all_envs:
        ws = app.workspace(names[0], emulator=emulator, allow_replace=allow_replace)
        result = ws.plan()
        if json_out is not None:
            json_out.parent.mkdir(parents=True, exist_ok=True)
            json_out.write_text(json.dumps(ws.terraform.show_json(result.plan_file)), encoding="utf-8")
        _print_summary(app, result.summary, fmt)
        if detailed_exitcode and result.summary.has_changes:
            raise ChangesPresent("the plan has changes")
        return
    from hclforge.cli.ops import plan_many
    from hclforge.errors import TerraformError

    failed: list[HclforgeError] = []
    changes = False
    for outcome in plan_many(app.settings(), names, emulator=emulator, jobs=jobs or os.cpu_count() or 2):
        # One block per environment, printed whole.
        for line in outcome.lines:
            app.info(line)
        if outcome.error is not None:
            failed.append(outcome.error)
            if isinstance(outcome.error, ConfigError):
                click.echo(f"Plan for {outcome.env}: invalid configuration (listed at the end)", err=True)
            else:
                click.echo(f"Plan for {outcome.env}: failed", err=True)
                _report(outcome.error)
        else:
            assert outcome.result is not None
            changes = changes or outcome.result.summary.has_changes
            _print_summary(app, outcome.result.summary, fmt)
        click.echo("")
    if failed:
        problems = [p for e in failed if isinstance(e, ConfigError) for p in e.problems]
        if len(problems) and all(isinstance(e, ConfigError) for e in failed):
            raise ConfigError(problems)
        raise TerraformError(f"{len(failed)} of {len(names)} environment(s) failed to plan")
    if detailed_exitcode and changes:
        raise ChangesPresent("a plan has changes")


@cli.command()
@click.argument("env")
@click.option("--auto-approve", is_flag=True, help="Apply without asking.")
@click.option("--emulator", is_flag=True, help="Apply against the local emulator (on a copy of the tree).")
@click.option("--allow-replace", is_flag=True, help="protect: true environments: allow destroying protected resources.")
@click.option("--no-wait", is_flag=True, help="Do not wait for the rollouts of the ECS services the apply changed.")
@pass_app
def apply(app: App, env: str, auto_approve: bool, emulator: bool, allow_replace: bool, no_wait: bool) -> None:
    """Apply the saved plan if still fresh, else plan and confirm."""
    ws = app.workspace(env, emulator=emulator, allow_replace=allow_replace)

    def confirm(summary: Any) -> bool:
        _print_summary(app, summary, "table")
        return _confirm(f"Apply these changes to {env}?")

    summary = ws.apply(auto_approve=auto_approve, interactive=_interactive(), confirm=confirm)
    if summary.has_changes:
        t = summary.totals
        click.echo(
            f"applied {env}: {t['create']} created, {t['update']} updated, "
            f"{t['replace']} replaced, {t['delete']} deleted"
        )
    cmd_deploy.wait_after_apply(ws, summary, wait=not no_wait)


@cli.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.argument("env")
@click.option("--auto-approve", is_flag=True, help="Destroy without asking (not for protected environments).")
@click.option("--force", is_flag=True, help="Protected environments: required, then the name typed.")
@click.option("--emulator", is_flag=True, help="Destroy on the local emulator (the copy of the tree).")
@click.pass_context
def destroy(ctx: click.Context, env: str, auto_approve: bool, force: bool, emulator: bool) -> None:
    """Destroy every resource of ENV, after confirmation.

    A protected environment (protect: true) needs --force and its name typed,
    or --force --yes-i-mean-ENV without a terminal.
    """
    app: App = ctx.obj
    yes_flag = f"--yes-i-mean-{env}"
    unknown = [a for a in ctx.args if a != yes_flag]
    if unknown:
        raise click.UsageError(f"no such option: {unknown[0]}")
    app.workspace(env, emulator=emulator).destroy(
        auto_approve=auto_approve,
        interactive=_interactive(),
        confirm=_confirm,
        force=force,
        typed_name=lambda: click.prompt(f"Type {env} to destroy every resource of it", default="", show_default=False),
        yes_i_mean=yes_flag in ctx.args,
    )
    click.echo(f"destroyed {env}")


@cli.command()
@click.argument("env")
@pass_app
def bootstrap(app: App, env: str) -> None:
    """Create ENV's S3 state bucket (and DynamoDB lock table), idempotently."""
    app.workspace(env, stream=False).bootstrap()
    click.echo(f"bootstrapped {env}")


@cli.command()
@click.argument("env")
@click.option("--emulator", is_flag=True, help="Check the emulator copy.")
@pass_app
def drift(app: App, env: str, emulator: bool) -> None:
    """Refresh-only plan: exit 3 when something changed behind Terraform."""
    found = app.workspace(env, emulator=emulator).drift()
    if not found:
        click.echo(f"No drift in {env}: the infrastructure matches the state.")
        return
    click.echo(f"Drift in {env} (changed outside Terraform):")
    for item in found:
        detail = ", ".join(item.attributes) if item.action == "changed" else "deleted"
        line = f"  ~ {item.address}: {detail}"
        click.echo(click.style(line, fg="yellow") if app.color else line)
    raise ChangesPresent(f"{len(found)} resource(s) drifted")


@cli.command()
@click.argument("env")
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True, help="JSON output.")
@click.option("--emulator", is_flag=True, help="Outputs of the emulator copy.")
@pass_app
def output(app: App, env: str, name: str | None, as_json: bool, emulator: bool) -> None:
    """Show the outputs of ENV (all, or NAME)."""
    values = app.workspace(env, emulator=emulator, stream=False).outputs(name)
    if as_json:
        click.echo(json.dumps(values, indent=2, sort_keys=True))
    elif name:
        click.echo(values if isinstance(values, str) else json.dumps(values))
    else:
        for key, item in sorted(values.items()):
            value = item["value"]
            click.echo(f"{key} = {value if isinstance(value, str) else json.dumps(value)}")


@cli.command("exec", context_settings={"ignore_unknown_options": True})
@click.argument("env")
@click.argument("service")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
@click.option("--emulator", is_flag=True, help="A task on the local emulator.")
@pass_app
def exec_cmd(app: App, env: str, service: str, command: tuple[str, ...], emulator: bool) -> None:
    """ECS Exec into a running task of SERVICE: hclforge exec ENV SERVICE [-- CMD...] (default /bin/sh)."""
    from hclforge.errors import ToolMissing

    plan = app.workspace(env, emulator=emulator, stream=False).exec_plan(service, list(command))
    if plan.missing:
        click.echo(plan.command_line)
        raise ToolMissing("to run the command above, install: " + "; ".join(plan.missing))
    os.execvpe(plan.argv[0], plan.argv, {**os.environ, **plan.env})


@cli.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--project", help="The project name (default: from the directory's name).")
@click.option("--region", default="eu-west-1", show_default=True, help="AWS region of the environments.")
def new(directory: Path, project: str | None, region: str) -> None:
    """Scaffold a project in DIRECTORY: envs/, hclforge.toml, Makefile, CI workflow."""
    from hclforge.cli.scaffold import new_project

    made = new_project(directory, project=project, region=region)
    for rel in made.files:
        click.echo(f"   create  {rel}")
    click.echo(f"new project {made.project} in {directory}: cd {directory} && hclforge plan local")


cmd_deploy.register(cli)


# ----------------------------------------------------------------- emulator


@cli.group("emulator")
def emulator_group() -> None:
    """The local AWS emulator (moto server) on 127.0.0.1."""


@emulator_group.command("start")
@click.option("--port", type=click.IntRange(0, 65535), default=None, help="Port (default: setting, or a free one).")
@pass_app
def emulator_start(app: App, port: int | None) -> None:
    """Start the emulator (or report the running one)."""
    from hclforge.cli import emulator

    settings = app.settings()
    emu = emulator.start(settings.state_dir, settings.emulator_port if port is None else port)
    click.echo(f"emulator running: {emu.endpoint} (pid {emu.pid})")


@emulator_group.command("stop")
@pass_app
def emulator_stop(app: App) -> None:
    """Stop the emulator; its resources are gone with it."""
    from hclforge.cli import emulator

    stopped = emulator.stop(app.settings().state_dir, info=app.info)
    click.echo("emulator stopped" if stopped else "emulator was not running")


@emulator_group.command("status")
@pass_app
def emulator_status(app: App) -> None:
    """Say whether the emulator runs (exit 1 when not)."""
    from hclforge.cli import emulator
    from hclforge.errors import EmulatorError

    emu = emulator.status(app.settings().state_dir)
    if emu is None:
        raise EmulatorError("emulator not running")
    click.echo(f"emulator running: {emu.endpoint} (pid {emu.pid})")


# --------------------------------------------------------------------- main


def _warn(problem: Any) -> None:
    """Print one :class:`~hclforge.errors.Problem` that does not stop the command."""
    click.echo(f"warning: {problem}", err=True)


def _report(err: HclforgeError) -> None:
    if isinstance(err, ConfigError):
        for problem in err.problems:
            click.echo(str(problem), err=True)
        click.echo(f"{len(err.problems)} problem(s); nothing was written", err=True)
    elif isinstance(err, StaleTreeError) and err.diff.startswith("schema/"):
        click.echo(err.diff, err=True, nl=False)
    elif isinstance(err, StaleTreeError):
        click.echo(err.diff, err=True, nl=False)
        click.echo("modules/ is stale: run 'hclforge render --all' and commit the result", err=True)
    elif isinstance(err, ChangesPresent):
        pass  # the command printed the changes; exit 3 says the rest
    else:
        click.echo(f"error: {err}", err=True)


def _raise_interrupt(signum: int, _frame: Any) -> None:
    from hclforge.cli.terraform import SignalInterrupt

    raise SignalInterrupt(signum)


def _graceful_signals() -> dict[int, Any]:
    """SIGTERM (a CI cancel) and SIGHUP (a closed terminal) stop a command the way Ctrl-C does.

    Returns:
        The handlers they had, to put back afterwards.
    """
    import threading

    if threading.current_thread() is not threading.main_thread():
        return {}
    return {signum: signal.signal(signum, _raise_interrupt) for signum in (signal.SIGTERM, signal.SIGHUP)}


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script: runs the CLI and maps errors to exit codes."""
    previous = _graceful_signals()
    try:
        return _main(argv)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _main(argv: list[str] | None) -> int:
    try:
        cli.main(args=argv, prog_name="hclforge", standalone_mode=False)
    except HclforgeError as err:
        _report(err)
        return exit_code_for(err)
    except (click.exceptions.Abort, KeyboardInterrupt) as err:
        cause = err.__cause__ or err.__context__ if isinstance(err, click.exceptions.Abort) else err
        signum = int(getattr(cause, "signum", signal.SIGINT))
        click.echo(f"aborted ({signal.Signals(signum).name})", err=True)
        return exit_code_for(Interrupted("aborted", signum=signum))
    except click.ClickException as err:
        err.show()
        return err.exit_code
    except click.exceptions.Exit as err:
        return int(err.exit_code)
    return 0


def run() -> None:
    """``hclforge`` console script."""
    sys.exit(main())
