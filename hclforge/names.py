"""Environment and service names, read cheaply for shell completion.

Light on purpose (no pydantic, no Jinja): a completion runs on every Tab press.
Environments are the file names under ``envs/`` (:func:`hclforge.tree.env_names`);
services are the keys of the layered ``services`` map, merged by the rules of
:func:`hclforge.config.merge_into` (each ``extends`` layer in order, then the file;
``null`` deletes, a map merges, anything else replaces) but never validated. A file
that is broken in any way gives no names rather than an error: the full loader
says what is wrong when a command runs.
"""

from __future__ import annotations

from pathlib import Path

from hclforge.errors import HclforgeError
from hclforge.paths import confined
from hclforge.source import load_document
from hclforge.tree import ENV_NAME_RE, ENVS_DIR
from hclforge.tree import env_names as env_names

# As deep as hclforge.config.MAX_LAYER_DEPTH lets layers nest.
MAX_LAYER_DEPTH = 32


def service_names(root: Path, env: str) -> list[str]:
    """The services of ``env`` after layering, in the order they were declared; [] when they cannot be read."""
    if not ENV_NAME_RE.fullmatch(env):
        return []
    try:
        return list(_services(root, env, ()))
    except (HclforgeError, OSError, ValueError):
        return []


def _services(root: Path, name: str, chain: tuple[str, ...]) -> dict[str, None]:
    if name in chain or len(chain) > MAX_LAYER_DEPTH:
        raise ValueError(f"extends cycle or too deep at {name}")
    path = confined(root / ENVS_DIR, f"{name}.yaml")
    data = load_document(path, f"{ENVS_DIR}/{name}.yaml").data
    extends = data.get("extends", [])
    layers = [extends] if isinstance(extends, str) else extends
    if not isinstance(layers, list) or not all(isinstance(layer, str) for layer in layers):
        raise ValueError(f"extends of {name} is not a list of names")
    names: dict[str, None] = {}
    for layer in layers:
        names.update(_services(root, layer.removesuffix(".yaml"), (*chain, name)))
    if "services" not in data:
        return names
    own = data["services"]
    if not isinstance(own, dict):
        return {}  # null deletes the inherited map; a scalar or a list replaces it
    for service, value in own.items():
        if value is None:
            names.pop(service, None)
        else:
            names[service] = None
    return names
