""".hclforge/ is hclforge's own: never followed through a symlink, never chmodded through one (issue 20, point 6).

Each test reproduces a failure of the code before the fix: a linked ``.hclforge``
(or a linked directory in it) was followed, its target made 0700 and written into,
and a user who could not chmod the target got a ``PermissionError`` traceback.
"""

from __future__ import annotations

import functools
import os
import shutil
import stat
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from hclforge.errors import PrivateDirError, UnsafePathError, exit_code_for
from hclforge.paths import open_private_dir, private_dir
from tests.conftest import MINIMAL_ENV, ROOT, run

NOBODY = 65534


@pytest.fixture
def demo(project) -> Path:
    return project({"envs/dev.yaml": MINIMAL_ENV})


@pytest.fixture
def outside(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory outside the project that must stay as it is (mode 1777, like /tmp)."""
    folder = tmp_path_factory.mktemp("outside")
    folder.chmod(0o1777)
    return folder


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


# ------------------------------------------------------------------ the commands


@pytest.mark.parametrize("args", [("plan", "dev"), ("render", "dev"), ("init", "dev"), ("output", "dev")])
def test_a_symlinked_hclforge_is_refused_and_its_target_left_alone(
    demo: Path, outside: Path, capsys: pytest.CaptureFixture[str], args: tuple[str, ...]
) -> None:
    (demo / ".hclforge").symlink_to(outside, target_is_directory=True)
    code, _out, err = run(demo, capsys, *args)
    assert code == 2, err
    assert "error: .hclforge is a symbolic link" in err
    assert "Traceback" not in err
    assert _mode(outside) == 0o1777, "the link's target was chmodded"
    assert list(outside.iterdir()) == [], "something was written through the link"


@pytest.mark.parametrize(
    ("linked", "args"),
    [
        (".hclforge/cache", ("plan", "dev")),
        (".hclforge/envs/dev", ("plan", "dev")),
        (".hclforge/locks", ("render", "dev")),
    ],
)
def test_a_symlinked_directory_inside_hclforge_is_refused(
    demo: Path, outside: Path, capsys: pytest.CaptureFixture[str], linked: str, args: tuple[str, ...]
) -> None:
    link = demo / linked
    link.parent.mkdir(mode=0o700, parents=True)
    link.symlink_to(outside, target_is_directory=True)
    code, _out, err = run(demo, capsys, *args)
    assert code == 2, err
    assert f"error: {linked} is a symbolic link" in err
    assert _mode(outside) == 0o1777
    assert list(outside.iterdir()) == []


@pytest.fixture
def shared_tmp() -> Iterator[Path]:
    """A directory another user can enter (pytest's tmp_path is private to root)."""
    folder = Path(tempfile.mkdtemp(prefix="hclforge-nobody-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder)


def _drop() -> None:  # pragma: no cover - runs in the child
    os.setgroups([])
    os.setgid(NOBODY)
    os.setuid(NOBODY)


@functools.cache
def _nobody_command() -> tuple[list[str], dict[str, str]]:
    """A Python nobody may run, with hclforge and the venv's packages on its path.

    The venv's own interpreter may live where nobody cannot enter (a pyenv under /root): then a
    system Python of the same minor version runs the same sources and packages.
    """
    env = {
        "PATH": os.environ["PATH"],
        "HOME": "/nonexistent",
        "NO_COLOR": "1",
        "PYTHONPATH": os.pathsep.join([str(ROOT), sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    code = "import sys; from hclforge.cli.main import run; sys.exit(run())"
    minor = f"python{sys.version_info.major}.{sys.version_info.minor}"
    for interp in (os.path.realpath(sys.executable), f"/usr/bin/{minor}", f"/usr/local/bin/{minor}"):
        try:
            probe = subprocess.run(
                [interp, "-c", "import hclforge.cli.main"], env=env, preexec_fn=_drop, capture_output=True, timeout=60
            )
        except OSError:
            continue
        if probe.returncode == 0:
            return [interp, "-c", code], env
    pytest.fail(f"no Python {minor} that user nobody may run was found")


def _as_nobody(*args: str) -> subprocess.CompletedProcess[str]:
    command, env = _nobody_command()
    return subprocess.run(
        [*command, *args], capture_output=True, text=True, env=env, preexec_fn=_drop, timeout=120, check=False
    )


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run a command as another user")
def test_another_user_gets_a_typed_error_not_a_permission_traceback(shared_tmp: Path) -> None:
    """As a user who cannot chmod the link's target, the old code ended in a PermissionError traceback."""
    target = shared_tmp / "world"  # like /tmp: root's, 1777
    target.mkdir()
    target.chmod(0o1777)
    project = shared_tmp / "project"
    (project / "envs").mkdir(parents=True)
    (project / "envs/dev.yaml").write_text((Path(__file__).parent.parent / "envs/_base.yaml").read_text())
    shutil.copy(Path(__file__).parent.parent / "hclforge.toml", project / "hclforge.toml")
    import yaml

    (project / "envs/dev.yaml").write_text(yaml.safe_dump(MINIMAL_ENV))
    for path in [project, *project.rglob("*")]:
        os.chown(path, NOBODY, NOBODY)
    (project / ".hclforge").symlink_to(target, target_is_directory=True)
    os.lchown(project / ".hclforge", NOBODY, NOBODY)

    proc = _as_nobody("--root", str(project), "plan", "dev")
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "error: .hclforge is a symbolic link" in proc.stderr
    assert _mode(target) == 0o1777

    # A real .hclforge of another user's: a clear refusal, no PermissionError either.
    (project / ".hclforge").unlink()
    (project / ".hclforge").mkdir(mode=0o755)
    proc = _as_nobody("--root", str(project), "plan", "dev")
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "error: .hclforge belongs to user 0" in proc.stderr


# ------------------------------------------------------------------ the walk itself


def test_private_dir_creates_each_missing_directory_0700(tmp_path: Path) -> None:
    made = private_dir(tmp_path / ".hclforge/envs/dev")
    assert made == tmp_path / ".hclforge/envs/dev"
    for rel in (".hclforge", ".hclforge/envs", ".hclforge/envs/dev"):
        assert _mode(tmp_path / rel) == 0o700, rel


def test_private_dir_makes_an_existing_open_directory_private_by_its_descriptor(tmp_path: Path) -> None:
    (tmp_path / ".hclforge/cache").mkdir(parents=True)
    (tmp_path / ".hclforge").chmod(0o755)
    (tmp_path / ".hclforge/cache").chmod(0o777)
    private_dir(tmp_path / ".hclforge/cache")
    assert _mode(tmp_path / ".hclforge") == 0o700
    assert _mode(tmp_path / ".hclforge/cache") == 0o700


def test_the_walk_refuses_a_file_where_a_directory_belongs(tmp_path: Path) -> None:
    (tmp_path / ".hclforge").mkdir()
    (tmp_path / ".hclforge/envs").write_text("")
    with pytest.raises(UnsafePathError, match=r"^\.hclforge/envs is not a directory"):
        private_dir(tmp_path / ".hclforge/envs/dev")


def test_a_directory_that_cannot_be_made_is_a_typed_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_args: object, **_kw: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "mkdir", refuse)
    with pytest.raises(PrivateDirError, match=r"cannot create \.hclforge: Permission denied") as err:
        private_dir(tmp_path / ".hclforge/cache")
    assert exit_code_for(err.value) == 2


def test_open_private_dir_without_create_refuses_a_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        open_private_dir(tmp_path / ".hclforge/cache", create=False)
    assert not (tmp_path / ".hclforge").exists()


def test_a_linked_env_folder_is_refused_even_when_it_holds_a_fresh_stamp(
    demo: Path, outside: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The stamp is read, and the emulator copy written, only after .hclforge/envs/<env> was walked."""
    from hclforge.cli.ops import Workspace
    from hclforge.cli.settings import load_settings

    Workspace(load_settings(demo), "dev").render()  # the tree and its stamp
    folder = demo / ".hclforge/envs/dev"
    for child in folder.iterdir():
        shutil.move(child, outside / child.name)
    folder.rmdir()
    folder.symlink_to(outside, target_is_directory=True)
    before = sorted(p.name for p in outside.iterdir())
    assert before == ["render.json"]
    try:
        code, _out, err = run(demo, capsys, "init", "dev", "--emulator")
    finally:
        run(demo, capsys, "emulator", "stop")
    assert code == 2, err
    assert "error: .hclforge/envs/dev is a symbolic link" in err
    assert sorted(p.name for p in outside.iterdir()) == before, "the emulator copy was written through the link"
