"""The committed JSON Schema: generated from the model, fresh, and useful to editors."""

from __future__ import annotations

import json

import jsonschema
import pytest
import yaml

from hclforge.cli.main import main
from hclforge.schema import SCHEMA_PATH, env_schema_text
from tests.conftest import ROOT


def _validator() -> jsonschema.Draft202012Validator:
    schema = json.loads((ROOT / SCHEMA_PATH).read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _messages(doc: object) -> list[str]:
    """Every leaf message (errors under anyOf carry the useful ones in their context)."""

    def leaves(error: jsonschema.ValidationError) -> list[str]:
        if error.context:
            return [m for child in error.context for m in leaves(child)]
        return [error.message]

    return [m for e in _validator().iter_errors(doc) for m in leaves(e)]


def test_committed_schema_is_fresh() -> None:
    assert (ROOT / SCHEMA_PATH).read_text() == env_schema_text(), f"run 'hclforge schema -o {SCHEMA_PATH}'"


def test_schema_check_command(tmp_path, capsys) -> None:
    assert main(["--root", str(ROOT), "schema", "--check"]) == 0
    assert main(["--root", str(tmp_path), "schema", "--check"]) == 1
    assert "is stale" in capsys.readouterr().err


@pytest.mark.parametrize("path", sorted((ROOT / "envs").glob("*.yaml")), ids=lambda p: p.name)
def test_examples_validate_and_point_at_the_schema(path) -> None:
    text = path.read_text()
    assert text.startswith("# yaml-language-server: $schema=../schema/hclforge-env.schema.json\n")
    assert _messages(yaml.safe_load(text)) == []


def test_a_typo_in_a_key_is_flagged() -> None:
    doc = yaml.safe_load((ROOT / "envs/dev.yaml").read_text())
    doc["services"]["api"]["memroy"] = 2048
    assert any("'memroy' was unexpected" in m for m in _messages(doc))


@pytest.mark.parametrize(
    ("patch", "needle"),
    [
        ({"backend": {"type": "gcs"}}, "'gcs' is not one of"),
        ({"services": {"api": {"cpu": "lots"}}}, "'lots' is not of type 'integer'"),
        ({"project": "Bad Name"}, "does not match"),
        ({"cluster": {"capacity_providers": ["EC2"]}}, "'EC2' is not one of"),
    ],
)
def test_wrong_values_are_flagged(patch: dict, needle: str) -> None:
    doc = yaml.safe_load((ROOT / "envs/dev.yaml").read_text())
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(doc.get(key), dict):
            for k, v in value.items():
                doc[key][k] = {**doc[key].get(k, {}), **v} if isinstance(v, dict) else v
        else:
            doc[key] = value
    messages = " | ".join(_messages(doc))
    assert needle in messages, messages


def test_null_deletes_an_inherited_service() -> None:
    assert _messages({"extends": ["_base"], "services": {"worker": None}}) == []
