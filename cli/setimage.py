"""``set-image``: pin a service's image in the YAML, check what that does to every environment, re-render.

The edit itself (one line, comments kept, atomic, one writer per file) is
:mod:`hclforge.yamledit`. This module decides whether the edit may be made:

- The file must be ENV's own file or one of its layers. After the edit, ENV's
  effective image must be IMAGE: a layer whose value ENV overrides is refused.
- A layer gets an image only for a service it already defines: an insertion
  there would give every other environment on that layer a new ECS service.
  No environment may gain or lose a service through the edit.
- Every other environment layered on the file whose effective image changes is
  named, and changed only after a yes (a prompt on a terminal, or ``--yes``).

What the edit does is found before anything is written: the environments are
loaded from a scratch copy of ``envs/`` holding the edited text (the real loader
on real files; ``envs/`` itself is not touched). The prompt runs outside the
file's lock, so an answer that takes minutes blocks nobody; the edit is then
worked out again under the lock and made only if it changes no environment
beyond those approved. After the write the environments are loaded again from
``envs/`` and checked the same way; on any failure before the trees are
written, the file is put back (:func:`hclforge.yamledit.restore`).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from hclforge.addons import ADDONS_DIR
from hclforge.errors import ConfigError, HclforgeError, UsageError, printable
from hclforge.paths import MAX_FILE_BYTES, confined, read_regular
from hclforge.tree import ENVS_DIR, RENDER_LOCK_DIR, env_names

if TYPE_CHECKING:
    from hclforge.loaded import LoadedEnv
    from hclforge.yamledit import EditResult

# The project's lock directory (private, under .hclforge/): the per-file YAML locks sit beside the render locks.
LOCK_DIR = RENDER_LOCK_DIR


@dataclass
class ImagePin:
    """What ``set-image`` changed.

    Attributes:
        path: the YAML file edited.
        yaml_diff: its unified diff ('' when nothing changed).
        hcl_diff: the rendered trees' unified diff, ENV's first.
        changed: False when the file already pinned the image.
        others: every other environment whose effective image changed: name -> (old, new).
    """

    path: Path
    yaml_diff: str
    hcl_diff: str
    changed: bool
    others: dict[str, tuple[str, str]] = field(default_factory=dict)


@dataclass
class _Effect:
    """The edit worked out under the lock, and what it does to each environment on the file."""

    result: EditResult
    users: dict[str, LoadedEnv]  # ENV first, then every other environment layered on the file, before the edit
    others: dict[str, tuple[str, str]]


def set_image(
    root: Path,
    env: str,
    service: str,
    image: str,
    *,
    layer: str | None = None,
    assume_yes: bool = False,
    interactive: bool = False,
    confirm: Callable[[str], bool] | None = None,
) -> ImagePin:
    """Pin ``service``'s image in ``envs/<env>.yaml`` (or the ``layer`` under envs/), then re-render.

    Args:
        root: the project root.
        env: the environment whose image is pinned.
        service: the service.
        image: the new image reference.
        layer: a layer of ``env`` to edit instead of its own file (e.g. ``_base.yaml``).
        assume_yes: change other environments on the file without asking (``--yes``).
        interactive: a person can answer ``confirm``.
        confirm: asks a yes/no question naming the other environments that change.

    Returns:
        The file, both diffs, and the other environments changed.

    Raises:
        UsageError: a bad image, an unknown service, a file that is not a layer of
            ``env``, an edit that would not change ``env``'s image, would add a service
            to a layer, or would change other environments without a yes (nothing written).
        ConfigError: ``env``, or another environment after the edit, does not validate
            (nothing written; the file is put back if the failure shows only after the write).
    """
    from hclforge.config import load_env
    from hclforge.yamledit import check_image, edit_lock

    check_image(image)
    loaded = load_env(root, env)
    if service not in loaded.config.services:
        raise UsageError(f"no service {printable(service)!r} in {env} (services: {', '.join(loaded.config.services)})")
    envs_dir = root / ENVS_DIR
    own = confined(envs_dir, f"{env}.yaml")
    path = confined(envs_dir, layer) if layer is not None else own
    if path not in {(root / source).resolve() for source in loaded.sources}:
        raise UsageError(
            f"{printable(str(layer))} is not a layer of {env} (layers: {', '.join(loaded.sources)}); nothing written"
        )
    approved: set[str] | None = None if assume_yes else set()  # None: any environment
    for _ in range(2):
        with edit_lock(path, root / LOCK_DIR):
            effect = _effect(root, env, service, image, path, own)
            asked = {n: v for n, v in effect.others.items() if approved is not None and n not in approved}
            if not asked:
                return _apply(root, env, service, image, path, effect)
        # Asked with the lock released: a person may take minutes; nobody else's edit waits for them.
        names = ", ".join(asked)
        what = _what_else(root, service, path, asked)
        if not interactive or confirm is None:
            raise UsageError(f"{what}\nnothing written: no terminal to ask; run again with --yes to change {names} too")
        if not confirm(f"{what}\nChange {names} as well as {env}?"):
            raise UsageError(f"set-image cancelled; nothing written ({', '.join(asked)} would have changed too)")
        assert approved is not None
        approved |= set(asked)
    raise UsageError(f"{_shown(root, path)} changed while you were asked; nothing written, run the command again")


def _effect(root: Path, env: str, service: str, image: str, path: Path, own: Path) -> _Effect:
    """The edit, checked against every environment on ``path`` (call under the file's lock)."""
    from hclforge.yamledit import propose

    users = _users(root, env, path)
    result = propose(path, service, image, known_services=list(users[env].config.services))
    shown = _shown(root, path)
    if path != own:
        services = result.old_data.get("services") if isinstance(result.old_data, dict) else None
        if not isinstance(services, dict) or not isinstance(services.get(service), dict):
            file, line = users[env].origins.get(("services", service), (f"{ENVS_DIR}/{env}.yaml", 0))
            where = f"{file}:{line}" if line else file
            raise UsageError(
                f"{shown} has no service {service!r} (it is defined in {where}): a layer's image is pinned only "
                f"for a service the layer defines, or every environment on it would gain that service; "
                f"nothing written. Pin it in {env}'s own file: hclforge set-image {env} {service} IMAGE"
            )
    after = _trial(root, path, result.new_text, list(users))
    _check(root, env, service, image, path, users, after)
    others = {
        name: (users[name].config.services[service].image, after[name].config.services[service].image)
        for name in users
        if name != env
        and service in users[name].config.services
        and users[name].config.services[service].image != after[name].config.services[service].image
    }
    return _Effect(result, users, others)


def _apply(root: Path, env: str, service: str, image: str, path: Path, effect: _Effect) -> ImagePin:
    """Write the edit, load and check every environment on the file again, render them (under the lock)."""
    from hclforge import render
    from hclforge.config import load_env
    from hclforge.yamledit import restore, write

    result = effect.result
    if not result.changed:
        return ImagePin(path, "", "", False)
    write(path, result, service, image)
    try:
        after = {name: load_env(root, name) for name in effect.users}
        _check(root, env, service, image, path, effect.users, after)
        trees = [render.render_env(loaded) for loaded in after.values()]
        hcl_diff = "".join(render.unified_diff(root, tree) for tree in trees)
    except BaseException as err:  # nothing half-done: the YAML goes back unless someone wrote it since
        if not restore(path, result) and isinstance(err, HclforgeError):
            shown = _shown(root, path)
            raise UsageError(f"{err}\n{shown} was not put back: it changed since set-image wrote it") from err
        raise
    for tree in trees:
        render.write_tree(root, tree)
    return ImagePin(path, result.diff(_shown(root, path)), hcl_diff, True, effect.others)


def _check(
    root: Path,
    env: str,
    service: str,
    image: str,
    path: Path,
    before: dict[str, LoadedEnv],
    after: dict[str, LoadedEnv],
) -> None:
    """Refuse an edit that leaves ``env``'s image unchanged or adds or removes any environment's service."""
    for name, loaded in before.items():
        gained = sorted(set(after[name].config.services) - set(loaded.config.services))
        lost = sorted(set(loaded.config.services) - set(after[name].config.services))
        if gained or lost:
            what = "; ".join(
                f"{verb} {', '.join(names)}" for verb, names in (("gain", gained), ("lose", lost)) if names
            )
            raise UsageError(f"the edit of {_shown(root, path)} would make {name} {what}; nothing written")
    effective = after[env].config.services[service].image
    if effective != image:
        file, line = after[env].origins.get(("services", service, "image"), (f"{ENVS_DIR}/{env}.yaml", 0))
        there = "" if file == f"{ENVS_DIR}/{env}.yaml" else f" --layer {Path(file).name}"
        raise UsageError(
            f"pinning {service} in {_shown(root, path)} would not change {env}: {file}:{line} sets "
            f"services.{service}.image ({effective}), which overrides it; nothing written. "
            f"Pin it there: hclforge set-image {env} {service} IMAGE{there}"
        )


def _users(root: Path, env: str, path: Path) -> dict[str, LoadedEnv]:
    """``env``, then every other environment layered on ``path`` (as loaded now), by name."""
    from hclforge.config import load_env

    users = {env: load_env(root, env)}
    for name in env_names(root):
        if name == env:
            continue
        try:
            loaded = load_env(root, name)
        except ConfigError:
            continue  # an environment already broken is not this edit's to check or render
        if path in {(root / source).resolve() for source in loaded.sources}:
            users[name] = loaded
    return users


def _trial(root: Path, path: Path, text: str, names: list[str]) -> dict[str, LoadedEnv]:
    """Load ``names`` from a scratch copy of ``envs/`` in which ``path`` holds ``text``.

    Raises:
        ConfigError: an environment would not validate after the edit.
    """
    from hclforge.config import load_env

    envs_dir = root / ENVS_DIR
    with tempfile.TemporaryDirectory(prefix="hclforge-set-image-") as scratch:
        copy = Path(scratch) / ENVS_DIR
        copy.mkdir()
        for entry in sorted(envs_dir.glob("*.yaml")):
            try:
                real = confined(envs_dir, entry.name)
                data = text.encode("utf-8") if real == path else read_regular(real, MAX_FILE_BYTES)
            except (OSError, HclforgeError):
                continue  # unreadable: no environment in ``names`` loaded through it
            (copy / entry.name).write_bytes(data)
        _copy_addons(root, Path(scratch))
        return {name: load_env(Path(scratch), name) for name in names}


def _copy_addons(root: Path, scratch: Path) -> None:
    """Copy ``addons/``'s regular files beside the scratch ``envs/``: an environment loads its addons too."""
    source = root / ADDONS_DIR
    if not source.is_dir() or source.is_symlink():
        return
    for folder in sorted(source.iterdir()):
        if folder.is_symlink() or not folder.is_dir():
            continue
        (scratch / ADDONS_DIR / folder.name).mkdir(parents=True)
        for entry in sorted(folder.iterdir()):
            if entry.is_file() and not entry.is_symlink():
                (scratch / ADDONS_DIR / folder.name / entry.name).write_bytes(read_regular(entry, MAX_FILE_BYTES))


def _what_else(root: Path, service: str, path: Path, others: dict[str, tuple[str, str]]) -> str:
    """The other environments the edit changes, each with its old and new image."""
    lines = [f"{_shown(root, path)} is also a layer of {', '.join(others)}: their {service} image changes too"]
    lines += [f"  {name}: {old} -> {new}" for name, (old, new) in others.items()]
    return "\n".join(lines)


def _shown(root: Path, path: Path) -> str:
    """``path`` as messages show it: relative to the root."""
    try:
        return path.relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()
