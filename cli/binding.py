"""What binds a saved plan to what was reviewed, and the reasons a saved plan is refused.

Before terraform plans, :func:`freshness` records the YAML, the tree, the provider
lock and the target, and the state's lineage and serial; after it, the plan file's
SHA-256 and the environment's name. ``apply`` checks each, in the order of
:func:`file_problem`, :func:`input_problem`, :func:`terraform_problem` and
:func:`state_problem` (cheapest first), and names the first that differs.

Every function here takes a :class:`~hclforge.cli.root.Root` and plain values: what
terraform says (its version, the state) is read by the caller and passed in.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path
from typing import Any

from hclforge.cli.root import Root
from hclforge.cli.terraform import file_digest
from hclforge.tree import MODULES_DIR


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


def plan_prior_state(plan_file: Path) -> dict[str, Any] | None:
    """The state a plan started from, before its refresh (a plan file's ``tfstate-prev``: ``moved`` blocks applied).

    Terraform writes it into the plan file of a failed plan too (a ``prevent_destroy``
    stop). None: no state yet, or no readable plan file (a plan that failed before writing one).
    """
    try:
        with zipfile.ZipFile(plan_file) as zf:
            names = zf.namelist()
            name = "tfstate-prev" if "tfstate-prev" in names else "tfstate"
            state = json.loads(zf.read(name)) if name in names else None
    except (OSError, zipfile.BadZipFile, ValueError):
        return None
    return state if isinstance(state, dict) else None


def plan_terraform_version(plan_file: Path) -> str | None:
    """The terraform version that made a saved plan (recorded in its state snapshot)."""
    with zipfile.ZipFile(plan_file) as zf:
        if "tfstate" not in zf.namelist():
            return None
        version = json.loads(zf.read("tfstate")).get("terraform_version")
    return str(version) if version else None


def freshness(root: Root, sources: list[str], on_emulator: bool) -> dict[str, Any]:
    """What a saved plan depends on in the project: YAML, tree, provider lock, target.

    Args:
        root: the root planned.
        sources: the environment's YAML files, relative to the project (``LoadedEnv.sources``).
        on_emulator: whether terraform talks to the emulator.
    """
    project, work = root.project_dir, root.work_dir
    tree = [*work.rglob("*.tf"), *work.rglob("*.tf.json")]
    return {
        "env": root.env,
        "root": root.name,
        "target": root.copy_name or "tree",
        # A root of a split environment is bound to its own tree and inputs: a YAML change
        # that does not reach its tree (another service's image) leaves its plan fresh.
        "yaml": file_digest([project / s for s in sources], project) if not root.name else "",
        "tree": file_digest(tree, work),
        "inputs": file_digest([root.var_file], root.var_file.parent) if root.var_file else "",
        "providers": file_digest([root.provider_lock], work),
        "emulator": on_emulator,
    }


_REASONS = {
    "root": "the plan was made for another root of the environment",
    "target": "the plan was made for another copy of the tree (emulator or --allow-replace)",
    "yaml": "the environment's YAML changed since the plan",
    "tree": "the rendered tree {tree} changed since the plan",
    "inputs": "the values it takes from shared changed since the plan (shared was applied)",
    "providers": "the provider versions (.terraform.lock.hcl) changed since the plan",
    "emulator": "the plan was made for another target (emulator or not)",
}

NO_SAVED_PLAN = "there is no saved plan"


def saved_meta(root: Root) -> dict[str, Any]:
    """The saved plan's metadata ({} when there is none)."""
    return read_json(root.plan_meta_file) or {}


def file_problem(root: Root, *, targets: list[str] | None = None) -> str | None:
    """Why the saved plan file is not the one planned for this root and part; None when it is.

    ``targets``: the part of the environment the apply is for (``deploy --service``); a
    plan of a part is applied only by a deploy of that same part, never by ``apply``.
    """
    if not root.plan_file.is_file() or not root.plan_meta_file.is_file():
        return NO_SAVED_PLAN
    meta = saved_meta(root)
    if meta.get("env") != root.env:
        return f"the saved plan was made for environment {meta.get('env')!r}, not {root.env!r}"
    if meta.get("plan_sha256") != sha256_file(root.plan_file):
        return (
            f"the plan file {root.rel(root.plan_file)} is not the one hclforge planned "
            "(its SHA-256 differs from the one recorded)"
        )
    if sorted(meta.get("targets") or []) != sorted(targets or []):
        planned = ", ".join(meta.get("targets") or []) or "the whole environment"
        return f"the saved plan covers {planned}, not what this command applies"
    return None


def input_problem(root: Root, meta: dict[str, Any], now: dict[str, Any]) -> str | None:
    """Which of the plan's inputs (``meta``) changed since it was made (``now``: :func:`freshness` today)."""
    for key, reason in _REASONS.items():
        if meta.get(key) != now[key]:
            return reason.format(tree=f"{MODULES_DIR}/{root.env}/" + (f"{root.name}/" if root.name else ""))
    return None


def terraform_problem(meta: dict[str, Any], version: str | None) -> str | None:
    """Whether terraform (``version``: the one that would apply) is another than the planner's."""
    if meta.get("terraform") != version:
        return f"terraform changed since the plan ({meta.get('terraform')} -> {version})"
    return None


def state_problem(root: Root, meta: dict[str, Any], current: dict[str, Any] | None) -> str | None:
    """Whether the state (``current``: the state document now) moved since the plan."""
    if plan_state(root.plan_file) != meta.get("state"):
        return "the plan file was made against another state than the one recorded"
    now = state_key(current)
    if meta.get("state") != now:
        before, after = (meta.get("state") or {}).get("lineage"), (now or {}).get("lineage")
        if before and after and before != after:
            return "the state's lineage changed since the plan (another state was put in its place)"
        return "the state changed since the plan (someone applied in between)"
    return None


def discard_plan(root: Root) -> None:
    """Throw away the root's saved plan and its metadata."""
    for path in (root.plan_file, root.plan_meta_file):
        path.unlink(missing_ok=True)
