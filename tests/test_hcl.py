"""The HCL escaping filter: terraform itself must read back exactly the string given."""

from __future__ import annotations

import json
import subprocess
import unicodedata
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from hclforge import hcl, render
from hclforge.config import load_env
from hclforge.errors import ConfigError
from tests.conftest import MINIMAL_ENV, write_files

# Any Unicode text YAML can carry (no lone surrogates, which are not UTF-8).
TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=40)
NASTY = 'say "hi" \\ ${var.x} %{ if true }x%{ endif } $${y} %%{z}\nline2\t🎉 é \u202e'


@pytest.mark.parametrize(
    ("value", "literal"),
    [
        ("plain", '"plain"'),
        ('a"b', '"a\\"b"'),
        ("a\\b", '"a\\\\b"'),
        ("${x}", '"$${x}"'),
        ("%{x}", '"%%{x}"'),
        ("$x %x $ %", '"$x %x $ %"'),
        ("a\nb\r\tc", '"a\\nb\\r\\tc"'),
        ("é😀", '"\\u00E9\\U0001F600"'),
        ("\x00\x7f", '"\\u0000\\u007F"'),
    ],
)
def test_quote_table(value: str, literal: str) -> None:
    assert hcl.quote(value) == literal


def _terraform_roundtrip(values: list[str], workdir: Path, tf_env: dict[str, str]) -> list[str]:
    """Let terraform evaluate quote(v) for each v, and return what it read."""
    body = "".join(f'output "v{i}" {{\n  value = {hcl.quote(v)}\n}}\n' for i, v in enumerate(values))
    (workdir / "main.tf").write_text(body, encoding="utf-8")
    env = {**tf_env, "PATH": __import__("os").environ["PATH"]}
    subprocess.run(
        ["terraform", "apply", "-auto-approve", "-input=false", "-no-color"],
        cwd=workdir,
        env=env,
        check=True,
        capture_output=True,
    )
    out = subprocess.run(["terraform", "output", "-json"], cwd=workdir, env=env, check=True, capture_output=True)
    data = json.loads(out.stdout)
    return [data[f"v{i}"]["value"] for i in range(len(values))]


@pytest.mark.terraform
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(TEXT, min_size=1, max_size=25))
def test_terraform_reads_back_any_quoted_string(values: list[str], tmp_path: Path, tf_env: dict[str, str]) -> None:
    """Exactly the string, up to NFC: terraform normalizes every string (the loader does too)."""
    work = tmp_path / "rt"
    work.mkdir(exist_ok=True)
    assert _terraform_roundtrip(values, work, tf_env) == [unicodedata.normalize("NFC", v) for v in values]


def test_loader_normalizes_to_nfc_and_refuses_surrogates(project) -> None:
    root = project({"envs/dev.yaml": json.dumps({**MINIMAL_ENV, "tags": {"Note": "\uf900 e\u0301"}})})
    assert load_env(root, "dev").config.tags["Note"] == "\u8c48 \u00e9"
    (root / "envs/dev.yaml").write_text('project: "x\\ud800"\n')
    with pytest.raises(ConfigError, match=r"unpaired surrogate|invalid Unicode character escape"):
        load_env(root, "dev")


@pytest.mark.terraform
def test_terraform_reads_back_the_nasty_string(tmp_path: Path, tf_env: dict[str, str]) -> None:
    assert _terraform_roundtrip([NASTY], tmp_path, tf_env) == [NASTY]


def _env_with(value: str, image: str) -> dict:
    env = json.loads(json.dumps(MINIMAL_ENV))
    env["tags"] = {"Note": value}
    svc = env["services"]["api"]
    svc["image"] = image
    svc["command"] = ["sh", "-c", value]
    svc["environment"] = {"VALUE": value}
    return env


IMAGE = st.from_regex(r"\A[a-z0-9][a-z0-9._/-]{0,20}:[A-Za-z0-9._-]{1,10}\Z")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=TEXT.map(lambda v: unicodedata.normalize("NFC", v)).filter(lambda v: len(v) > 0), image=IMAGE)
def test_yaml_strings_cannot_change_the_hcl_structure(value: str, image: str, tmp_path_factory) -> None:
    """A value in tags, environment, command or image reaches HCL only as its quoted literal.

    Rendering with the value and rendering with a placeholder must give the same
    text once each literal is swapped back; terraform's reading of the literal is
    proven by the round-trip test above.
    """
    root = tmp_path_factory.mktemp("prop")
    placeholder = "PLACEHOLDER"
    trees = []
    for v, img in ((value, image), (placeholder, "IMAGEPLACEHOLDER:1")):
        # Escape every non-ASCII character: a raw U+0085 in YAML is a line break.
        write_files(root, {"envs/dev.yaml": yaml.safe_dump(_env_with(v, img), allow_unicode=False)})
        trees.append(render.render_env(load_env(root, "dev")).files)
    with_value, with_placeholder = trees
    # A value equal to a literal the templates write themselves (e.g. "FARGATE") cannot be swapped back.
    assume(hcl.quote(value) not in "".join(with_placeholder.values()))
    for name, text in with_value.items():
        swapped = text.replace(hcl.quote(value), hcl.quote(placeholder)).replace(
            hcl.quote(image), hcl.quote("IMAGEPLACEHOLDER:1")
        )
        # Alignment may differ where a value is an object key; compare without it.
        squash = lambda t: [" ".join(line.split()) for line in t.splitlines()]  # noqa: E731
        assert squash(swapped) == squash(with_placeholder[name]), name
    assert hcl.quote(value) in with_value["ecs/main.tf"]


def test_format_hcl_is_idempotent() -> None:
    for text in render.render(Path(__file__).resolve().parent.parent, "prod").files.values():
        assert hcl.format_hcl(text) == text
