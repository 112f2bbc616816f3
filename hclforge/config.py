"""Load an environment: read its layers, merge them, validate the result.

``load_env(root, "dev")`` is the one entry point. It reads ``envs/dev.yaml`` and
every layer it ``extends`` (recursively, cycles refused), merges them by the
rules of the design (maps merge recursively, lists and scalars replace, ``null``
deletes), validates the result against :class:`~hclforge.model.EnvConfig`, then
runs the domain rules. Every problem found is reported at once, each with the
file and line the offending value came from.

Layer names are checked before they become paths, every file is opened through
:func:`hclforge.paths.confined` (nothing outside ``envs/``, no FIFOs), each file
is read and parsed once per load however often it is extended, and layers nest
at most :data:`MAX_LAYER_DEPTH` deep.
"""

from __future__ import annotations

import difflib
import re
import types
from functools import lru_cache
from pathlib import Path
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from hclforge.addons import check_refs, load_addons
from hclforge.errors import ConfigError, Problem, UnsafePathError
from hclforge.loaded import LoadedEnv as LoadedEnv  # re-exported: they lived here before
from hclforge.loaded import Origin
from hclforge.model import EnvConfig, ScalarStr
from hclforge.paths import confined
from hclforge.rules import check_rules, check_warnings
from hclforge.source import Document, YamlPath, dotted, load_document
from hclforge.tree import ENV_NAME_RE, ENVS_DIR
from hclforge.tree import env_names as env_names

# A layer name becomes a file name and is printed in every generated header: no path, no newline.
LAYER_NAME_RE = re.compile(r"_?[a-z][a-z0-9_-]{0,63}")
MAX_LAYER_DEPTH = 32


def load_env(root: Path, name: str) -> LoadedEnv:
    """Load, layer and validate environment ``name``.

    Args:
        root: the project root holding ``envs/``.
        name: the environment, e.g. ``dev``.

    Returns:
        The validated environment.

    Raises:
        ConfigError: with one :class:`Problem` per thing wrong.
    """
    display = f"{ENVS_DIR}/{name}.yaml"
    if not ENV_NAME_RE.fullmatch(name):
        raise ConfigError(
            [Problem(display, 0, "", f"'{name}' is not a valid environment name (allowed: ^[a-z][a-z0-9-]{{0,19}}$)")]
        )
    try:
        path = confined(root / ENVS_DIR, f"{name}.yaml")
    except UnsafePathError as err:
        raise ConfigError([Problem(display, 0, "", str(err))]) from None
    if not path.is_file():
        known = env_names(root)
        hint = difflib.get_close_matches(name, known, n=1)
        allowed = f"did you mean '{hint[0]}'?" if hint else f"known environments: {', '.join(known) or 'none'}"
        raise ConfigError([Problem(display, 0, "", f"no such environment ({allowed})")])

    layers = _Layers(root)
    data, origins, sources = layers.resolve(name, ())
    _keep_source_text(data, layers.texts(origins))
    env_file = display
    declared = data.get("environment")
    if declared is None:
        data["environment"] = name
    elif declared != name:
        file, line = origins.get(("environment",), (env_file, 0))
        raise ConfigError(
            [Problem(file, line, "environment", f"'{declared}' does not match the file name (expected '{name}')")]
        )

    addons = load_addons(root, name)
    try:
        config = EnvConfig.model_validate(data)
    except ValidationError as err:
        raise ConfigError([*_pydantic_problems(err, origins, env_file), *addons.problems]) from None

    findings = [*check_rules(config), *check_refs(_statement_resources(config), addons.files)]
    if config.split and addons.files:
        # Not yet: an addon reads the one root's module outputs, which a split tree spreads over roots.
        listed = ", ".join(addon.source for addon in addons.files)
        findings.append(
            (
                ("state", "split"),
                f"addons are not rendered into split roots yet ({listed}); keep split: none while the "
                "environment has addons (docs/state-split.md)",
            )
        )
    problems = [_locate(path, message, origins, env_file) for path, message in findings]
    if problems or addons.problems:
        raise ConfigError([*problems, *addons.problems])
    warnings = [_locate(path, message, origins, env_file) for path, message in check_warnings(config)]
    inputs = {source: layers.docs[source].digest for source in sources} | addons.inputs
    return LoadedEnv(name, config, sources, origins, sorted(set(warnings)), inputs, addons.files)


def _statement_resources(config: EnvConfig) -> dict[str, list[list[str]]]:
    """The ``resources`` of each statement of each service's task role, for the addon reference check."""
    return {name: [st.resources for st in svc.permissions.statements] for name, svc in config.services.items()}


# --------------------------------------------------------------------- layering


Resolved = tuple[dict[str, Any], dict[YamlPath, Origin], list[str]]


class _Layers:
    """The files of one :func:`load_env` call: each read, parsed and layered once.

    A layer extended from many places (a diamond) is resolved once and reused,
    so the work grows with the number of files, not with the number of paths
    through the ``extends`` graph.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.docs: dict[str, Document] = {}
        self.done: dict[str, Resolved] = {}

    def resolve(self, name: str, chain: tuple[str, ...]) -> Resolved:
        """Merge the layers of ``name`` (its ``extends`` first, then itself)."""
        display = f"{ENVS_DIR}/{name}.yaml"
        if name in chain:
            cycle = " -> ".join((*chain, name))
            raise ConfigError([Problem(display, 0, "extends", f"extends cycle: {cycle}")])
        if name in self.done:
            return self.done[name]
        doc = self.docs[display] = load_document(confined(self.root / ENVS_DIR, f"{name}.yaml"), display)
        extends = doc.data.get("extends", [])
        ext_line = doc.lines.get(("extends",), 0)
        if isinstance(extends, str):
            extends = [extends]
        if not isinstance(extends, list) or not all(isinstance(e, str) for e in extends):
            raise ConfigError([Problem(display, ext_line, "extends", "must be a list of layer names, e.g. [_base]")])

        merged: dict[str, Any] = {}
        origins: dict[YamlPath, Origin] = {}
        sources: list[str] = []
        for i, layer in enumerate(extends):
            where = (display, doc.lines.get(("extends", i), ext_line), f"extends[{i}]")
            layer_name = self._layer_name(layer, where, len(chain) + 1)
            data, layer_origins, layer_sources = self.resolve(layer_name, (*chain, name))
            merge_into(merged, origins, data, layer_origins, ())
            sources += [s for s in layer_sources if s not in sources]
        own = {k: v for k, v in doc.data.items() if k != "extends"}
        own_origins = {p: (display, line) for p, line in doc.lines.items() if p[:1] != ("extends",)}
        merge_into(merged, origins, own, own_origins, ())
        sources.append(display)
        self.done[name] = (merged, origins, sources)
        return self.done[name]

    def _layer_name(self, layer: str, where: tuple[str, int, str], depth: int) -> str:
        """Check one ``extends`` entry and return the layer it names (without ``.yaml``)."""
        file, line, ypath = where
        name = layer.removesuffix(".yaml")
        if not LAYER_NAME_RE.fullmatch(name):
            shown = name if len(name) <= 40 else name[:37] + "..."
            raise ConfigError(
                [
                    Problem(
                        file,
                        line,
                        ypath,
                        f"'{shown}' is not a layer name (allowed: ^_?[a-z][a-z0-9_-]{{0,63}}$, "
                        f"the name of a file in {ENVS_DIR}/ without .yaml)",
                    )
                ]
            )
        if depth > MAX_LAYER_DEPTH:
            raise ConfigError(
                [Problem(file, line, ypath, f"layers nest more than {MAX_LAYER_DEPTH} deep; flatten the extends chain")]
            )
        try:
            path = confined(self.root / ENVS_DIR, f"{name}.yaml")
        except UnsafePathError as err:
            raise ConfigError([Problem(file, line, ypath, f"layer '{name}': {err}")]) from None
        if not path.is_file():
            raise ConfigError(
                [Problem(file, line, ypath, f"layer '{layer}' not found (expected {ENVS_DIR}/{name}.yaml)")]
            )
        return name

    def texts(self, origins: dict[YamlPath, Origin]) -> dict[YamlPath, str]:
        """The source text of each plain non-string scalar that survived layering."""
        return {p: self.docs[file].texts[p] for p, (file, _) in origins.items() if p in self.docs[file].texts}


def _keep_source_text(data: dict[str, Any], texts: dict[YamlPath, str]) -> None:
    """Give string fields the text as written: ``1.10`` stays "1.10", ``on`` stays "on".

    YAML 1.1 would turn them into 1.1 and true; a field the model holds as a
    string (``environment`` and ``tags`` values) takes the source text instead.
    """
    for path, text in texts.items():
        if not _held_as_text(path):
            continue
        parent: Any = data
        for part in path[:-1]:
            parent = parent[part]
        parent[path[-1]] = text


@lru_cache(maxsize=4096)
def _held_as_text(path: YamlPath) -> bool:
    """True when the model keeps the value at ``path`` as a :data:`~hclforge.model.ScalarStr`."""
    node: Any = EnvConfig
    for part in path:
        node = _unwrap_optional(node)
        if _is_model(node):
            field_info = node.model_fields.get(part) if isinstance(part, str) else None
            if field_info is None:
                return False
            node = field_info.annotation
        elif get_origin(node) is dict and isinstance(part, str):
            node = get_args(node)[1]
        elif get_origin(node) is list and isinstance(part, int):
            node = get_args(node)[0]
        else:
            return False
    return node is ScalarStr


def _unwrap_optional(annotation: Any) -> Any:
    if get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def merge_into(
    base: dict[str, Any],
    base_origins: dict[YamlPath, Origin],
    over: dict[str, Any],
    over_origins: dict[YamlPath, Origin],
    path: YamlPath,
) -> None:
    """Apply layer ``over`` onto ``base`` in place, keeping origins in step.

    Maps merge recursively, lists and scalars replace, ``None`` deletes the key.
    """
    for key, value in over.items():
        child = (*path, key)
        if value is None:
            base.pop(key, None)
            _drop_origins(base_origins, child)
            continue
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            if child in over_origins:
                base_origins[child] = over_origins[child]
            # Copy on write: the map may belong to a layer that is resolved once and merged again elsewhere.
            base[key] = dict(base[key])
            merge_into(base[key], base_origins, value, over_origins, child)
            continue
        base[key] = value
        _drop_origins(base_origins, child)
        for p, origin in over_origins.items():
            if p[: len(child)] == child:
                base_origins[p] = origin


def _drop_origins(origins: dict[YamlPath, Origin], prefix: YamlPath) -> None:
    for p in [p for p in origins if p[: len(prefix)] == prefix]:
        del origins[p]


# ----------------------------------------------------------------- reporting


def _locate(path: YamlPath, message: str, origins: dict[YamlPath, Origin], env_file: str) -> Problem:
    """Attach the file and line of the nearest YAML path that a file set."""
    for i in range(len(path), 0, -1):
        if path[:i] in origins:
            file, line = origins[path[:i]]
            return Problem(file, line, dotted(path), message)
    return Problem(env_file, 0, dotted(path), message)


_SECRET_PARTS = {"secrets"}


_PYDANTIC_STEP_RE = re.compile(r"function-(before|after|wrap|plain)\[.*\]|\[key\]")


def _pydantic_problems(err: ValidationError, origins: dict[YamlPath, Origin], env_file: str) -> list[Problem]:
    problems = []
    for e in err.errors(include_url=False):
        # pydantic's own steps (validator wrappers, "[key]" into a mapping's key) are not YAML paths;
        # an unknown key is the user's own text, whatever it looks like.
        loc: YamlPath = tuple(
            p
            for p in e["loc"]
            if not (isinstance(p, str) and _PYDANTIC_STEP_RE.fullmatch(p) and e["type"] != "extra_forbidden")
        ) or tuple(e["loc"])
        kind = e["type"]
        if kind == "extra_forbidden":
            allowed = _fields_at(loc[:-1])
            hint = difflib.get_close_matches(str(loc[-1]), allowed, n=1, cutoff=0.6)
            suggestion = f"did you mean '{hint[0]}'? " if hint else ""
            message = f"unknown key ({suggestion}allowed: {', '.join(allowed)})"
        elif kind == "missing":
            message = "required but missing"
        elif kind == "literal_error":
            message = f"{e['msg'].replace('Input should be', 'must be')}, not {_show(e['input'])}"
        else:
            message = e["msg"][0].lower() + e["msg"][1:]
            if not _SECRET_PARTS.intersection(str(p) for p in loc) and kind not in ("model_type", "dict_type"):
                message += f" (got {_show(e['input'])})"
        problems.append(_locate(loc, message, origins, env_file))
    return problems


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _fields_at(loc: YamlPath) -> list[str]:
    """The keys allowed at ``loc``, by walking the model's field annotations."""
    model: Any = EnvConfig
    for part in loc:
        if isinstance(part, int):
            model = _value_model(model)
            continue
        if model is None:
            return []
        field = model.model_fields.get(part) if _is_model(model) else None
        if field is None:
            # A dict[str, Model] level: the key is a user name, the model is the value type.
            model = _value_model(model)
            continue
        model = _inner_model(field.annotation)
    return sorted(model.model_fields) if _is_model(model) else []


def _is_model(obj: Any) -> bool:
    return isinstance(obj, type) and issubclass(obj, BaseModel)


def _inner_model(annotation: Any) -> Any:
    """The model a field holds: unwraps ``X | None``, ``dict[str, X]`` and ``list[X]`` to a marker."""
    if _is_model(annotation):
        return annotation
    args = getattr(annotation, "__args__", ())
    origin = getattr(annotation, "__origin__", None)
    if origin in (dict, list):
        return ("container", annotation)
    for arg in args:
        inner = _inner_model(arg)
        if inner is not None:
            return inner
    return None


def _value_model(marker: Any) -> Any:
    if isinstance(marker, tuple) and marker[0] == "container":
        args = getattr(marker[1], "__args__", ())
        return _inner_model(args[-1]) if args else None
    return None
