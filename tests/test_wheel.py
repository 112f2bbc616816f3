"""The wheel, installed into a fresh virtualenv, works outside the repository: light, then with the emulator.

No editable install and no repository on ``sys.path``: what a team gets from
``pip install hclforge``, then ``pip install 'hclforge[emulator]'``. The project is
made by ``hclforge new`` and checked with its own Makefile.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

from hclforge import __version__
from tests.conftest import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.terraform, pytest.mark.emulator]

# What the emulator extra brings (moto[server]); none of it is in the light install.
EMULATOR_ONLY = ("moto", "flask", "werkzeug", "docker", "sympy", "cfnlint")


def _run(argv: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_wheel_installs_light_and_with_the_emulator_extra(tmp_path: Path) -> None:
    # uv (pinned in the dev extra) builds and installs: the same pins as pip, for a tenth of
    # pip's CPU (it skips byte-compiling ~180 packages), and it is there in any dev venv.
    uv = str(Path(sys.executable).parent / "uv")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    dist = tmp_path / "dist"
    build = [uv, "build", "--wheel", "--no-build-isolation", "-q", "--python", sys.executable, "-o", str(dist)]
    built = _run([*build, str(ROOT)], tmp_path, env)
    assert built.returncode == 0, built.stderr
    (wheel,) = dist.glob("hclforge-*.whl")
    assert wheel.name.startswith(f"hclforge-{__version__}-")
    names = zipfile.ZipFile(wheel).namelist()
    assert {n.split("/")[0] for n in names} == {"hclforge", f"hclforge-{__version__}.dist-info"}
    assert "hclforge/templates/ecs/main.tf.j2" in names
    assert "hclforge/data/aws-prices.yaml" in names and "hclforge/data/hclforge-env.schema.json" in names

    # The light install: the wheel and its own dependencies, at the pins of requirements.lock.
    venv = tmp_path / "venv"
    made = _run([uv, "venv", "-q", "--python", sys.executable, str(venv)], tmp_path, env)
    assert made.returncode == 0, made.stderr
    pip = [uv, "pip", "install", "-q", "--python", str(venv / "bin/python"), "-c", str(ROOT / "requirements.lock")]
    light = _run([*pip, str(wheel)], tmp_path, env)
    assert light.returncode == 0, light.stderr[-2000:]
    site = next((venv / "lib").glob("python3.*/site-packages"))
    assert not (site / "cli").exists() and not (site / "render.py").exists()
    assert not list(site.glob("__editable__*"))
    probe = f"import importlib.util as u; print([m for m in {EMULATOR_ONLY!r} if u.find_spec(m)])"
    assert _run([str(venv / "bin/python"), "-c", probe], tmp_path, env).stdout.strip() == "[]"

    hclforge = str(venv / "bin/hclforge")
    assert _run([hclforge, "--version"], tmp_path, env).stdout.strip() == f"hclforge, version {__version__}"
    helped = _run([hclforge, "--help"], tmp_path, env)
    assert helped.returncode == 0 and "Usage: hclforge" in helped.stdout, helped.stderr
    light_project = tmp_path / "light"
    made = _run([hclforge, "new", str(light_project)], tmp_path, env)
    assert made.returncode == 0, made.stderr
    # Installed from a wheel file CI cannot reach: no version from an index, a placeholder, and a warning.
    assert f"warning: hclforge was installed from the archive {wheel}" in made.stderr
    workflow = (light_project / ".github/workflows/hclforge.yml").read_text()
    steps = yaml.safe_load(workflow)["jobs"]["check"]["steps"]
    install = next(step for step in steps if step.get("name") == "Install hclforge")
    assert "pip install" not in install["run"] and install["run"].splitlines()[-1] == "exit 1"

    # plan against an AWS that does not answer (a closed port on 127.0.0.1, fake keys): a clean
    # runtime error, and nothing about the emulator.
    unreachable = {
        **env,
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{_closed_port()}",
        "AWS_ACCESS_KEY_ID": "AKIAEXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "example",
        "AWS_MAX_ATTEMPTS": "1",
    }
    unreachable.pop("AWS_PROFILE", None)
    planned = _run([hclforge, "plan", "dev"], light_project, unreachable)
    assert planned.returncode == 1, planned.stdout + planned.stderr
    assert "error: cannot check the AWS account" in planned.stderr
    assert "Traceback" not in planned.stderr and "moto" not in planned.stderr
    # An emulator command names the extra in one line, exit 2.
    started = _run([hclforge, "emulator", "start"], light_project, env)
    assert (started.returncode, started.stdout) == (2, "")
    one_line = "error: the emulator needs moto, which is not installed: pip install 'hclforge[emulator]'\n"
    assert started.stderr == one_line
    assert not (light_project / ".hclforge/emulator.json").exists()

    # With the extra (added to the same venv): a new project passes its own make test and make plan.
    extra = _run([*pip, f"hclforge[emulator] @ {wheel.as_uri()}"], tmp_path, env)
    assert extra.returncode == 0, extra.stderr[-2000:]
    assert _run([str(venv / "bin/python"), "-c", probe], tmp_path, env).stdout.strip() != "[]"
    assert _run([hclforge, "new", "infra"], tmp_path, env).returncode == 0
    project = tmp_path / "infra"
    on_path = {**env, "PATH": f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"}
    try:
        tested = _run(["make", "test"], project, on_path)
        assert tested.returncode == 0, tested.stdout + tested.stderr
        assert "valid  local (request path: " in tested.stdout and "valid  dev (request path: " in tested.stdout
        # The request-path check stopped the emulator it started.
        assert not (project / ".hclforge/emulator.json").exists()
        planned = _run(["make", "plan"], project, on_path)
        assert planned.returncode == 0, planned.stdout + planned.stderr
        assert "Plan for local:" in planned.stdout and "total" in planned.stdout
        # The package's own code ran, not the repository's.
        where = _run([str(venv / "bin/python"), "-c", "import hclforge; print(hclforge.__file__)"], project, env)
        assert where.stdout.startswith(str(site))
    finally:
        _run([hclforge, "emulator", "stop"], project, env)
