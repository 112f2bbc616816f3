"""The cache of validated environments and the render stamp: fast when nothing changed, never stale.

Each test that pins a key part reproduces the failure it prevents: an entry or a
stamp used after the input it stands for changed.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from hclforge import envcache, sealed
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
        **{
            name: hashlib.sha256((root / name).read_bytes()).hexdigest()
            for name in ("envs/_base.yaml", "envs/dev.yaml")
        },
        "addons/_shared/": "-",  # no addons folders: their absence is an input too
        "addons/dev/": "-",
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
    # What it reads: every module of the package, every template (the libraries: see below).
    names = {p.name for p in envcache.PACKAGE.glob("*.py")}
    assert {"model.py", "config.py", "rules.py", "source.py", "render.py", "hcl.py"} <= names
    assert list((envcache.PACKAGE / "templates").glob("*/*.j2"))


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
    data = entry.read_bytes()
    entry.write_bytes(data[:-40] + b"not a pickle" + data[-28:])
    assert envcache.load(root, "dev", _cache(root)).config.project == "demo"
    body = sealed.load(_cache(root), "dev.env")
    assert body is not None
    assert pickle.loads(body.split(b"\n", 1)[1]).config.project == "demo"


@pytest.mark.parametrize("how", ["group-writable entry", "group-writable folder", "symlinked entry", "linked folder"])
def test_an_entry_others_could_have_written_is_never_unpickled(root: Path, monkeypatch, how: str) -> None:
    envcache.load(root, "dev", _cache(root))
    entry = _cache(root) / "dev.env"
    if how == "group-writable entry":
        entry.chmod(0o620)
    elif how == "group-writable folder":
        entry.parent.chmod(0o770)
    elif how == "symlinked entry":
        moved = root / "elsewhere.env"
        entry.rename(moved)
        entry.symlink_to(moved)
    else:  # the cache folder swapped for a link to a copy (an ancestor swapped between check and open)
        shutil.copytree(root / ".hclforge/cache", root / "copy")
        shutil.rmtree(root / ".hclforge/cache")
        (root / ".hclforge/cache").symlink_to(root / "copy", target_is_directory=True)
    monkeypatch.setattr(pickle, "loads", lambda *_a: pytest.fail("an unsafe entry was unpickled"))
    calls = _count_long_way(monkeypatch)
    assert envcache.load(root, "dev", root / ".hclforge/cache/config").config.project == "demo"
    assert len(calls) == 1


class _Planted:
    """What a forged entry's pickle runs when it is loaded: it leaves a mark."""

    def __init__(self, mark: Path) -> None:
        self.mark = mark

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (_touch, (str(self.mark),))


def _touch(path: str) -> None:
    Path(path).touch()


def _count_long_way(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Record each load taken the long way (hclforge.config.load_env)."""
    from hclforge import config

    calls: list[object] = []
    real = config.load_env
    monkeypatch.setattr(config, "load_env", lambda *a: calls.append(a) or real(*a))
    return calls


def test_an_entry_hclforge_did_not_seal_is_never_unpickled(root: Path) -> None:
    """The old cache trusted any 0600 file of the user's with the right header; a swapped folder could supply one.

    The forged entry here passes every check the old code made (the user's own file,
    mode 0600, in a 0700 folder, the right format, name, code key and input digests):
    only its seal is missing. Loading it would run the planted pickle.
    """
    loaded = envcache.load(root, "dev", _cache(root))
    entry = _cache(root) / "dev.env"
    mark = root / "planted-ran"
    header = {"format": 1, "name": "dev", "code": envcache.code_key(), "inputs": loaded.inputs}
    for fmt in (1, envcache.FORMAT):
        header["format"] = fmt
        entry.write_bytes(json.dumps(header, sort_keys=True).encode() + b"\n" + pickle.dumps(_Planted(mark)))
        entry.chmod(0o600)
        assert envcache.load(root, "dev", _cache(root)).config.project == "demo"
        assert not mark.exists(), "a forged entry was unpickled"


def test_an_entry_sealed_with_another_key_is_never_unpickled(root: Path, monkeypatch, tmp_path_factory) -> None:
    """An entry restored from another machine's or user's cache (a CI cache, say) carries another seal."""
    envcache.load(root, "dev", _cache(root))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path_factory.mktemp("other-user")))
    sealed.secret.cache_clear()
    try:
        calls = _count_long_way(monkeypatch)
        envcache.load(root, "dev", _cache(root))
        assert len(calls) == 1, "an entry sealed with another key was used"
    finally:
        sealed.secret.cache_clear()


def test_a_key_file_others_can_read_disables_the_cache(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    sealed.secret.cache_clear()
    try:
        assert sealed.secret() is not None
        key = tmp_path / "state/hclforge/cache.key"
        assert oct(key.stat().st_mode & 0o777) == oct(0o600)
        key.chmod(0o644)
        sealed.secret.cache_clear()
        assert sealed.secret() is None
        sealed.store(tmp_path, "x", b"body")
        assert not (tmp_path / "x").exists()
    finally:
        sealed.secret.cache_clear()


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


# ------------------------------------------------------------------ the code key (issue 20, point 7)


def _fake_distribution(site: Path, version: str = "1.0") -> Path:
    """``fakelib`` installed from a wheel into ``site``: a package, its dist-info and a RECORD."""
    package = site / "fakelib"
    package.mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text("from fakelib.core import answer\n")
    (package / "core.py").write_text("def answer():\n    return 42\n")
    info = site / f"fakelib-{version}.dist-info"
    shutil.rmtree(site / "fakelib-1.0.dist-info", ignore_errors=True)
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: fakelib\nVersion: {version}\n")
    rows = []
    for path in (package / "__init__.py", package / "core.py", info / "METADATA"):
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        rows.append(f"{path.relative_to(site).as_posix()},sha256={digest},{path.stat().st_size}")
    rows.append(f"{info.name}/RECORD,,")
    (info / "RECORD").write_text("\n".join(rows) + "\n")
    return package


@pytest.fixture
def fakelib(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    site = tmp_path / "site"
    package = _fake_distribution(site)
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setattr(envcache, "LIBRARIES", {"fakelib": "fakelib"})
    envcache.code_key.cache_clear()
    yield package
    envcache.code_key.cache_clear()


def _key() -> str:
    envcache.code_key.cache_clear()
    return envcache.code_key()


def test_a_patched_module_of_a_library_that_is_not_its_init_changes_the_key(fakelib: Path) -> None:
    """The old key read each library's __init__.py only: yaml/constructor.py patched kept the old entries."""
    before = _key()
    core = fakelib / "core.py"
    core.write_text("def answer():\n    return 4200\n")  # patched in place, as a hand edit or a bad upgrade leaves it
    assert _key() != before


def test_a_reinstall_that_changes_the_record_changes_the_key(fakelib: Path) -> None:
    """Another build of the same files (a compiled module swapped, say) shows in the RECORD's hashes."""
    before = _key()
    site = fakelib.parent
    record = site / "fakelib-1.0.dist-info/RECORD"
    stat_before = (fakelib / "core.py").stat()
    record.write_text(record.read_text().replace("sha256=", "sha256=0", 1))
    os.utime(fakelib / "core.py", ns=(stat_before.st_atime_ns, stat_before.st_mtime_ns))
    assert _key() != before
    _fake_distribution(site, version="2.0")
    assert _key() != before


def test_the_key_covers_the_time_zone_data_the_rules_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Scheduled tasks' time zones are checked against the system's zone files and the tzdata package."""
    zones = tmp_path / "zoneinfo"
    zones.mkdir()
    (zones / "tzdata.zi").write_text("# version 2026a\n")
    monkeypatch.setattr(envcache, "_tz_roots", lambda: [str(zones)])
    before = _key()
    (zones / "tzdata.zi").write_text("# version 2026b, one zone more\n")
    assert _key() != before
    assert "tzdata" in envcache.LIBRARIES


def test_the_library_list_covers_what_loads_validates_and_renders() -> None:
    """pydantic's compiled core and its own dependencies, Jinja2's MarkupSafe, the tzdata package."""
    assert set(envcache.LIBRARIES) >= {
        "yaml",
        "pydantic",
        "pydantic_core",
        "annotated_types",
        "typing_extensions",
        "jinja2",
        "markupsafe",
        "tzdata",
    }
    for module, dist in envcache.LIBRARIES.items():
        assert envcache._library_files(module, dist), f"{module}: no RECORD found for {dist}"


# ------------------------------------------------------------------ Jinja's compiled templates

_RENDER_WITH_CACHE = (
    "import sys; from pathlib import Path; from hclforge import render;"
    "render.use_bytecode_cache(Path(sys.argv[1])); render.render(Path(sys.argv[2]), 'dev')"
)


def _render_in_child(cache: Path, root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-c", _RENDER_WITH_CACHE, str(cache), str(root)], capture_output=True, text=True, env=env
    )


def test_a_compiled_template_hclforge_did_not_seal_is_never_run(root: Path) -> None:
    """Jinja's FileSystemBytecodeCache ran any entry in .hclforge/cache/jinja: marshalled code, executed on load."""
    import marshal

    from jinja2.bccache import bc_magic

    cache = root / ".hclforge/cache/jinja"
    cache.mkdir(mode=0o700, parents=True)
    first = _render_in_child(cache, root)
    assert first.returncode == 0, first.stderr
    entries = sorted(cache.iterdir())
    assert entries, "the render wrote no compiled template"
    mark = root / "planted-ran"
    code = compile(f"open({str(mark)!r}, 'w').close()", "<planted>", "exec")
    for entry in entries:
        data = entry.read_bytes()
        at = data.index(bc_magic) + len(bc_magic)
        checksum = pickle.loads(data[at:])  # the template source's checksum, as Jinja checks it
        entry.write_bytes(bc_magic + pickle.dumps(checksum, 2) + marshal.dumps(code))
        entry.chmod(0o600)
    second = _render_in_child(cache, root)
    assert not mark.exists(), "a compiled template that hclforge did not write was run"
    assert second.returncode == 0, second.stderr
