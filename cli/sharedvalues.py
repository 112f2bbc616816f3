"""A split environment's shared values: shared's outputs, kept after it applies; each service root's var file.

No root reads another root's state at plan time (DESIGN §10): after shared applies,
its ``terraform output -json`` is kept (:func:`keep_outputs`), and each service root
takes the values it needs from it as a var file of literal values
(:func:`write_inputs`, :func:`hclforge.roots.input_values`). A saved service plan is
bound to that file's digest (:mod:`~hclforge.cli.binding`), so it is refused once
shared's values changed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hclforge.cli.ops import Workspace
from hclforge.cli.private import private_dir, write_private
from hclforge.errors import TerraformError
from hclforge.roots import SHARED, RootLayout, input_values, inputs_text, shared_outputs_file

# Makes the workspace of one root (the CLI's factory: its output callbacks, --emulator, --allow-replace).
MakeWorkspace = Callable[[RootLayout], Workspace]


def outputs_path(ws: Workspace) -> Path:
    """Where shared's outputs are kept; an ``--emulator`` run of a real environment keeps its own."""
    path = ws.settings.root / shared_outputs_file(ws.env)
    copy = ws.force_emulator and not ws.loaded.config.aws.emulator
    return path.with_name(f"emulator-{path.name}") if copy else path


def kept_outputs(ws: Workspace) -> dict[str, Any] | None:
    """Shared's outputs as kept after it last applied (None: never kept on this machine)."""
    path = outputs_path(ws)
    if not path.is_file():
        return None
    doc = json.loads(path.read_text(encoding="utf-8"))
    return doc if isinstance(doc, dict) else None


def keep_outputs(shared: Workspace) -> dict[str, Any]:
    """Read shared's outputs (``terraform output -json``) and keep them for the service roots."""
    outputs: dict[str, Any] = shared.runner().output_json()
    path = outputs_path(shared)
    private_dir(path.parent)
    write_private(path, json.dumps(outputs, indent=2, sort_keys=True) + "\n")
    return outputs


def read_outputs(shared: Workspace) -> dict[str, Any] | None:
    try:
        return keep_outputs(shared)
    except TerraformError:  # not readable: the service roots wait for shared's apply
        return None


def write_inputs(ws: Workspace, outputs: dict[str, Any]) -> bool:
    """Write a service root's var file from shared's ``outputs``; True when its content changed.

    Raises:
        SharedOutputsError: shared lacks a value the root takes (shared must apply first).
    """
    assert ws.layout is not None and ws.root.var_file is not None
    text = inputs_text(input_values(ws.loaded.config, ws.layout, outputs))
    path = ws.root.var_file
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return False
    private_dir(path.parent)
    write_private(path, text)
    return True


def ensure_inputs(make: MakeWorkspace, ws: Workspace) -> None:
    """Give one service root its var file before it plans alone (``--root``, ``--service``, ``deploy``).

    Shared's kept outputs are used; on a machine that never applied shared (a CI
    runner), they are read once from shared's state and kept.
    """
    if ws.layout is None or ws.layout.shared:
        return
    outputs = kept_outputs(ws)
    if outputs is None:
        assert ws.layout is not None
        shared = make(RootLayout(ws.env, SHARED))
        shared.init()
        outputs = keep_outputs(shared)
    write_inputs(ws, outputs)
