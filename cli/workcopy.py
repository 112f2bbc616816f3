"""The working copy of a generated tree, and hclforge's override files in it.

terraform runs on ``modules/<env>/`` itself, or on a copy of it under
``.hclforge/envs/<env>/`` when the run needs overrides: the emulator (a local
backend, fake keys, the emulator's account) or ``--allow-replace`` (no
``prevent_destroy``). ``modules/`` is never changed. The overrides are terraform's
JSON syntax, written with :func:`json.dumps`: no HCL is built by hand here.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hclforge import envcache, protect
from hclforge.cli import emulator
from hclforge.cli.private import private_dir, write_private
from hclforge.cli.root import LOCK_FILE
from hclforge.errors import UsageError
from hclforge.tree import MODULES_DIR, FileChange, is_fresh, stamp_text

if TYPE_CHECKING:
    from hclforge.cli.settings import Settings
    from hclforge.loaded import LoadedEnv
    from hclforge.model import EnvConfig

OVERRIDE_FILE = "hclforge_override.tf.json"
_RESOURCE_RE = re.compile(r'^resource "([^"]+)" "([^"]+)" \{')


def _override(doc: dict[str, Any]) -> str:
    return json.dumps({"//": "Added by hclforge to a copy of the tree; modules/ is unchanged.", **doc}, indent=2) + "\n"


def emulator_override(state_path: Path) -> str:
    """The override that points a copy of any tree at the emulator.

    It swaps the backend for a local state file and gives the provider fake
    credentials and the emulator's account; the endpoint comes from
    ``AWS_ENDPOINT_URL`` (tflocal's approach, without a port in any file).
    """
    return _override(
        {
            "terraform": {"backend": {"local": {"path": str(state_path)}}},
            "provider": {
                "aws": {
                    "profile": None,
                    "access_key": "test",
                    "secret_key": "test",
                    "allowed_account_ids": [emulator.ACCOUNT_ID],
                }
            },
        }
    )


def local_backend_override(state_path: Path) -> str:
    """An override that keeps a copy of the tree on the original local state file."""
    return _override({"terraform": {"backend": {"local": {"path": str(state_path)}}}})


def protected_resources(tree: Path) -> dict[str, list[tuple[str, str]]]:
    """Resources of the tree whose type is protected (:data:`hclforge.protect.PROTECTED_TYPES`),
    by module directory ('' for the root): the blocks ``--allow-replace`` lifts ``prevent_destroy`` on."""
    found: dict[str, list[tuple[str, str]]] = {}
    for path in sorted(tree.rglob("*.tf")):
        rel = path.relative_to(tree)
        if rel.parts[0].startswith("."):
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            match = _RESOURCE_RE.match(line)
            if match and match.group(1) in protect.PROTECTED_TYPES:
                module = rel.parent.as_posix() if rel.parent != Path(".") else ""
                found.setdefault(module, []).append((match.group(1), match.group(2)))
    return found


def protected_addresses(tree: Path) -> list[str]:
    """Full addresses of the protected resources (``module.ecs.aws_ecs_cluster.this``)."""
    return sorted(
        (f"module.{module}." if module else "") + f"{rtype}.{name}"
        for module, resources in protected_resources(tree).items()
        for rtype, name in resources
    )


def unprotect_override(resources: list[tuple[str, str]]) -> str:
    """An override that lifts ``prevent_destroy`` from the given resources (``--allow-replace``)."""
    blocks: dict[str, dict[str, Any]] = {}
    for rtype, name in resources:
        blocks.setdefault(rtype, {})[name] = {"lifecycle": {"prevent_destroy": False}}
    return _override({"resource": blocks})


def overrides_for(tree: Path, *, state: Path | None, emulator_state: Path | None, unprotect: bool) -> dict[str, str]:
    """The override files of a working copy, by path relative to it.

    Args:
        tree: the generated tree the copy is made from.
        state: the tree's local state file (kept by a copy off the emulator), if it has one.
        emulator_state: the copy's own state on the emulator, when the copy targets it.
        unprotect: lift ``prevent_destroy`` from the protected resources.
    """
    overrides: dict[str, str] = {}
    if emulator_state is not None:
        overrides[OVERRIDE_FILE] = emulator_override(emulator_state)
    elif state is not None:
        overrides[OVERRIDE_FILE] = local_backend_override(state)
    if unprotect:
        for module, resources in protected_resources(tree).items():
            overrides[f"{module}/{OVERRIDE_FILE}" if module else OVERRIDE_FILE] = unprotect_override(resources)
    return overrides


def sync_copy(source: Path, dest: Path, overrides: dict[str, str]) -> None:
    """Make ``dest`` a copy of the generated tree ``source`` plus hclforge's override files.

    Only ``.tf`` files and the lock file are copied; ``dest``'s own ``.terraform``
    is kept, so an unchanged copy needs no new init. ``overrides`` maps relative
    paths (``hclforge_override.tf.json``, ``ecs/hclforge_override.tf.json``) to their text.
    """
    dest.mkdir(parents=True, exist_ok=True)
    wanted = {p.relative_to(source) for p in source.rglob("*.tf") if not p.relative_to(source).parts[0].startswith(".")}
    for old in [*dest.rglob("*.tf"), *dest.rglob("*.tf.json")]:
        rel = old.relative_to(dest)
        if rel not in wanted and rel.as_posix() not in overrides:
            old.unlink()
    for rel in wanted:
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        data = (source / rel).read_bytes()
        if not target.is_file() or target.read_bytes() != data:
            target.write_bytes(data)
    if (source / LOCK_FILE).is_file() and not (dest / LOCK_FILE).is_file():
        shutil.copyfile(source / LOCK_FILE, dest / LOCK_FILE)
    for rel_name, text in overrides.items():
        target = dest / rel_name
        if not target.is_file() or target.read_text(encoding="utf-8") != text:
            target.write_text(text, encoding="utf-8")


def render(settings: Settings, loaded: LoadedEnv, info: Callable[[str], None]) -> list[FileChange]:
    """Render an environment into ``modules/<env>/`` when it is stale; the files written.

    Fresh means the render stamp's key and files match (:func:`hclforge.tree.is_fresh`):
    then nothing is rendered, and the renderer is not even imported.

    Args:
        settings: the project settings.
        loaded: the environment, validated.
        info: told what was rendered, when anything was.
    """
    root, env, key = settings.root, loaded.name, envcache.inputs_key(loaded.inputs)
    files_dir = settings.env_dir(env)
    # Walked (no link followed) before its stamp is read and before the working copy is written there.
    private_dir(files_dir)
    stamp = files_dir / "render.json"
    if is_fresh(root, env, stamp, key):
        return []
    from hclforge import render as renderer

    renderer.use_bytecode_cache(private_dir(settings.state_dir / "cache" / "jinja"))
    rendered = renderer.render_env(loaded)
    written = [c for c in renderer.write_tree(root, rendered) if c.action != "identical"]
    write_private(stamp, stamp_text(rendered, key))
    if written:
        info(f"rendered {MODULES_DIR}/{env}/ ({len(written)} files changed)")
    return written


def refuse_split(env: str, cfg: EnvConfig) -> None:
    """Refuse a command that works on one root (init, output, routes, exec...) on a split environment.

    Raises:
        UsageError: ``state.split: service`` (exit 2), before any terraform or emulator starts.
    """
    if cfg.split:
        raise UsageError(
            f"{env} has state.split: service: this command works on one root, and {env} has a root per "
            f"service (modules/{env}/shared/, modules/{env}/services/<root>/); plan, apply, deploy, destroy, "
            "drift and validate run its roots in order (docs/state-split.md)"
        )
