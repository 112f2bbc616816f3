"""``hclforge affected``: the roots a change affects, for a person or as a GitHub Actions matrix."""

from __future__ import annotations

import json

import click

from hclforge.cli.app import App, echo_lines, pass_app, warn
from hclforge.cli.completion import complete_env


@click.command(epilog="Example: hclforge affected --base origin/main --format json")
@click.option(
    "--base",
    metavar="REF",
    help="Git revision to compare with (default: the merge base of HEAD with the default branch).",
)
@click.option("--env", "envs", multiple=True, shell_complete=complete_env, help="Only this environment (repeatable).")
@click.option(
    "--skip-emulator", is_flag=True, help="Leave out environments on the local emulator (aws.emulator: true)."
)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@pass_app
def affected(app: App, base: str | None, envs: tuple[str, ...], skip_emulator: bool, fmt: str) -> None:
    """List the roots whose rendered tree or inputs changed since REF: shared first, then its dependents.

    A root is shared, services/NAME or . (an environment with one state). With
    --format json: a GitHub Actions matrix {"include": [{"env", "root", "after"}]},
    or {"chunks": [{"include": [...]}, ...]} past 256 roots; removed roots under "removed".
    Needs no AWS credentials and no emulator.
    """
    from hclforge.affected import find_affected, matrix, text_lines

    result = find_affected(app.root, base=base, envs=envs, skip_emulator=skip_emulator, warn=warn)
    if fmt == "json":
        click.echo(json.dumps(matrix(result), separators=(",", ":")))
    else:
        echo_lines(text_lines(result))


def register(group: click.Group) -> None:
    """Add ``affected`` to ``group``."""
    group.add_command(affected)
