"""``hclforge import copilot``: bring an AWS Copilot application's manifests in as environment files."""

from __future__ import annotations

import os
from pathlib import Path

import click

from hclforge.cli.app import App, echo_lines, pass_app


def _pairs(values: tuple[str, ...], flag: str, *, optional_value: bool = False) -> list[tuple[str, str]]:
    """``NAME=VALUE`` flags as pairs (``NAME`` alone is ``NAME=NAME`` where allowed)."""
    pairs = []
    for value in values:
        name, sep, rest = value.partition("=")
        if not sep and optional_value:
            rest = name
        if not name or not rest:
            form = "NAME[=NEW]" if optional_value else "SERVICE=URI"
            raise click.BadParameter(f"'{value}' is not {form}", param_hint=flag)
        pairs.append((name, rest))
    return pairs


@click.group("import", epilog="Example: hclforge import copilot ../my-app --region eu-west-1 --account-id 111111111111")
def import_group() -> None:
    """Bring another tool's configuration in as environment files."""


@import_group.command(
    "copilot",
    epilog="Example: hclforge import copilot ../my-app --env test --image api=registry.example.com/api:1",
)
@click.argument("copilot_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--env", "envs", multiple=True, help="Copilot environment to import, as NAME or NAME=NEW (repeatable).")
@click.option("--region", help="Region of environments whose manifests hold none.")
@click.option("--account-id", "account", help="Account id, for the ARNs of SSM parameters and secrets.")
@click.option("--image", "images", multiple=True, help="SERVICE=URI for an image Copilot built (repeatable).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), help="Folder to write to (default: envs/).")
@click.option("--force", is_flag=True, help="Overwrite files that exist.")
@pass_app
def copilot(
    app: App,
    copilot_dir: Path,
    envs: tuple[str, ...],
    region: str | None,
    account: str | None,
    images: tuple[str, ...],
    out: Path | None,
    force: bool,
) -> None:
    """Write envs/<env>.yaml for each environment of the Copilot application in COPILOT_DIR."""
    from hclforge.copilot import import_copilot
    from hclforge.copilot.importer import Options
    from hclforge.copilot.report import table

    options = Options(
        _pairs(envs, "--env", optional_value=True), region, account, dict(_pairs(images, "--image")), os.environ
    )
    target = out or app.root / "envs"
    result = import_copilot(copilot_dir, target, options, force=force, shown=_shown(target, app.root))
    echo_lines(table(result.imported.rows))
    echo_lines([f"   write  {path}" for path in result.written])
    if result.problems:
        echo_lines(["To supply before the environments validate:", *(f"  {p}" for p in result.problems)])
    click.echo(f"next: hclforge render {' '.join(result.imported.envs)} && hclforge validate {result.imported.envs[0]}")


def _shown(target: Path, root: Path) -> str:
    resolved = target.resolve()
    return resolved.relative_to(root).as_posix() if resolved.is_relative_to(root) else str(target)


def register(group: click.Group) -> None:
    """Add ``import`` and its subcommands to ``group``."""
    group.add_command(import_group)
