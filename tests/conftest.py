"""Shared fixtures: project trees built from dicts, terraform env, and the emulator."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from hclforge.cli import emulator
from hclforge.cli.settings import load_settings
from hclforge.cli.terraform import GO_GC_PERCENT
from hclforge.cli.tfconfig import write_cli_config

ROOT = Path(__file__).resolve().parent.parent

# The terraform runs hclforge does not make (tftest's, `terraform graph`) get the collector
# setting hclforge gives its own: with Go's default they spend a fifth more CPU on a plan.
os.environ.setdefault("GOGC", GO_GC_PERCENT)
EXAMPLE_ENVS = ("local", "dev", "prod")
# Copies of the example trees for tests that are not about init or the lock file leave the
# committed .terraform.lock.hcl out: terraform then takes the provider from its plugin
# cache as it is, instead of hashing its 700 MB against the lock (0.9 CPU-s of each init).
# The mirror holds one provider version, so the plans are the same. test_life, the wheel
# test and the init tests keep the lock.
WITHOUT_LOCK = shutil.ignore_patterns(".terraform", ".terraform.lock.hcl")

MINIMAL_ENV: dict[str, Any] = {
    "project": "demo",
    "aws": {"region": "eu-west-1"},
    "network": {"vpc_id": "vpc-0123456789abcdef0", "private_subnet_ids": ["subnet-0123456789abcdef0"]},
    "services": {"api": {"image": "nginx:1.27", "port": 80, "routes": ["GET /"]}},
}


def write_files(base: Path, files: dict[str, str | dict[str, Any]]) -> None:
    """Create a tree from ``{relative path: text or data}`` (data is dumped as YAML)."""
    for rel, content in files.items():
        path = base / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            path.write_text(textwrap.dedent(content), encoding="utf-8")
        else:
            path.write_text(yaml.safe_dump(content, sort_keys=False, allow_unicode=True), encoding="utf-8")


def pytest_configure(config: pytest.Config) -> None:
    """Each process that runs tests gets a plugin cache of its own, kept between runs of this checkout.

    terraform's cache is not safe for concurrent use, and tftest's inits (unlike hclforge's)
    take no lock on it. hclforge's inits take its lock exclusively, so a cache shared with
    other runs on the machine (of another checkout, or with hclforge's default cache) made
    an init wait until none of their terraform commands held it (23 s seen for one init).
    The xdist controller runs no tests: its workers name their own.
    """
    distributing = not hasattr(config, "workerinput") and config.getoption("dist", "no") != "no"
    if distributing or "TF_PLUGIN_CACHE_DIR" in os.environ:
        return
    checkout = hashlib.sha256(str(ROOT).encode()).hexdigest()[:8]
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    os.environ["TF_PLUGIN_CACHE_DIR"] = str(Path.home() / f".cache/hclforge/plugin-cache-{checkout}-{worker}")


@pytest.fixture
def project(tmp_path: Path) -> Callable[[dict[str, str | dict[str, Any]]], Path]:
    """Build a project root in tmp_path from a dict of files; hclforge.toml is copied."""

    def make(files: dict[str, str | dict[str, Any]]) -> Path:
        shutil.copy(ROOT / "hclforge.toml", tmp_path / "hclforge.toml")
        write_files(tmp_path, files)
        return tmp_path

    return make


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[Path]:
    """A copy of the project's envs, addons, modules and settings; its emulator is stopped afterwards."""
    for name in ("envs", "addons", "modules"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns(".terraform"))
    shutil.copy(ROOT / "hclforge.toml", tmp_path / "hclforge.toml")
    yield tmp_path
    from hclforge.cli.main import main

    main(["--root", str(tmp_path), "emulator", "stop"])


def run(repo: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run the CLI on ``repo`` without colour; its exit code, stdout and stderr."""
    from hclforge.cli.main import main

    code = main(["--no-color", "--root", str(repo), *args])
    out, err = capsys.readouterr()
    return code, out, err


def ignore_sigint() -> None:
    """Start a child with SIGINT ignored, as a script's background job (or ``nohup bash -c``) starts it.

    hclforge must still stop on a SIGINT: a CI run started this way once saw it ignored.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def start_apply(root: Path, env: str, timeout: float = 240) -> tuple[subprocess.Popen[str], list[str]]:
    """Start ``hclforge apply ENV --auto-approve`` and return once terraform has finished one resource."""
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "hclforge"),
            "--no-color",
            "--root",
            str(root),
            "apply",
            env,
            "--auto-approve",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=ignore_sigint,
    )
    assert proc.stderr is not None
    seen = []
    deadline = time.monotonic() + timeout
    for line in proc.stderr:  # plain progress: "[n/47] created ..."
        seen.append(line)
        if line.startswith("[1/"):
            break
        assert time.monotonic() < deadline, "".join(seen)
    return proc, seen


def logged_terraform(where: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Make hclforge run the real terraform through a wrapper that writes each command line down first.

    Returns the log (a line per terraform command, its arguments as given).
    """
    terraform = shutil.which("terraform")
    assert terraform is not None
    log, wrapper = where / "terraform-commands.log", where / "bin/terraform"
    wrapper.parent.mkdir(parents=True)
    wrapper.write_text(f'#!/bin/sh\necho "$*" >> "{log}"\nexec "{terraform}" "$@"\n', encoding="utf-8")
    wrapper.chmod(0o755)
    monkeypatch.setenv("HCLFORGE_TERRAFORM", str(wrapper))
    return log


def tree_snapshot(base: Path) -> dict[str, bytes]:
    """Every file under ``base`` with its bytes (to prove nothing was written)."""
    if not base.exists():
        return {}
    return {p.relative_to(base).as_posix(): p.read_bytes() for p in sorted(base.rglob("*")) if p.is_file()}


def emulator_client(root: Path, service: str, region: str = "ap-northeast-1") -> Any:
    """A boto3 client for the emulator the CLI started under ``root`` (read from .hclforge/emulator.json).

    Made like hclforge's own: a session that reads nothing of the user's AWS setup.
    """
    data = json.loads((root / ".hclforge/emulator.json").read_text())
    return emulator.Emulator(int(data["pid"]), int(data["port"])).client(service, region)


@pytest.fixture(scope="session")
def tf_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment for running terraform: hclforge's CLI config (mirror + shared cache)."""
    if shutil.which("terraform") is None:
        pytest.fail("terraform is not on PATH: the terraform tests need it")
    settings = load_settings(ROOT)
    state = tmp_path_factory.mktemp("tfcli")
    settings = dataclasses.replace(settings, root=state)
    config = write_cli_config(settings)
    return {"TF_CLI_CONFIG_FILE": str(config), "TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1"}


@pytest.fixture(scope="session")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[emulator.Emulator]:
    """A moto server of this test session's own, on a free port of 127.0.0.1."""
    state = tmp_path_factory.mktemp("emulator")
    emu = emulator.start(state, 0)
    try:
        yield emu
    finally:
        emulator.stop(state)


@pytest.fixture
def aws_env(moto: emulator.Emulator) -> Iterator[dict[str, str]]:
    """boto3-style environment pointing at the session's emulator."""
    env = moto.client_env("ap-northeast-1")
    old = {k: os.environ.get(k) for k in (*env, *emulator.UNSET_VARS)}
    for name in emulator.UNSET_VARS:
        os.environ.pop(name, None)
    os.environ.update(env)
    try:
        yield env
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


# Tests this long (seconds, in tests/durations.json) set the suite's length: each is one
# chain of terraform runs and provider waits that no worker can share.
CRITICAL_S = 60.0
# How far the other tests yield the CPU to them (Linux niceness: weight 110 against 1024).
YIELD_NICENESS = 10


@functools.cache
def _durations() -> dict[str, float]:
    """``tests/durations.json``: seconds per test, for those over one second in a recent run."""
    return dict(json.loads((ROOT / "tests/durations.json").read_text(encoding="utf-8")))


def _weight(item: pytest.Item) -> float:
    """The test's seconds in ``tests/durations.json``; a slow test not timed there yet counts as critical."""
    default = CRITICAL_S if item.get_closest_marker("slow") else 0.0
    return float(_durations().get(item.nodeid, default))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Order the tests so that the workers finish together: the long ones spread by LPT, longest first.

    ``tests/durations.json`` holds the seconds each test over one second took in a
    recent run (an ordering hint only; nothing asserts on it). Each of those goes to
    the worker share with the least work so far, longest first; the short tests then
    even out the shares' lengths. ``--dist worksteal`` gives each of N workers one
    contiguous Nth of the list (equal numbers of tests), and an idle worker steals
    from the end of another's, where the short tests are.
    """
    # Collection runs in each worker, where xdist names the count in the environment.
    workers = max(1, int(os.environ.get("PYTEST_XDIST_WORKER_COUNT") or 1))
    weight = {i.nodeid: _weight(i) for i in items}
    long = sorted((i for i in items if weight[i.nodeid] >= 1.0), key=lambda i: -weight[i.nodeid])
    short = [i for i in items if weight[i.nodeid] < 1.0]
    shares: list[list[pytest.Item]] = [[] for _ in range(workers)]
    loads = [0.0] * workers
    for item in long:
        k = loads.index(min(loads))
        shares[k].append(item)
        loads[k] += weight[item.nodeid]
    # Cut as xdist cuts the list: worker i gets (what is left) // (workers left), so a
    # share's first test is its worker's first. (761 tests: 126, then 127 for each other.)
    left = len(items)
    for i, share in enumerate(shares):
        width = left // (workers - i)
        left -= width
        while len(share) < width and short:
            share.append(short.pop(0))
    shares[-1].extend(short)
    items[:] = [item for share in shares for item in share]


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Under xdist, a worker lowers its priority at its first test that is not a critical one.

    The critical tests are each the first test of their worker (longest first), so they
    run at normal priority while the others fill the CPU around them; once a critical
    test is done its worker yields too, and all run alike. Raising niceness needs no
    privilege; lowering it again does, and is only tried for a critical test.
    """
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return
    niceness = os.getpriority(os.PRIO_PROCESS, 0)
    if _weight(item) < CRITICAL_S:
        if niceness < YIELD_NICENESS:
            os.nice(YIELD_NICENESS - niceness)
    elif niceness > 0:
        # Not its worker's first test after all (another run of xdist may cut differently):
        # back to normal priority where that is allowed (root, CAP_SYS_NICE).
        with contextlib.suppress(PermissionError):
            os.setpriority(os.PRIO_PROCESS, 0, 0)


_TIMED: dict[str, float] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Add up each test's seconds (setup, call, teardown), for ``HCLFORGE_WRITE_DURATIONS``."""
    _TIMED[report.nodeid] = _TIMED.get(report.nodeid, 0.0) + report.duration


def pytest_sessionfinish(session: pytest.Session) -> None:
    """With ``HCLFORGE_WRITE_DURATIONS=FILE``, write the tests over one second as tests/durations.json is.

    Run by the controller (xdist's workers send it their reports); a run of the whole suite
    gives the file its next version: ``HCLFORGE_WRITE_DURATIONS=tests/durations.json make test``.
    """
    target = os.environ.get("HCLFORGE_WRITE_DURATIONS")
    if not target or os.environ.get("PYTEST_XDIST_WORKER"):
        return
    timed = {nodeid: round(s, 1) for nodeid, s in sorted(_TIMED.items()) if s >= 1.0}
    Path(target).write_text(json.dumps(timed, indent=1) + "\n", encoding="utf-8")
