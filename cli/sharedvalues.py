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
from hclforge.cli.root import split_root
from hclforge.errors import AwsError, TerraformError
from hclforge.roots import SHARED, RootLayout, input_values, inputs_text, read_kept_outputs, shared_outputs_file

# Makes the workspace of one root (the CLI's factory: its output callbacks, --emulator, --allow-replace).
MakeWorkspace = Callable[[RootLayout], Workspace]


def outputs_path(ws: Workspace) -> Path:
    """Where shared's outputs are kept; an ``--emulator`` run of a real environment keeps its own."""
    path = ws.settings.root / shared_outputs_file(ws.env)
    copy = ws.force_emulator and not ws.loaded.config.aws.emulator
    return path.with_name(f"emulator-{path.name}") if copy else path


def kept_outputs(ws: Workspace) -> dict[str, Any] | None:
    """Shared's outputs as kept after it last applied (None: never kept on this machine).

    Read safely, as :func:`~hclforge.roots.read_kept_outputs` says (its errors too).
    """
    path = outputs_path(ws)
    return read_kept_outputs(path, str(path.relative_to(ws.settings.root)), ws.env)


def keep_outputs(shared: Workspace) -> dict[str, Any]:
    """Read shared's outputs (``terraform output -json``) and keep them for the service roots.

    Beside them is kept which version of shared's state they were read from
    (:func:`shared_state_id`), so a machine that did not apply shared itself notices
    that shared moved on (:func:`current_outputs`).
    """
    outputs: dict[str, Any] = shared.runner().output_json()
    path = outputs_path(shared)
    private_dir(path.parent)
    write_private(path, json.dumps(outputs, indent=2, sort_keys=True) + "\n")
    write_private(_source_path(path), shared_state_id(shared) + "\n")
    return outputs


def _source_path(path: Path) -> Path:
    return path.with_name(path.name + ".source")


def shared_state_id(ws: Workspace) -> str:
    """Which version of the environment's shared state is current, read without terraform.

    A local state: its file's size and modification time. S3: the state object's
    ETag (one HEAD request, whatever the state's size). ``absent`` when there is none.

    Raises:
        AwsError: S3 could not be asked (credentials, network).
    """
    cfg = ws.loaded.config
    copy = ws.force_emulator and not cfg.aws.emulator
    root = split_root(ws.settings, cfg, RootLayout(ws.env, SHARED), emulator_copy=copy)
    if root.state_file is not None:
        try:
            st = root.state_file.stat()
        except FileNotFoundError:
            return "absent"
        return f"file:{st.st_size}:{st.st_mtime_ns}"
    try:
        head = ws.aws_client("s3").head_object(Bucket=cfg.backend.bucket, Key=root.state_key)
    except Exception as err:  # botocore's ClientError (and its transport errors): only a 404 is "no state"
        if getattr(err, "response", {}).get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return "absent"
        raise AwsError(f"could not read the version of {ws.env}'s shared state in S3: {err}") from None
    return f"s3:{head.get('ETag', '')}:{head.get('VersionId', '')}"


def current_outputs(ws: Workspace) -> dict[str, Any] | None:
    """Shared's kept outputs while shared's state is the one they were read from; None once it moved on.

    Shared applied on another machine (a CI job) leaves this machine's kept outputs
    stale: a service root planned with them would take old values (Atmos #2355).
    """
    outputs = kept_outputs(ws)
    if outputs is None:
        return None
    source = _source_path(outputs_path(ws))
    recorded = source.read_text(encoding="utf-8").strip() if source.is_file() and not source.is_symlink() else ""
    if recorded != shared_state_id(ws):
        ws.info(f"{ws.env}/shared's state changed since its outputs were kept here: reading them again")
        return None
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

    Shared's kept outputs are used while shared's state has not moved since; on a
    machine that never applied shared (a CI runner), or after shared was applied
    elsewhere, they are read once from shared's state and kept.
    """
    if ws.layout is None or ws.layout.shared:
        return
    outputs = current_outputs(ws)
    if outputs is None:
        assert ws.layout is not None
        shared = make(RootLayout(ws.env, SHARED))
        shared.init()
        outputs = keep_outputs(shared)
    write_inputs(ws, outputs)
