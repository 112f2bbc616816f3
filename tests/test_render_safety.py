"""modules/ cannot be subverted: no writing through symlinks, no opening FIFOs, one render per env at a time."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from hclforge import render
from hclforge.errors import UnsafePathError, exit_code_for
from tests.conftest import MINIMAL_ENV


@pytest.fixture
def demo(project) -> Path:
    return project({"envs/demo.yaml": MINIMAL_ENV})


def test_render_refuses_a_symlinked_env_dir(demo: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    outside = tmp_path_factory.mktemp("outside")
    (demo / "modules").mkdir()
    (demo / "modules/demo").symlink_to(outside, target_is_directory=True)
    with pytest.raises(UnsafePathError, match="modules/demo is a symbolic link") as err:
        render.render_many(demo, ["demo"], check=False)
    assert exit_code_for(err.value) == 2
    assert list(outside.iterdir()) == []


def test_render_refuses_a_symlinked_modules_dir(demo: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    outside = tmp_path_factory.mktemp("outside")
    (demo / "modules").symlink_to(outside, target_is_directory=True)
    with pytest.raises(UnsafePathError, match="modules is a symbolic link"):
        render.render_many(demo, ["demo"], check=False)
    assert list(outside.iterdir()) == []


def test_render_refuses_symlinked_subdirs_and_files(demo: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    render.render_many(demo, ["demo"], check=False)
    outside = tmp_path_factory.mktemp("outside")
    victim = outside / "victim.tf"
    victim.write_text("keep me\n")
    main_tf = demo / "modules/demo/ecs/main.tf"
    main_tf.unlink()
    main_tf.symlink_to(victim)
    with pytest.raises(UnsafePathError, match=r"modules/demo/ecs/main\.tf is a symbolic link"):
        render.render_many(demo, ["demo"], check=False)
    assert victim.read_text() == "keep me\n"
    main_tf.unlink()
    iam = demo / "modules/demo/iam"
    for child in iam.iterdir():
        child.unlink()
    iam.rmdir()
    iam.symlink_to(outside, target_is_directory=True)
    with pytest.raises(UnsafePathError, match="modules/demo/iam is a symbolic link"):
        render.render_many(demo, ["demo"], check=False)
    assert sorted(p.name for p in outside.iterdir()) == ["victim.tf"]


def test_a_fifo_in_the_tree_is_refused_not_opened(demo: Path) -> None:
    render.render_many(demo, ["demo"], check=False)
    os.mkfifo(demo / "modules/demo/x.tf")
    # In a child process: a render that opens the FIFO would block forever.
    proc = subprocess.run(
        [sys.executable, "render.py", "--root", str(demo), "demo"],
        cwd=Path(render.__file__).parent,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    assert "modules/demo/x.tf is not a regular file" in proc.stderr


def _render_demo(root: str) -> str:
    try:
        render.render_many(Path(root), ["demo"], check=False)
    except Exception as err:  # reported to the parent
        return f"{type(err).__name__}: {err}"
    return ""


def test_concurrent_renders_of_one_env_do_not_crash(project) -> None:
    with_worker = {**MINIMAL_ENV, "services": {**MINIMAL_ENV["services"], "worker": {"image": "busybox:1"}}}
    root = project({"envs/demo.yaml": MINIMAL_ENV})
    env_file = root / "envs/demo.yaml"
    errors = []
    with multiprocessing.get_context("fork").Pool(4) as pool:
        for n in range(16):
            # Renders race to add, then to remove, the worker's files.
            env_file.write_text(yaml.safe_dump(with_worker if n % 2 == 0 else MINIMAL_ENV))
            errors += [e for e in pool.map(_render_demo, [str(root)] * 4) if e]
    assert errors == []
    assert {c.action for c in render.diff_tree(root, render.render(root, "demo"))} == {"identical"}
