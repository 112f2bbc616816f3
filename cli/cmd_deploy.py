"""Day-two commands: set-image, deploy, status, logs, run.

A placeholder: the commands are written in another branch, which replaces this file.
"""

from __future__ import annotations

import click


def register(group: click.Group) -> None:
    """Add the day-two commands to ``group`` (none yet)."""
