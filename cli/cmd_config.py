"""Config commands: envs, show, diff, schema, render, validate, cost, new. None of them runs terraform but validate."""

from __future__ import annotations

import json
from pathlib import Path

import click

from hclforge.cli.app import App, echo_lines, pass_app, warn
from hclforge.cli.completion import complete_env
from hclforge.errors import ConfigError


@click.command(epilog="Example: hclforge envs")
@pass_app
def envs(app: App) -> None:
    """List environments: region, account, backend, services."""
    from hclforge.explain import env_lines

    lines, problems = env_lines(app.root)
    if len(lines) == 1:
        raise click.UsageError(f"no environments under {app.root / 'envs'}")
    echo_lines(lines)
    if problems:
        raise ConfigError(problems)


@click.command(epilog="Example: hclforge show dev --origin")
@click.argument("env", shell_complete=complete_env)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--origin", is_flag=True, help="Each value with the layer and line it came from, or 'default'.")
@pass_app
def show(app: App, env: str, as_json: bool, origin: bool) -> None:
    """Show the layered, validated config of ENV with defaults filled in."""
    import yaml

    from hclforge.config import load_env
    from hclforge.explain import origin_json, origin_lines, origin_rows

    loaded = load_env(app.root, env)
    for problem in loaded.warnings:
        warn(problem)
    data = loaded.config.model_dump(mode="json")
    if origin and as_json:
        click.echo(origin_json(origin_rows(loaded)))
    elif origin:
        echo_lines(origin_lines(origin_rows(loaded)))
    elif as_json:
        click.echo(json.dumps(data, indent=2))
    else:
        click.echo(f"# {env}: layered from {', '.join(loaded.sources)}")
        click.echo(yaml.safe_dump(data, sort_keys=False, allow_unicode=True).rstrip())


_DIFF_COLORS = {"~": "yellow", "-": "red", "+": "green"}


@click.command(epilog="Example: hclforge diff dev prod")
@click.argument("left", shell_complete=complete_env)
@click.argument("right", shell_complete=complete_env)
@pass_app
def diff(app: App, left: str, right: str) -> None:
    """Config differences between two environments (e.g. prod against dev)."""
    from hclforge.config import load_env
    from hclforge.explain import diff_lines, diff_rows

    lines = diff_lines(diff_rows(load_env(app.root, left), load_env(app.root, right)))
    if not lines:
        click.echo(f"{left} and {right} have the same config")
        return
    click.echo(f"--- {left}\n+++ {right}")
    for sign, text in lines:
        click.echo(app.styled(text, fg=_DIFF_COLORS[sign]))


@click.command(epilog="Example: hclforge cost prod")
@click.argument("env", shell_complete=complete_env)
@click.option(
    "--prices", type=click.Path(dir_okay=False, path_type=Path), help="Price file (default: pricing/aws-prices.yaml)."
)
@click.option(
    "--egress-gb",
    type=click.FloatRange(min=0, max=1e9),
    help="GB a month through the NAT gateways or interface endpoints.",
)
@click.option("--requests-per-month", type=click.IntRange(min=0), help="Requests a month to the HTTP API.")
@pass_app
def cost(app: App, env: str, prices: Path | None, egress_gb: float | None, requests_per_month: int | None) -> None:
    """Monthly estimate of ENV (tasks, NAT or endpoints, Container Insights, API), with the same tasks on EKS.

    Traffic-priced items use the usage printed with the estimate; the options change it.
    """
    from hclforge.config import load_env
    from hclforge.cost import Usage, estimate, estimate_lines, load_prices, prices_path

    path = prices or prices_path(app.root)
    usage = Usage.given(egress_gb=egress_gb, requests_per_month=requests_per_month)
    cfg = load_env(app.root, env).config
    echo_lines(estimate_lines(estimate(env, cfg, load_prices(path, str(path)), str(path), usage)))


@click.command("render", epilog="Example: hclforge render --all --check")
@click.argument("envs", nargs=-1, shell_complete=complete_env)
@click.option("--all", "all_envs", is_flag=True, help="Every environment under envs/.")
@click.option("--check", is_flag=True, help="Write nothing; exit 1 with a unified diff when modules/ is stale.")
@pass_app
def render_cmd(app: App, envs: tuple[str, ...], all_envs: bool, check: bool) -> None:
    """Render ENV... into modules/<env>/: plain Terraform, to commit beside the YAML."""
    from hclforge import render as renderer

    results = renderer.render_many(app.root, renderer.select_envs(app.root, envs, all_envs), check=check, warn=warn)
    echo_lines(renderer.result_lines(results, check=check))


@click.command(epilog="Example: hclforge validate --all")
@click.argument("envs", nargs=-1, shell_complete=complete_env)
@click.option("--all", "all_envs", is_flag=True, help="Every environment under envs/.")
@click.option("--no-routes", is_flag=True, help="Skip the request-path check (it plans on the emulator).")
@pass_app
def validate(app: App, envs: tuple[str, ...], all_envs: bool, no_routes: bool) -> None:
    """Check schema, domain rules, terraform validate, and the request path (routes)."""
    from hclforge import render as renderer
    from hclforge.cli.batch import validate_all

    validate_all(
        app.settings(),
        renderer.select_envs(app.root, envs, all_envs),
        check_routes=not no_routes,
        out=click.echo,
        err=lambda line: click.echo(line, err=True),
        **app.workspace_options(),
    )


@click.command(epilog="Example: hclforge schema --check")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="Write to FILE, not stdout.")
@click.option("--check", is_flag=True, help="Exit 1 when the committed schema/ copy is stale.")
@pass_app
def schema(app: App, output: Path | None, check: bool) -> None:
    """Print the JSON Schema of environment files (for editors and CI checks)."""
    from hclforge.schema import SCHEMA_PATH, check_schema, env_schema_text, write_schema

    if check:
        check_schema(app.root)
        click.echo(f"up to date  {SCHEMA_PATH}")
    elif output is not None:
        write_schema(output)
        click.echo(f"wrote {output}")
    else:
        click.echo(env_schema_text(), nl=False)


@click.command(epilog="Example: hclforge new my-project")
@click.argument("directory", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--here", is_flag=True, help="Add to a directory holding files (DIRECTORY, or the current one); never overwrites."
)
@click.option("--project", help="The project name (default: from the directory's name).")
@click.option("--region", default="eu-west-1", show_default=True, help="AWS region of the environments.")
def new(directory: Path | None, here: bool, project: str | None, region: str) -> None:
    """Scaffold a project in DIRECTORY: envs/, rendered modules/, hclforge.toml, Makefile, CI workflow."""
    from hclforge.cli.scaffold import new_project, summary_lines

    if directory is None and not here:
        raise click.UsageError("give a DIRECTORY, or --here for the current directory")
    made = new_project(directory or Path("."), project=project, region=region, here=here)
    echo_lines(summary_lines(made))
    for warning in made.source.warnings:
        click.echo(f"warning: {warning}", err=True)


def register(group: click.Group) -> None:
    """Add the config commands to ``group``."""
    for command in (envs, show, diff, schema, render_cmd, validate, cost, new):
        group.add_command(command)
