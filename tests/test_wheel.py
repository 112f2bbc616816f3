"""The wheel, installed into a fresh virtualenv, works outside the repository.

No editable install and no repository on ``sys.path``: what a team gets from
``pip install hclforge``. The project is made by ``hclforge new``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from hclforge import __version__
from tests.conftest import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.terraform, pytest.mark.emulator]


def _run(argv: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def test_wheel_installs_and_runs_outside_the_repository(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    built = _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(dist), str(ROOT)],
        tmp_path,
        dict(os.environ),
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = dist.glob("hclforge-*.whl")
    assert wheel.name.startswith(f"hclforge-{__version__}-")
    names = zipfile.ZipFile(wheel).namelist()
    assert {n.split("/")[0] for n in names} == {"hclforge", f"hclforge-{__version__}.dist-info"}
    assert "hclforge/templates/ecs/main.tf.j2" in names
    assert "hclforge/data/aws-prices.yaml" in names and "hclforge/data/hclforge-env.schema.json" in names

    # A fresh virtualenv, filled by uv (pinned in the dev extra): the same pins as pip
    # would install, for a tenth of pip's CPU (it skips byte-compiling ~180 packages).
    venv = tmp_path / "venv"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    uv = str(Path(sys.executable).parent / "uv")
    made = _run([uv, "venv", "-q", "--python", sys.executable, str(venv)], tmp_path, env)
    assert made.returncode == 0, made.stderr
    pip = [uv, "pip", "install", "-q", "--python", str(venv / "bin/python")]
    deps = _run([*pip, "-r", str(ROOT / "requirements.lock")], tmp_path, env)
    assert deps.returncode == 0, deps.stderr[-2000:]
    installed = _run([*pip, "--no-deps", str(wheel)], tmp_path, env)
    assert installed.returncode == 0, installed.stderr
    site = next((venv / "lib").glob("python3.*/site-packages"))
    assert not (site / "cli").exists() and not (site / "render.py").exists()
    assert not list(site.glob("__editable__*"))

    hclforge = str(venv / "bin/hclforge")
    project = tmp_path / "team"
    assert _run([hclforge, "--version"], tmp_path, env).stdout.strip() == f"hclforge, version {__version__}"
    assert _run([hclforge, "new", str(project)], tmp_path, env).returncode == 0
    try:
        for argv in (
            [hclforge, "render", "--all"],
            [hclforge, "validate", "local"],
            [hclforge, "plan", "dev", "--emulator"],
            [hclforge, "plan", "local"],
        ):
            done = _run(argv, project, env)
            assert done.returncode == 0, f"{argv[1:]}: {done.stdout}{done.stderr}"
            if argv[1] == "validate":
                # The request-path check planned on an emulator, and stopped the one it started.
                assert "valid  local (request path: " in done.stdout, done.stdout
                assert not (project / ".hclforge/emulator.json").exists()
        assert "Plan for local:" in done.stdout and "total" in done.stdout
        # The package's own code ran, not the repository's.
        where = _run([str(venv / "bin/python"), "-c", "import hclforge; print(hclforge.__file__)"], project, env)
        assert where.stdout.startswith(str(site))
    finally:
        _run([hclforge, "emulator", "stop"], project, env)
