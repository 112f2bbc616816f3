"""The ``emulator`` group: start, stop and status of the local AWS emulator (moto server)."""

from __future__ import annotations

import click

from hclforge.cli.app import App, pass_app


@click.group("emulator", epilog="Example: hclforge emulator start")
def emulator_group() -> None:
    """The local AWS emulator (moto server) on 127.0.0.1."""


@emulator_group.command("start", epilog="Example: hclforge emulator start --port 4566")
@click.option("--port", type=click.IntRange(0, 65535), default=None, help="Port (default: setting, or a free one).")
@pass_app
def emulator_start(app: App, port: int | None) -> None:
    """Start the emulator in the background (or report the running one); it runs until stopped."""
    from hclforge.cli import emulator

    settings = app.settings()
    emu = emulator.start(settings.state_dir, settings.emulator_port if port is None else port)
    click.echo(f"emulator running: {emu.endpoint} (pid {emu.pid})")


@emulator_group.command("stop", epilog="Example: hclforge emulator stop")
@pass_app
def emulator_stop(app: App) -> None:
    """Stop the emulator; its resources are gone with it."""
    from hclforge.cli import emulator

    stopped = emulator.stop(app.settings().state_dir, info=app.info)
    click.echo("emulator stopped" if stopped else "emulator was not running")


@emulator_group.command("status", epilog="Example: hclforge emulator status")
@pass_app
def emulator_status(app: App) -> None:
    """Say whether the emulator runs (exit 1 when not)."""
    from hclforge.cli import emulator
    from hclforge.errors import EmulatorError

    emu = emulator.status(app.settings().state_dir)
    if emu is None:
        raise EmulatorError("emulator not running")
    click.echo(f"emulator running: {emu.endpoint} (pid {emu.pid})")


def register(group: click.Group) -> None:
    """Add the ``emulator`` group to ``group``."""
    group.add_command(emulator_group)
