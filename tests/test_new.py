"""``hclforge new``: a project of a team's own that passes its own checks at once; the root is found upwards."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from hclforge import __version__
from hclforge.cli.main import main
from hclforge.cli.scaffold import project_name
from hclforge.cli.settings import find_root
from hclforge.config import env_names, load_env
from tests.conftest import ROOT, tree_snapshot

SCAFFOLD = [
    ".github/workflows/hclforge-apply-roots.yml",
    ".github/workflows/hclforge-deploy-env.yml",
    ".github/workflows/hclforge-deploy.yml",
    ".github/workflows/hclforge-plan-roots.yml",
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
# What the README's quickstart and the issue name; `make help` lists them.
MAKE_TARGETS = {
    "help", "plan", "apply", "deploy", "status", "logs", "destroy", "render", "check", "test",
    "emulator-up", "emulator-down", "completion",
}  # fmt: skip
HCLFORGE = str(Path(sys.executable).parent / "hclforge")


def _paths(base: Path) -> list[str]:
    """Every path under ``base``, directories and symlinks included (to prove nothing was created)."""
    return sorted(p.relative_to(base).as_posix() for p in base.rglob("*"))


def test_new_writes_a_valid_rendered_project(tmp_path: Path, capsys) -> None:
    target = tmp_path / "Sales Ops"
    assert main(["new", str(target), "--region", "ap-northeast-1"]) == 0
    out = capsys.readouterr().out
    assert "new project sales-ops" in out
    assert "   render  modules/dev/ (" in out and "   render  modules/local/ (" in out
    files = sorted(p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file())
    assert [f for f in files if not f.startswith("modules/")] == SCAFFOLD
    assert {f.split("/")[1] for f in files if f.startswith("modules/")} == {"dev", "local"}
    assert env_names(target) == ["dev", "local"]
    for env in ("dev", "local"):
        cfg = load_env(target, env).config
        assert cfg.project == "sales-ops" and cfg.aws.region == "ap-northeast-1"
    assert load_env(target, "local").config.aws.emulator
    assert "@@" not in "".join(p.read_text() for p in target.rglob("*") if p.is_file())
    # Every environment it writes is rendered: its own checks pass at once.
    assert main(["--root", str(target), "render", "--all", "--check"]) == 0
    assert main(["--root", str(target), "schema", "--check"]) == 0


def test_the_project_passes_make_check_and_has_the_readme_targets(tmp_path: Path, capsys) -> None:
    """Before: no modules/ at all, so `render --check` failed with the whole render as a diff."""
    assert main(["new", str(tmp_path / "infra")]) == 0
    capsys.readouterr()
    make = ["make", "-s", f"HCLFORGE={HCLFORGE}"]
    helped = subprocess.run([*make, "help"], cwd=tmp_path / "infra", capture_output=True, text=True, check=True)
    targets = {line.split()[0] for line in helped.stdout.splitlines() if line.startswith("  ")}
    assert targets >= MAKE_TARGETS
    checked = subprocess.run([*make, "check"], cwd=tmp_path / "infra", capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "up to date modules/dev/" in checked.stdout and "up to date modules/local/" in checked.stdout
    readme = (tmp_path / "infra/README.md").read_text()
    named = {word.removeprefix("make ") for word in readme.split("`") if word.startswith("make ")}
    named |= {line.split()[1] for line in readme.splitlines() if line.startswith("make ")}
    assert named <= MAKE_TARGETS, named - MAKE_TARGETS
    completion = subprocess.run([*make, "completion"], cwd=tmp_path / "infra", capture_output=True, text=True)
    assert "complete -o nosort -F _hclforge_completion hclforge" in completion.stdout


def test_new_refuses_a_non_empty_directory_without_here(tmp_path: Path, capsys) -> None:
    (tmp_path / "envs").mkdir()
    (tmp_path / "envs" / "mine.yaml").write_text("project: x\n")
    before = tree_snapshot(tmp_path)
    assert main(["new", str(tmp_path)]) == 2
    assert f"{tmp_path} is not empty: pass --here to add hclforge to it" in capsys.readouterr().err
    assert tree_snapshot(tmp_path) == before


def test_here_adds_to_an_existing_repository_and_keeps_its_files(tmp_path: Path, monkeypatch, capsys) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src/app.py").write_text("print('hi')\n")
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'shop'\n")
    monkeypatch.chdir(tmp_path)
    assert main(["new", "--here", "--project", "shop"]) == 0
    out = capsys.readouterr().out
    assert "new project shop in .: make plan" in out  # no cd: it is the current directory
    assert (tmp_path / "src/app.py").read_text() == "print('hi')\n"
    assert (tmp_path / "pyproject.toml").read_text() == "[project]\nname = 'shop'\n"
    assert load_env(tmp_path, "local").config.project == "shop"
    assert main(["render", "--all", "--check"]) == 0


def test_here_refuses_each_conflict_and_writes_nothing(tmp_path: Path, capsys) -> None:
    (tmp_path / "Makefile").write_text("all:\n\techo mine\n")
    (tmp_path / "README.md").write_text("# mine\n")
    (tmp_path / "envs").write_text("a file where new wants a directory\n")
    (tmp_path / "modules/dev").mkdir(parents=True)
    (tmp_path / "modules/dev/extra.tf").write_text("# hand-written\n")
    (tmp_path / ".gitignore").symlink_to(tmp_path / "elsewhere")
    before, paths = tree_snapshot(tmp_path), _paths(tmp_path)
    assert main(["new", str(tmp_path), "--here"]) == 2
    err = capsys.readouterr().err
    assert f"error: hclforge new found 5 conflict(s) in {tmp_path}; it never overwrites, nothing was written:" in err
    for conflict in (
        ".gitignore is a symlink",
        "Makefile exists and differs",
        "README.md exists and differs",
        "envs is not a directory",
        "modules/dev/extra.tf is not part of the render of modules/dev/",
    ):
        assert f"\n  {conflict}\n" in err + "\n", err
    assert tree_snapshot(tmp_path) == before and _paths(tmp_path) == paths


def test_here_skips_identical_files(tmp_path: Path, capsys) -> None:
    assert main(["new", str(tmp_path / "first")]) == 0
    (tmp_path / "second").mkdir()
    shutil.copy(tmp_path / "first/hclforge.toml", tmp_path / "second/hclforge.toml")
    capsys.readouterr()
    assert main(["new", str(tmp_path / "second"), "--here", "--project", "first"]) == 0
    out = capsys.readouterr().out
    assert "identical  hclforge.toml" in out and "create  hclforge.toml" not in out
    assert tree_snapshot(tmp_path / "first") == tree_snapshot(tmp_path / "second")


def test_new_in_a_subdirectory_of_a_git_repository_puts_ci_at_its_root(tmp_path: Path, capsys) -> None:
    repo = tmp_path / "shop"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / "README.md").write_text("# the shop\n")
    assert main(["new", str(repo / "infra")]) == 0
    out = capsys.readouterr().out
    assert "   create  ../.github/workflows/hclforge.yml" in out
    assert not (repo / "infra/.github").exists()
    workflow = yaml.safe_load((repo / ".github/workflows/hclforge.yml").read_text())
    assert workflow["jobs"]["check"]["defaults"]["run"]["working-directory"] == "infra"
    image = yaml.safe_load((repo / ".github/workflows/image.yml").read_text())
    assert image["jobs"]["image"]["defaults"]["run"]["working-directory"] == "infra"
    assert "`../.github/workflows/hclforge.yml`" in (repo / "infra/README.md").read_text()
    assert (repo / "README.md").read_text() == "# the shop\n"
    # A second project in the same repository would overwrite that workflow: refused, nothing written.
    (repo / ".github/workflows/hclforge.yml").write_text("name: mine\n")
    assert main(["new", str(repo / "infra2")]) == 2
    assert "../.github/workflows/hclforge.yml exists and differs" in capsys.readouterr().err
    assert not (repo / "infra2").exists()


def test_new_refuses_a_bad_project_name(tmp_path: Path, capsys) -> None:
    assert main(["new", str(tmp_path / "x"), "--project", "Bad_Name"]) == 2
    assert "'Bad_Name' is not a project name" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_new_on_a_dangling_symlink_says_so(tmp_path: Path, capsys) -> None:
    """Before: 'exists and is not a directory', of a path that does not exist."""
    (tmp_path / "infra").symlink_to(tmp_path / "gone")
    assert main(["new", str(tmp_path / "infra")]) == 2
    err = capsys.readouterr().err
    assert f"error: {tmp_path / 'infra'} is a dangling symlink (to {tmp_path / 'gone'})" in err
    assert "does not write through symlinks" in err
    assert not (tmp_path / "gone").exists() and _paths(tmp_path) == ["infra"]


def test_new_on_a_symlink_to_a_directory_names_the_directory(tmp_path: Path, capsys) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "infra").symlink_to(tmp_path / "real")
    assert main(["new", str(tmp_path / "infra")]) == 2
    err = capsys.readouterr().err
    assert f"is a symlink (to {tmp_path / 'real'}); hclforge new does not write through symlinks" in err
    assert "give the directory itself" in err
    assert not any((tmp_path / "real").iterdir())


def test_new_needs_a_directory_or_here(capsys) -> None:
    assert main(["new"]) == 2
    assert "give a DIRECTORY, or --here for the current directory" in capsys.readouterr().err


def test_the_cd_hint_is_quoted_for_the_shell(tmp_path: Path, monkeypatch, capsys) -> None:
    """Before: ``cd my infra/proj && ...``, which a shell reads as ``cd my``."""
    monkeypatch.chdir(tmp_path)
    assert main(["new", "my infra/proj"]) == 0
    last = capsys.readouterr().out.splitlines()[-1]
    assert last == "new project proj in my infra/proj: cd 'my infra/proj' && make plan"
    assert shlex.split(last.split(": ", 1)[1])[:2] == ["cd", "my infra/proj"]


@pytest.mark.parametrize(
    ("directory", "name"), [("Sales Ops", "sales-ops"), ("42-infra", "p-42-infra"), ("a" * 30, "a" * 20)]
)
def test_project_name_from_the_directory(directory: str, name: str) -> None:
    assert project_name(Path(directory)) == name


def test_project_name_of_the_current_directory(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "Team Infra").mkdir()
    monkeypatch.chdir(tmp_path / "Team Infra")
    assert project_name(Path(".")) == "team-infra"


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
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"hclforge, version {__version__}"


def test_one_import_package(tmp_path: Path) -> None:
    """The code imports itself as hclforge.*, never through the top-level cli/ or render.py of a clone."""
    probe = (
        "import sys; import hclforge.cli.main, hclforge.cli.ops, hclforge.render; "
        "print(sorted(m for m in sys.modules if m in ('cli', 'render') or m.startswith('cli.')))"
    )
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_no_command_but_the_emulator_imports_moto(tmp_path: Path) -> None:
    """moto is an extra: loading every command, and running one that is not the emulator's, imports none of it."""
    probe = (
        "import sys; from hclforge.cli.main import main; "
        f"p = {str(tmp_path / 'proj')!r}; "
        "code = main(['--help']) + main(['new', p]) + main(['--root', p, 'render', '--all']); "
        "print(code, sorted({m.split('.')[0] for m in sys.modules} & {'moto', 'flask', 'werkzeug'}))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, env=os.environ)
    assert done.stdout.strip().splitlines()[-1] == "0 []", done.stdout + done.stderr
