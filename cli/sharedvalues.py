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
from hclforge.cli.private import private_dir, read_private, write_private
from hclforge.errors import FileTooLargeError, SharedOutputsError, TerraformError
from hclforge.roots import SHARED, RootLayout, input_values, inputs_text, shared_outputs_file

# The largest kept outputs file read: shared's outputs for hundreds of services are a few hundred KiB.
MAX_OUTPUTS_BYTES = 16 * 1024 * 1024
# Makes the workspace of one root (the CLI's factory: its output callbacks, --emulator, --allow-replace).
MakeWorkspace = Callable[[RootLayout], Workspace]


def kept_outputs(project: Path, env: str) -> dict[str, Any] | None:
    """Shared's outputs as kept after it last applied (None: never kept on this machine).

    Read as hclforge reads its own files under ``.hclforge/`` (:func:`~hclforge.paths.read_private`):
    never through a link, never blocking on a FIFO, at most :data:`MAX_OUTPUTS_BYTES`.

    Raises:
        UnsafePathError: the file (or a directory on the way) is a link, not a regular
            file, or not the user's own (exit 2); it is not read.
        SharedOutputsError: it is not shared's ``terraform output -json`` (damaged, or
            too large); the message says to remove it, and what happens then.
    """
    rel = shared_outputs_file(env)
    try:
        raw = read_private(project / rel, MAX_OUTPUTS_BYTES)
    except FileNotFoundError:
        return None
    except FileTooLargeError as err:
        raise _damaged(rel, env, str(err)) from None
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as err:
        raise _damaged(rel, env, f"not JSON ({err})") from None
    if not isinstance(doc, dict) or not all(isinstance(v, dict) and "value" in v for v in doc.values()):
        raise _damaged(rel, env, "not a JSON object of outputs, each with its value")
    return doc


def _damaged(rel: str, env: str, why: str) -> SharedOutputsError:
    return SharedOutputsError(
        f"{rel} is not shared's outputs as hclforge kept them: {why}; nothing was planned or applied. "
        f"Remove it: the next 'hclforge plan {env}' reads shared's outputs from its state again"
    )


def keep_outputs(shared: Workspace) -> dict[str, Any]:
    """Read shared's outputs (``terraform output -json``) and keep them for the service roots."""
    outputs: dict[str, Any] = shared.runner().output_json()
    path = shared.settings.root / shared_outputs_file(shared.env)
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
    outputs = kept_outputs(ws.settings.root, ws.env)
    if outputs is None:
        assert ws.layout is not None
        shared = make(RootLayout(ws.env, SHARED))
        shared.init()
        outputs = keep_outputs(shared)
    write_inputs(ws, outputs)
