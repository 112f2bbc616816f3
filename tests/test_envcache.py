"""The cache of validated environments and the render stamp: fast when nothing changed, never stale.

Each test that pins a key part reproduces the failure it prevents: an entry or a
stamp used after the input it stands for changed.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from hclforge import envcache
from hclforge.cli.ops import Workspace
from hclforge.cli.settings import load_settings
from hclforge.errors import ConfigError
from tests.conftest import MINIMAL_ENV, ROOT

BASE = {"project": "demo", "aws": {"region": "eu-west-1"}}
OWN = {k: v for k, v in MINIMAL_ENV.items() if k not in ("project", "aws")} | {"extends": ["_base"]}


@pytest.fixture
def root(project) -> Path:
    return project({"envs/_base.yaml": BASE, "envs/dev.yaml": OWN})


def _cache(root: Path) -> Path:
    folder = root / ".hclforge/cache/config"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return folder


def _no_long_way(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make a miss fail loudly: the long way is hclforge.config.load_env."""
    from hclforge import config

    def refuse(*_args: object) -> None:
        raise AssertionError("the environment was loaded the long way")

    monkeypatch.setattr(config, "load_env", refuse)


def test_a_second_load_comes_from_the_cache_and_equals_the_first(root: Path, monkeypatch) -> None:
    first = envcache.load(root, "dev", _cache(root))
    assert first.inputs == {
        name: hashlib.sha256((root / name).read_bytes()).hexdigest() for name in ("envs/_base.yaml", "envs/dev.yaml")
    }
    _no_long_way(monkeypatch)
    second = envcache.load(root, "dev", _cache(root))
    assert second == first
    assert second.config.services["api"].image == "nginx:1.27"


@pytest.mark.parametrize("edited", ["envs/_base.yaml", "envs/dev.yaml"])
def test_an_edited_layer_is_loaded_again(root: Path, edited: str) -> None:
    assert envcache.load(root, "dev", _cache(root)).config.aws.region == "eu-west-1"
    path = root / edited
    path.write_text(path.read_text() + "tags: {team: sales}\n")
    assert envcache.load(root, "dev", _cache(root)).config.tags == {"team": "sales"}


def test_other_code_misses(root: Path, monkeypatch) -> None:
    envcache.load(root, "dev", _cache(root))
    monkeypatch.setattr(envcache, "code_key", lambda: "another hclforge")
    calls = []
    from hclforge import config

    real = config.load_env
    monkeypatch.setattr(config, "load_env", lambda *a: calls.append(a) or real(*a))
    envcache.load(root, "dev", _cache(root))
    assert len(calls) == 1


def test_the_key_covers_hclforges_modules_templates_and_libraries() -> None:
    envcache.code_key.cache_clear()
    try:
        key = envcache.code_key()
    finally:
        envcache.code_key.cache_clear()
    assert len(key) == 64
    # What it reads: every module of the package, every template, each library's file.
    names = {p.name for p in envcache.PACKAGE.glob("*.py")}
    assert {"model.py", "config.py", "rules.py", "source.py", "render.py", "hcl.py"} <= names
    assert list((envcache.PACKAGE / "templates").glob("*/*.j2"))
    assert envcache.LIBRARIES == ("yaml", "pydantic", "pydantic_core", "jinja2")


def test_an_edit_made_while_loading_is_not_cached_as_the_old_content(root: Path, monkeypatch) -> None:
    """The entry is keyed on the bytes parsed, so an edit racing the load makes a miss, not a stale hit."""
    from hclforge import config

    real = config.load_env
    dev = root / "envs/dev.yaml"

    def load_then_edit(*args: object) -> object:
        loaded = real(*args)
        dev.write_text(dev.read_text().replace("nginx:1.27", "nginx:1.28"))
        return loaded

    monkeypatch.setattr(config, "load_env", load_then_edit)
    assert envcache.load(root, "dev", _cache(root)).config.services["api"].image == "nginx:1.27"
    monkeypatch.setattr(config, "load_env", real)
    assert envcache.load(root, "dev", _cache(root)).config.services["api"].image == "nginx:1.28"


def test_errors_are_never_cached(root: Path) -> None:
    (root / "envs/dev.yaml").write_text("project: [\n")
    for _ in range(2):
        with pytest.raises(ConfigError, match="invalid YAML"):
            envcache.load(root, "dev", _cache(root))
    assert not list(_cache(root).iterdir())


def test_a_corrupt_entry_is_loaded_the_long_way_and_replaced(root: Path) -> None:
    envcache.load(root, "dev", _cache(root))
    entry = _cache(root) / "dev.env"
    header = entry.read_bytes().split(b"\n", 1)[0]
    entry.write_bytes(header + b"\n" + b"not a pickle")
    assert envcache.load(root, "dev", _cache(root)).config.project == "demo"
    assert pickle.loads(entry.read_bytes().split(b"\n", 1)[1]).config.project == "demo"


@pytest.mark.parametrize("how", ["group-writable entry", "group-writable folder", "symlinked entry"])
def test_an_entry_others_could_have_written_is_never_unpickled(root: Path, monkeypatch, how: str) -> None:
    envcache.load(root, "dev", _cache(root))
    entry = _cache(root) / "dev.env"
    if how == "group-writable entry":
        entry.chmod(0o620)
    elif how == "group-writable folder":
        entry.parent.chmod(0o770)
    else:
        moved = root / "elsewhere.env"
        entry.rename(moved)
        entry.symlink_to(moved)
    monkeypatch.setattr(pickle, "load", lambda *_a: pytest.fail("an unsafe entry was unpickled"))
    assert envcache.load(root, "dev", _cache(root)).config.project == "demo"


def test_a_layer_swapped_for_a_symlink_out_of_envs_is_not_a_hit(root: Path, tmp_path_factory) -> None:
    envcache.load(root, "dev", _cache(root))
    outside = tmp_path_factory.mktemp("outside") / "_base.yaml"
    outside.write_bytes((root / "envs/_base.yaml").read_bytes())  # same bytes: only the path differs
    (root / "envs/_base.yaml").unlink()
    (root / "envs/_base.yaml").symlink_to(outside)
    with pytest.raises(ConfigError, match="leads outside envs/"):
        envcache.load(root, "dev", _cache(root))


# ------------------------------------------------------------------ the render stamp


def _ws(root: Path) -> Workspace:
    return Workspace(load_settings(root), "dev")


def test_an_unchanged_tree_is_not_rendered_again(root: Path, monkeypatch) -> None:
    assert _ws(root).render(), "the first render writes the tree"
    from hclforge import render

    monkeypatch.setattr(render, "render_env", lambda *_a: pytest.fail("rendered although nothing changed"))
    assert _ws(root).render() == []


@pytest.mark.parametrize("change", ["edited", "deleted", "added"])
def test_a_tree_changed_by_hand_is_rendered_again(root: Path, change: str) -> None:
    _ws(root).render()
    tree = root / "modules/dev"
    main = tree / "main.tf"
    original = main.read_text()
    if change == "edited":
        main.write_text(original.replace("module ", "# module ", 1))
    elif change == "deleted":
        main.unlink()
    else:
        (tree / "stray.tf").write_text(original.splitlines()[0] + "\n")  # a generated file nobody renders
    written = _ws(root).render()
    assert [c.path for c in written] == (["stray.tf"] if change == "added" else ["main.tf"])
    assert main.read_text() == original
    assert not (tree / "stray.tf").exists()


def test_an_edited_yaml_renders_again(root: Path) -> None:
    _ws(root).render()
    dev = root / "envs/dev.yaml"
    dev.write_text(dev.read_text().replace("nginx:1.27", "nginx:1.28"))
    written = _ws(root).render()
    assert written and "nginx:1.28" in (root / "modules/dev/ecs/main.tf").read_text()


def test_a_fresh_tree_and_a_cached_environment_import_no_loader_or_renderer(root: Path) -> None:
    """What the cache is for: a command on an unchanged environment starts without them."""
    _ws(root).render()
    code = (
        "import sys; from pathlib import Path; from hclforge.cli.ops import Workspace;"
        "from hclforge.cli.settings import load_settings;"
        "ws = Workspace(load_settings(Path(sys.argv[1])), 'dev'); assert ws.render() == [];"
        "print(ws.loaded.config.services['api'].image);"
        "print(sorted(m for m in sys.modules if m in {'jinja2', 'yaml', 'hclforge.config', 'hclforge.render',"
        " 'hclforge.rules', 'hclforge.source'}))"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code, str(root)], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.splitlines() == ["nginx:1.27", "[]"]


@pytest.mark.parametrize("name", ["../dev", "Dev", "dev/../dev"])
def test_a_bad_name_never_reaches_the_cache(root: Path, monkeypatch, name: str) -> None:
    """The name becomes an entry's file name: it is checked before any entry is opened."""
    envcache.load(root, "dev", _cache(root))
    monkeypatch.setattr(envcache, "_read", lambda *_a: pytest.fail("an entry was opened for a bad name"))
    with pytest.raises(ConfigError, match="is not a valid environment name"):
        envcache.load(root, name, _cache(root))
