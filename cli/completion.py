"""Shell completion of environment and service names (click's ``shell_complete`` callbacks).

A completion runs with the command line parsed so far and no command invoked: the
project root is ``--root`` if it was typed, else found from the working directory
as the commands find it. Names come from :mod:`hclforge.names`, which reads files
only and never fails: a broken environment offers nothing.
"""

from __future__ import annotations

from pathlib import Path

import click
from click.shell_completion import CompletionItem

from hclforge.cli.settings import find_root


def _root(ctx: click.Context) -> Path:
    given = ctx.find_root().params.get("root")
    return Path(given) if given else find_root(Path.cwd())


def complete_env(ctx: click.Context, _param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """The environments under ``envs/`` that start with ``incomplete``."""
    from hclforge.names import env_names

    return [CompletionItem(name) for name in env_names(_root(ctx)) if name.startswith(incomplete)]


def complete_service(ctx: click.Context, _param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """The services of the environment typed before (ENV) that start with ``incomplete``."""
    from hclforge.names import service_names

    env = ctx.params.get("env")
    if env is None:
        # Completing an option's value (deploy ENV --service <Tab>): click stops parsing at the
        # option that lacks its value, so ENV is still among the arguments it did not take.
        env = next((arg for arg in ctx.args if not arg.startswith("-")), None)
    if not isinstance(env, str):
        return []
    return [CompletionItem(name) for name in service_names(_root(ctx), env) if name.startswith(incomplete)]
