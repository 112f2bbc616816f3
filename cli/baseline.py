"""An emulator baseline: the tree of another git revision applied on the emulator first.

A pull request's plan against an empty emulator says "create everything". With a
baseline, the base branch's committed ``modules/<env>/`` is applied on the emulator
to the very state the plan then reads, so the plan shows what the pull request
changes. Only on the emulator: real environments plan against their real state.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from hclforge.cli.workcopy import OVERRIDE_FILE, emulator_override
from hclforge.errors import UsageError
from hclforge.tree import MODULES_DIR

if TYPE_CHECKING:
    from hclforge.cli.ops import Workspace


def _git(root: Path, *args: str) -> bytes:
    done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, check=False)
    if done.returncode != 0:
        raise UsageError(f"git {' '.join(args)}: {done.stderr.decode(errors='replace').strip()}")
    return done.stdout


def apply_baseline(ws: Workspace, ref: str) -> int:
    """Apply ``ref``'s committed ``modules/<env>/`` on the emulator, into the state ``ws`` plans from.

    Returns:
        How many files the baseline tree had (0: the environment did not exist at
        ``ref``, and the plan starts from empty state).

    Raises:
        UsageError: not on the emulator, or ``ref`` is not a revision of the repository.
    """
    if not ws.on_emulator:
        raise UsageError("--baseline needs the emulator (--emulator, or an emulator environment)")
    root = ws.settings.root
    prefix = f"{MODULES_DIR}/{ws.env}/"
    names = [n for n in _git(root, "ls-tree", "-r", "--name-only", ref, "--", prefix).decode().splitlines() if n]
    files = [n for n in names if n.endswith(".tf") or n.endswith(".terraform.lock.hcl")]
    if not files:
        ws.info(f"{ws.env} has no tree at {ref}: the plan starts from empty state")
        return 0
    files_dir, state = ws.root.files_dir, ws.root.state_file
    assert state is not None, "an emulator target always keeps local state"
    ws.info(f"applying {ref}'s {prefix} on the emulator as the baseline ({len(files)} files)")
    with tempfile.TemporaryDirectory(prefix="baseline-", dir=files_dir if files_dir.is_dir() else None) as tmp:
        tree = Path(tmp) / "tree"
        for name in files:
            target = tree / name[len(prefix) :]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(_git(root, "show", f"{ref}:{name}"))
        (tree / OVERRIDE_FILE).write_text(emulator_override(state), encoding="utf-8")
        emu = ws.emulator()
        runner = ws.make_runner(tree, Path(tmp) / "tfdata", emu.environ(ws.loaded.config.aws.region))
        runner.init(reconfigure=True)
        runner.run("apply", auto_approve=True, stream=False)
    return len(files)
