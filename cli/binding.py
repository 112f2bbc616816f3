"""What binds a saved plan to what was reviewed, and the reasons a saved plan is refused.

Before terraform plans, :func:`freshness` records the YAML, the tree, the provider
lock and the target, and the state's lineage and serial; after it, the plan file's
SHA-256 and the environment's name. ``apply`` checks each (:func:`saved_plan_problem`)
and names the first that differs.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hclforge.cli.terraform import file_digest
from hclforge.cli.workcopy import LOCK_FILE
from hclforge.tree import MODULES_DIR

if TYPE_CHECKING:
    from hclforge.cli.ops import Workspace


def read_json(path: Path) -> dict[str, Any] | None:
    """A JSON object from ``path``; None when it is missing or not a JSON object."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def sha256_file(path: Path) -> str:
    """SHA-256 of a file's bytes, hex."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def hash_text(text: str) -> str:
    """SHA-256 of a text, hex."""
    return hashlib.sha256(text.encode()).hexdigest()


def state_key(state: dict[str, Any] | None) -> dict[str, Any] | None:
    """Lineage and serial; None for "no state yet" (a plan records that as lineage "")."""
    if not state or not state.get("lineage"):
        return None
    return {"lineage": state["lineage"], "serial": state.get("serial")}


def resource_count(state: dict[str, Any] | None) -> int:
    """How many resources a state document holds (0 for no state)."""
    return len((state or {}).get("resources") or [])


def plan_state(plan_file: Path) -> dict[str, Any] | None:
    """Lineage and serial of the state a saved plan was made against (None: no state yet)."""
    with zipfile.ZipFile(plan_file) as zf:
        state = json.loads(zf.read("tfstate")) if "tfstate" in zf.namelist() else None
    return state_key(state)


def plan_terraform_version(plan_file: Path) -> str | None:
    """The terraform version that made a saved plan (recorded in its state snapshot)."""
    with zipfile.ZipFile(plan_file) as zf:
        if "tfstate" not in zf.namelist():
            return None
        version = json.loads(zf.read("tfstate")).get("terraform_version")
    return str(version) if version else None


def freshness(ws: Workspace) -> dict[str, Any]:
    """What a saved plan depends on in the project: YAML, tree, provider lock, target."""
    root = ws.settings.root
    tree = [*ws.work_dir.rglob("*.tf"), *ws.work_dir.rglob("*.tf.json")]
    return {
        "env": ws.env,
        "target": ws.copy_name or "tree",
        "yaml": file_digest([root / s for s in ws.loaded.sources], root),
        "tree": file_digest(tree, ws.work_dir),
        "providers": file_digest([ws.work_dir / LOCK_FILE], ws.work_dir),
        "emulator": ws.on_emulator,
    }


_REASONS = {
    "target": "the plan was made for another copy of the tree (emulator or --allow-replace)",
    "yaml": "the environment's YAML changed since the plan",
    "tree": "the rendered tree {tree} changed since the plan",
    "providers": "the provider versions (.terraform.lock.hcl) changed since the plan",
    "emulator": "the plan was made for another target (emulator or not)",
}


def saved_plan_problem(ws: Workspace, *, targets: list[str] | None = None) -> str | None:
    """Why the saved plan may not be applied as it is, or None when it is the one planned and still fresh.

    ``targets``: the part of the environment the apply is for (``deploy --service``); a
    plan of a part is applied only by a deploy of that same part, never by ``apply``.
    """
    if not ws.plan_file.is_file() or not ws.plan_meta_file.is_file():
        return "there is no saved plan"
    meta = read_json(ws.plan_meta_file) or {}
    if meta.get("env") != ws.env:
        return f"the saved plan was made for environment {meta.get('env')!r}, not {ws.env!r}"
    if meta.get("plan_sha256") != sha256_file(ws.plan_file):
        return (
            f"the plan file {ws.rel(ws.plan_file)} is not the one hclforge planned "
            "(its SHA-256 differs from the one recorded)"
        )
    if sorted(meta.get("targets") or []) != sorted(targets or []):
        planned = ", ".join(meta.get("targets") or []) or "the whole environment"
        return f"the saved plan covers {planned}, not what this command applies"
    now = freshness(ws)
    for key, reason in _REASONS.items():
        if meta.get(key) != now[key]:
            return reason.format(tree=f"{MODULES_DIR}/{ws.env}/")
    version = ws.runner().version().get("terraform_version")
    if meta.get("terraform") != version:
        return f"terraform changed since the plan ({meta.get('terraform')} -> {version})"
    if plan_state(ws.plan_file) != meta.get("state"):
        return "the plan file was made against another state than the one recorded"
    current = state_key(ws.state_doc())
    if meta.get("state") != current:
        before, after = (meta.get("state") or {}).get("lineage"), (current or {}).get("lineage")
        if before and after and before != after:
            return "the state's lineage changed since the plan (another state was put in its place)"
        return "the state changed since the plan (someone applied in between)"
    return None
