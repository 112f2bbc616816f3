"""Fuzzing the loader: any document gives a valid config or a ConfigError, never another exception."""

from __future__ import annotations

import copy
import time
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from hclforge.config import load_env
from hclforge.errors import ConfigError
from tests.conftest import ROOT

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=True),
    st.text(max_size=30),
    st.sampled_from(["FARGATE", "jwt", "s3", "GET /", "arn:aws:ssm:x", "256", "-1", "~"]),
)
KEYS = st.one_of(
    st.text(max_size=12),
    st.sampled_from(
        [
            "project",
            "aws",
            "services",
            "image",
            "cpu",
            "memory",
            "routes",
            "extends",
            "network",
            "auth",
            "backend",
            "scheduled_tasks",
            "autoscaling",
            "secrets",
            "tags",
            "port",
            "null",
        ]
    ),
)
DOCS = st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=5), max_leaves=30
)
EXAMPLE = yaml.safe_load((ROOT / "envs/prod.yaml").read_text()) | {"extends": ["_base"]}


def _load(root: Path, text: str) -> None:
    (root / "envs/fuzz.yaml").write_text(text, encoding="utf-8")
    start = time.monotonic()
    try:
        load_env(root, "fuzz")
    except ConfigError as err:
        assert err.problems and all(str(p).startswith("envs/") for p in err.problems)
    assert time.monotonic() - start < 5, "the loader must answer within a bounded time"


def _project(tmp_path_factory: Any) -> Path:
    root = tmp_path_factory.mktemp("fuzz")
    (root / "envs").mkdir()
    (root / "envs/_base.yaml").write_text((ROOT / "envs/_base.yaml").read_text())
    return root


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=DOCS)
# Found by this test: a key that looks like pydantic's own loc steps once crashed the reporter.
@example(doc={"function-": False})
@example(doc={"function-after[x]": 1, "[key]": 2})
def test_random_documents(doc: Any, tmp_path_factory: Any) -> None:
    _load(_project(tmp_path_factory), yaml.safe_dump(doc, allow_unicode=False))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mutations_of_the_prod_example(data: st.DataObject, tmp_path_factory: Any) -> None:
    doc = copy.deepcopy(EXAMPLE)
    for _ in range(data.draw(st.integers(1, 4))):
        node: Any = doc
        while isinstance(node, dict) and node and data.draw(st.booleans()):
            key = data.draw(st.sampled_from(sorted(node, key=str)))
            if not isinstance(node[key], dict):
                break
            node = node[key]
        if isinstance(node, dict) and node:
            key = data.draw(st.sampled_from(sorted(node, key=str)))
            node[key] = data.draw(DOCS)
    _load(_project(tmp_path_factory), yaml.safe_dump(doc, allow_unicode=False))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=200))
def test_random_text(text: str, tmp_path_factory: Any) -> None:
    _load(_project(tmp_path_factory), text)
