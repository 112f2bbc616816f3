"""The ``hclforge`` console script: the commands of every ``cmd_*`` module, and errors mapped once.

Every error is an :class:`~hclforge.errors.HclforgeError`; :func:`main` prints it
once, without a traceback, with :func:`~hclforge.errors.report_lines`, and exits
with the code from :func:`~hclforge.errors.exit_code_for`.
"""

from __future__ import annotations

import signal
import sys
from types import FrameType
from typing import Any

import click

from hclforge.cli import cmd_affected, cmd_config, cmd_deploy, cmd_emulator, cmd_import, cmd_state, cmd_terraform
from hclforge.cli.app import cli, report
from hclforge.errors import EXIT_OK, Aborted, HclforgeError, UsageError, exit_code_for

# In a fixed order (config, terraform, CI, day two, state, emulator, import): never the import order.
for _module in (cmd_config, cmd_terraform, cmd_affected, cmd_deploy, cmd_state, cmd_emulator, cmd_import):
    _module.register(cli)


def _raise_interrupt(signum: int, _frame: FrameType | None) -> None:
    from hclforge.cli.tfprocess import SignalInterrupt

    raise SignalInterrupt(signum)


def _graceful_signals() -> dict[int, Any]:
    """SIGTERM (a CI cancel) and SIGHUP (a closed terminal) stop a command the way Ctrl-C does.

    SIGINT is handled even when hclforge was started with it ignored (a script's background
    job, ``nohup bash -c``): Python then leaves it ignored, and a SIGINT meant to stop an
    apply went unnoticed while terraform applied on. Terraform itself does the same (Go's
    ``signal.Notify`` takes over an ignored SIGINT).

    Returns:
        The handlers they had, to put back afterwards.
    """
    import threading

    if threading.current_thread() is not threading.main_thread():
        return {}
    handlers: dict[int, Any] = {signal.SIGINT: signal.default_int_handler}
    handlers.update(dict.fromkeys((signal.SIGTERM, signal.SIGHUP), _raise_interrupt))
    return {signum: signal.signal(signum, handler) for signum, handler in handlers.items()}


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script: runs the CLI and maps errors to exit codes."""
    previous = _graceful_signals()
    try:
        return _main(argv)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _as_error(err: BaseException) -> HclforgeError:
    """An error from outside hclforge as the one of the table it stands for.

    click's usage errors are usage errors (exit 2), its other errors failures (exit 1);
    Ctrl-C, or a SIGTERM/SIGHUP handled like it (the cause of click's Abort), is :class:`Aborted`.
    """
    if isinstance(err, click.UsageError):
        return UsageError(err.format_message())
    if isinstance(err, click.ClickException):
        return HclforgeError(err.format_message())
    cause = err.__cause__ or err.__context__ if isinstance(err, click.exceptions.Abort) else err
    return Aborted(int(getattr(cause, "signum", signal.SIGINT)))


def _main(argv: list[str] | None) -> int:
    try:
        cli.main(args=argv, prog_name="hclforge", standalone_mode=False)
    except HclforgeError as err:
        report(err)
        return exit_code_for(err)
    except (click.exceptions.Abort, KeyboardInterrupt) as err:
        aborted = _as_error(err)
        report(aborted)
        return exit_code_for(aborted)
    except click.ClickException as err:
        err.show()
        return exit_code_for(_as_error(err))
    except click.exceptions.Exit as err:
        return int(err.exit_code)  # click's own: 0 after --help and --version
    return EXIT_OK


def run() -> None:
    """``hclforge`` console script."""
    sys.exit(main())
