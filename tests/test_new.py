"""``hclforge new``: a project of a team's own, which plans on the emulator at once; the root is found upwards."""

from __future__ import annotations

from pathlib import Path

import pytest

from hclforge.cli.main import main
from hclforge.cli.scaffold import project_name
from hclforge.cli.settings import find_root
from hclforge.config import env_names, load_env
from tests.conftest import tree_snapshot


def test_new_writes_a_valid_project(tmp_path: Path, capsys) -> None:
    target = tmp_path / "Sales Ops"
    assert main(["new", str(target), "--region", "ap-northeast-1"]) == 0
    out = capsys.readouterr().out
    assert "new project sales-ops" in out
    files = sorted(p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file())
    assert files == [
        ".github/workflows/hclforge.yml",
        ".github/workflows/image.yml",
        ".gitignore",
        "Makefile",
        "README.md",
        "envs/_base.yaml",
        "envs/dev.yaml",
        "envs/local.yaml",
        "hclforge.toml",
        "schema/hclforge-env.schema.json",
    ]
    assert env_names(target) == ["dev", "local"]
    for env in ("dev", "local"):
        cfg = load_env(target, env).config
        assert cfg.project == "sales-ops" and cfg.aws.region == "ap-northeast-1"
    assert load_env(target, "local").config.aws.emulator
    assert "@@" not in "".join(p.read_text() for p in target.rglob("*") if p.is_file())


def test_new_never_overwrites(tmp_path: Path, capsys) -> None:
    (tmp_path / "envs").mkdir()
    (tmp_path / "envs" / "mine.yaml").write_text("project: x\n")
    before = tree_snapshot(tmp_path)
    assert main(["new", str(tmp_path)]) == 2
    assert "is not empty; hclforge new never overwrites" in capsys.readouterr().err
    assert tree_snapshot(tmp_path) == before


def test_new_refuses_a_bad_project_name(tmp_path: Path, capsys) -> None:
    assert main(["new", str(tmp_path / "x"), "--project", "Bad_Name"]) == 2
    assert "'Bad_Name' is not a project name" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize(
    ("directory", "name"), [("Sales Ops", "sales-ops"), ("42-infra", "p-42-infra"), ("a" * 30, "a" * 20)]
)
def test_project_name_from_the_directory(directory: str, name: str) -> None:
    assert project_name(Path(directory)) == name


def test_root_is_found_upwards(tmp_path: Path, monkeypatch, capsys) -> None:
    main(["new", str(tmp_path / "proj")])
    capsys.readouterr()
    deep = tmp_path / "proj" / "modules" / "x"
    deep.mkdir(parents=True)
    assert find_root(deep) == tmp_path / "proj"
    monkeypatch.chdir(deep)
    assert main(["envs"]) == 0
    assert "local" in capsys.readouterr().out
    assert find_root(tmp_path) == tmp_path


def test_version(capsys) -> None:
    from hclforge import __version__

    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"hclforge, version {__version__}"


def test_one_import_package(tmp_path: Path) -> None:
    """The code imports itself as hclforge.*, never through the top-level cli/ or render.py of a clone."""
    import subprocess
    import sys

    from tests.conftest import ROOT

    probe = (
        "import sys; import hclforge.cli.main, hclforge.cli.ops, hclforge.render; "
        "print(sorted(m for m in sys.modules if m in ('cli', 'render') or m.startswith('cli.')))"
    )
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
