"""The ``state`` group: move an environment between one state and a state per root, nothing destroyed."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from hclforge.cli.app import EMULATOR_HELP, App, echo_lines, pass_app
from hclforge.cli.completion import complete_env

if TYPE_CHECKING:
    from hclforge.cli.ops import Workspace
    from hclforge.roots import RootLayout

JOBS_HELP = "How many service-root applies or plans run at once (default: CPUs)."


@click.group("state", epilog="Example: hclforge state split dev")
def state_group() -> None:
    """Move an environment's resources between one state and a state per root (state.split)."""


def _run(app: App, command: str, env: str, emulator: bool, jobs: int | None, groups: tuple[str, ...] = ()) -> None:
    from hclforge.cli import splitcli, splitrun, statesettle
    from hclforge.cli.statemove import Move

    def make(layout: RootLayout | None) -> Workspace:
        if layout is None:
            return app.workspace(env, emulator=emulator)
        return splitcli.maker(app, env, emulator=emulator)(layout)

    loaded = app.workspace(env, emulator=emulator, stream=False).loaded
    parsed = {name: members.split(",") for name, _, members in (g.partition("=") for g in groups)}
    copy = emulator and not loaded.config.aws.emulator
    move = Move(command, loaded, make, emulator_copy=copy, info=app.info, groups=parsed)
    result = statesettle.run(move, jobs=jobs or splitrun.default_jobs())
    echo_lines(statesettle.report(move, result))
    statesettle.raise_failed(move, result)


@state_group.command("split", epilog="Example: hclforge state split dev")
@click.argument("env", shell_complete=complete_env)
@click.option("--emulator", is_flag=True, help=EMULATOR_HELP)
@click.option("--jobs", "-j", type=click.IntRange(1, 64), default=None, help=JOBS_HELP)
@pass_app
def state_split(app: App, env: str, emulator: bool, jobs: int | None) -> None:
    """Move ENV's one state into a state per root (its YAML says state.split: service), keeping every id.

    The old state is backed up under .hclforge/envs/ENV/ and emptied once every root's
    state is written; an interrupted split finishes when run again.
    """
    _run(app, "split", env, emulator, jobs)


@state_group.command("join", epilog="Example: hclforge state join dev --group payments=billing,invoices")
@click.argument("env", shell_complete=complete_env)
@click.option("--emulator", is_flag=True, help=EMULATOR_HELP)
@click.option(
    "--group",
    "groups",
    multiple=True,
    metavar="ROOT=SVC,SVC",
    help="A group root ENV had while split (its state.groups); other services had a root each.",
)
@pass_app
def state_join(app: App, env: str, emulator: bool, groups: tuple[str, ...]) -> None:
    """Move the states of ENV's split layout back into one (its YAML no longer says state.split), keeping every id.

    Each state of the split layout is backed up under .hclforge/envs/ENV/ and emptied once the one
    state is written; an interrupted join finishes when run again.
    """
    _run(app, "join", env, emulator, None, groups)


def register(group: click.Group) -> None:
    """Add the ``state`` group to ``group``."""
    group.add_command(state_group)
