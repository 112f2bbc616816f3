"""The JSON Schema of environment files, generated from the typed model (never hand-written).

Editors use it (``# yaml-language-server: $schema=...``) to complete keys and flag typos.
Files may extend layers and delete inherited keys with ``null``, so the schema
requires nothing and admits ``null`` everywhere; unknown keys, types, enums and
patterns are checked. The full rules run in hclforge itself.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hclforge.errors import StaleTreeError
from hclforge.model import SCHEMA_VERSION, EnvConfig

SCHEMA_PATH = "schema/hclforge-env.schema.json"
SCHEMA_ID = f"https://hclforge.dev/schema/env-v{SCHEMA_VERSION}.json"


def _relax(node: Any) -> Any:
    """Drop ``required`` and let every property and map value be ``null`` (deletion in a layer)."""
    if isinstance(node, list):
        return [_relax(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {k: _relax(v) for k, v in node.items() if k != "required"}
    if isinstance(out.get("properties"), dict):
        out["properties"] = {name: _nullable(schema) for name, schema in out["properties"].items()}
    if isinstance(out.get("additionalProperties"), dict):
        out["additionalProperties"] = _nullable(out["additionalProperties"])
    return out


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    options = schema.get("anyOf", [schema])
    if any(o.get("type") == "null" for o in options):
        return schema
    extra = {k: v for k, v in schema.items() if k in ("description", "title", "default")}
    core = {k: v for k, v in schema.items() if k not in ("description", "title", "default")}
    return {"anyOf": [core, {"type": "null"}], **extra}


def env_schema() -> dict[str, Any]:
    """The schema document, deterministic for a given model."""
    schema = EnvConfig.model_json_schema(mode="validation")
    schema = _relax(schema)
    properties = schema["properties"]
    properties["extends"] = {
        "description": "Layers applied first, in order (envs/<name>.yaml); files starting with '_' are layers.",
        "anyOf": [{"type": "array", "items": {"type": "string"}}, {"type": "string"}],
    }
    properties["environment"]["description"] = "Optional; if given, must equal the file name."
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": f"hclforge environment file (schema v{SCHEMA_VERSION})",
        "description": "envs/<env>.yaml. Layering: maps merge, lists and scalars replace, null deletes.",
        **{k: v for k, v in schema.items() if k not in ("title", "description")},
    }


def env_schema_text() -> str:
    """The schema as committed: sorted keys, two-space indent, trailing newline."""
    return json.dumps(env_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def check_schema(root: Path) -> None:
    """``schema --check``: the committed copy under ``root`` equals a fresh one.

    Raises:
        StaleTreeError: it is missing or stale; names the command that refreshes it.
    """
    committed = root / SCHEMA_PATH
    current = committed.read_text(encoding="utf-8") if committed.is_file() else ""
    if current != env_schema_text():
        raise StaleTreeError(f"{SCHEMA_PATH} is stale: run 'hclforge schema -o {SCHEMA_PATH}'\n")


def write_schema(path: Path) -> None:
    """Write the schema to ``path``, creating its directory."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(env_schema_text(), encoding="utf-8")
