"""Local state files of a root: kept private, and set aside when the emulator restarted."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from hclforge.cli.private import private_dir, write_private

if TYPE_CHECKING:
    from hclforge.cli.emulator import Emulator
    from hclforge.cli.root import Root


def privatize(root: Root, state_dir: Path) -> None:
    """Make local state written before hclforge kept it private (0644 then) 0600 now.

    Args:
        root: the root whose local state it is (none: nothing to do).
        state_dir: the project's ``.hclforge/``; a state directory inside it is made 0700.
    """
    state = root.state_file
    if state is None or not state.parent.is_dir():
        return
    if state.parent.is_relative_to(state_dir):
        private_dir(state.parent)
    for path in state.parent.glob(state.name + "*"):
        try:  # by descriptor: a link swapped in is never followed, so never chmodded through
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError:
            continue
        try:
            info = os.fstat(fd)
            if stat.S_ISREG(info.st_mode) and info.st_mode & 0o077:
                os.fchmod(fd, 0o600)
        finally:
            os.close(fd)


def void_stale(root: Root, emu: Emulator, info: Callable[[str], None]) -> None:
    """Set aside local state written against an earlier emulator process.

    The emulator keeps everything in memory, so after a restart that state
    lists resources that no longer exist, and refreshing them makes the
    provider retry for minutes.
    """
    state = root.state_file
    if state is None or not emu.generation:
        return
    marker = state.with_name(state.name + ".emulator")
    seen = marker.read_text(encoding="utf-8") if marker.is_file() else ""
    if seen != emu.generation:
        if state.is_file() and seen:
            state.replace(state.with_name(f"{state.name}.void-{seen}"))
            info(f"the emulator was restarted: its resources are gone, so {root.env} starts from empty state")
        write_private(marker, emu.generation)
