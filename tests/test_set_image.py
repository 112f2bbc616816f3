"""``hclforge set-image`` through the CLI (issue 20, points 1, 3 and 9b).

Point 1: a pin in a layer must change ENV's own image, may not give a layer a
service it lacks, and changes other environments on that layer only after a yes
(a prompt on a terminal, tested on a real pseudo-terminal, or ``--yes``).
Point 3: two processes pinning two services of one file both land, every time,
and the trees stay fresh. Point 9b: a file without a final line break keeps
none, and the YAML diff no longer runs into the HCL diff.
The edit itself is tested in tests/test_yamledit.py; the round trip on the
emulator in tests/test_life.py.
"""

from __future__ import annotations

import multiprocessing
import os
import pty
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

import hclforge.config
import hclforge.render  # imported before the forks: each child starts warm
from hclforge.cli.main import main
from tests.conftest import ROOT, run, tree_snapshot

ECR = "111111111111.dkr.ecr.ap-northeast-1.amazonaws.com"
NEW = "nginx:1.29"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A copy of the example project: envs, rendered modules, settings."""
    shutil.copytree(ROOT / "envs", tmp_path / "envs")
    shutil.copytree(ROOT / "addons", tmp_path / "addons")  # local grants its api an addon's queue
    shutil.copytree(ROOT / "modules", tmp_path / "modules", ignore=shutil.ignore_patterns(".terraform*"))
    shutil.copy(ROOT / "hclforge.toml", tmp_path / "hclforge.toml")
    return tmp_path


def image(root: Path, env: str, service: str) -> str:
    return hclforge.config.load_env(root, env).config.services[service].image


def snapshot(root: Path) -> dict[str, bytes]:
    return {**tree_snapshot(root / "envs"), **{f"m/{k}": v for k, v in tree_snapshot(root / "modules").items()}}


# ----------------------------------------------------------------- point 1: layers


def test_layer_pin_that_env_overrides_is_refused(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """prod sets its own api image: pinning _base.yaml would change dev and local, and not prod."""
    before = snapshot(root)
    for yes in ((), ("--yes",)):  # a yes for dev and local does not make it right
        code, out, err = run(root, capsys, "set-image", "prod", "api", NEW, "--layer", "_base.yaml", *yes)
        assert code == 2, out + err
        assert (
            "error: pinning api in envs/_base.yaml would not change prod: envs/prod.yaml:46 sets services.api.image "
            "(222222222222.dkr.ecr.ap-northeast-1.amazonaws.com/sss-api:1.4.2), which overrides it; nothing written."
        ) in err
        assert "Pin it there: hclforge set-image prod api IMAGE\n" in err
        assert snapshot(root) == before
    assert image(root, "dev", "api") == f"{ECR}/sss-api:1.4.2"


def test_layer_never_gains_a_service(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """web exists only in local.yaml: inserting it into _base.yaml would give dev and prod a new ECS service."""
    before = snapshot(root)
    for yes in ((), ("--yes",)):
        code, out, err = run(root, capsys, "set-image", "local", "web", NEW, "--layer", "_base.yaml", *yes)
        assert code == 2, out + err
        assert "error: envs/_base.yaml has no service 'web' (it is defined in envs/local.yaml:13)" in err
        assert "hclforge set-image local web IMAGE" in err
        assert snapshot(root) == before
    assert "web" not in hclforge.config.load_env(root, "dev").config.services


def test_other_environments_need_a_yes_without_a_terminal(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = snapshot(root)
    code, out, err = run(root, capsys, "set-image", "local", "api", NEW, "--layer", "_base.yaml")
    assert code == 2, out + err
    assert err.splitlines() == [
        "error: envs/_base.yaml is also a layer of dev: their api image changes too",
        f"  dev: {ECR}/sss-api:1.4.2 -> {NEW}",
        "nothing written: no terminal to ask; run again with --yes to change dev too",
    ]
    assert snapshot(root) == before


def test_yes_changes_and_names_every_environment_and_renders_their_trees(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prod_tree = tree_snapshot(root / "modules/prod")
    code, out, err = run(root, capsys, "set-image", "local", "api", NEW, "--layer", "_base.yaml", "--yes")
    assert code == 0, out + err
    assert f"also changed dev: api {ECR}/sss-api:1.4.2 -> {NEW}" in err
    assert (image(root, "local", "api"), image(root, "dev", "api")) == (NEW, NEW)
    assert image(root, "prod", "api") == f"{ECR.replace('1111', '2222')}/sss-api:1.4.2"
    assert [line for line in out.splitlines() if line.startswith("+++")] == [
        "+++ b/envs/_base.yaml",
        "+++ b/modules/local/ecs/main.tf",
        "+++ b/modules/dev/ecs/main.tf",
    ]
    assert tree_snapshot(root / "modules/prod") == prod_tree
    assert run(root, capsys, "render", "--all", "--check")[0] == 0


def test_an_environment_extending_another_ones_file_is_named(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Not only ``_`` layers: staging extends prod, so pinning prod.yaml changes staging too."""
    (root / "envs/staging.yaml").write_text("extends: [prod]\n", encoding="utf-8")
    before = snapshot(root)
    code, _, err = run(root, capsys, "set-image", "prod", "worker", NEW)
    assert code == 2 and "envs/prod.yaml is also a layer of staging: their worker image changes too" in err
    assert snapshot(root) == before
    code, _, err = run(root, capsys, "set-image", "prod", "worker", NEW, "--yes")
    assert code == 0 and "also changed staging: worker" in err
    assert image(root, "staging", "worker") == NEW
    assert run(root, capsys, "render", "--all", "--check")[0] == 0


def test_own_file_pin_asks_nothing(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(root, capsys, "set-image", "dev", "admin", NEW)
    assert code == 0 and err == "", err
    assert out.startswith("--- a/envs/dev.yaml\n") and "+++ b/modules/dev/ecs/main.tf\n" in out
    assert image(root, "dev", "admin") == NEW
    assert image(root, "local", "api") == f"{ECR}/sss-api:1.4.2"


def test_a_tree_that_cannot_be_written_puts_the_yaml_back(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The edit is written, then the render refuses a symlink in modules/dev/: the YAML goes back as it was."""
    target = root / "modules/dev/ecs/main.tf"
    target.rename(root / "elsewhere.tf")
    target.symlink_to(root / "elsewhere.tf")
    before = snapshot(root)
    code, out, err = run(root, capsys, "set-image", "dev", "admin", NEW)
    assert code == 2, out + err
    assert "modules/dev/ecs/main.tf is a symbolic link" in err
    assert snapshot(root) == before
    assert sorted(p.name for p in (root / "envs").iterdir()) == ["_base.yaml", "dev.yaml", "local.yaml", "prod.yaml"]


def _on_a_terminal(root: Path, answer: bytes, *args: str) -> tuple[int, str]:
    """Run the CLI on a pseudo-terminal, answer its prompt; its exit code and what it showed."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "hclforge"), "--no-color", "--root", str(root), *args],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        close_fds=True,
    )
    os.close(slave)
    shown, answered = b"", False
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 1)
        if ready:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the process closed the terminal
                break
            if not chunk:
                break
            shown += chunk
        if not answered and b"[y/N]" in shown:
            os.write(master, answer)
            answered = True
    os.close(master)
    return proc.wait(30), shown.decode("utf-8", "replace").replace("\r\n", "\n")


def test_a_person_is_asked_on_a_terminal(root: Path) -> None:
    before = snapshot(root)
    code, shown = _on_a_terminal(root, b"n\n", "set-image", "local", "api", NEW, "--layer", "_base.yaml")
    assert code == 2, shown
    assert f"envs/_base.yaml is also a layer of dev: their api image changes too\n  dev: {ECR}/sss-api:1.4.2" in shown
    assert "Change dev as well as local? [y/N]: " in shown
    assert "set-image cancelled; nothing written (dev would have changed too)" in shown
    assert snapshot(root) == before

    code, shown = _on_a_terminal(root, b"y\n", "set-image", "local", "api", NEW, "--layer", "_base.yaml")
    assert code == 0, shown
    assert "also changed dev: api" in shown
    assert (image(root, "local", "api"), image(root, "dev", "api")) == (NEW, NEW)


# ----------------------------------------------------------------- point 3: two writers


def _pin(root: Path, service: str, new: str, barrier: object) -> None:
    barrier.wait()  # type: ignore[attr-defined]
    sys.exit(main(["--no-color", "--root", str(root), "set-image", "dev", service, new]))


def test_two_set_image_runs_on_one_file_both_land(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Before the lock, one edit was lost in most tries while both runs exited 0."""
    ctx = multiprocessing.get_context("fork")  # the children start with everything imported
    for n in range(1, 9):
        barrier = ctx.Barrier(2)
        runs = [ctx.Process(target=_pin, args=(root, s, f"nginx:{n}-{s}", barrier)) for s in ("admin", "worker")]
        for proc in runs:
            proc.start()
        for proc in runs:
            proc.join(120)
        assert [proc.exitcode for proc in runs] == [0, 0]
        assert (image(root, "dev", "admin"), image(root, "dev", "worker")) == (f"nginx:{n}-admin", f"nginx:{n}-worker")
    capsys.readouterr()
    assert run(root, capsys, "render", "--all", "--check")[0] == 0  # each tree holds the last edit
    assert sorted(p.name for p in (root / "envs").iterdir()) == ["_base.yaml", "dev.yaml", "local.yaml", "prod.yaml"]


# ----------------------------------------------------------------- point 9b: no final newline


def test_no_final_newline_diffs_apart_and_kept(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = root / "envs/local.yaml"
    # api's block last, within the diff's three lines of context: its addon grant dropped.
    text = path.read_text(encoding="utf-8")
    path.write_text(text[: text.index("    permissions:\n")].rstrip("\n"), encoding="utf-8")
    before = path.read_text(encoding="utf-8")
    last = before.splitlines()[-1]
    assert last == "    log_retention_days: 7"
    code, out, err = run(root, capsys, "set-image", "local", "api", NEW)
    assert code == 0, err
    assert f"{last}\n\\ No newline at end of file\n--- a/modules/local/ecs/main.tf\n" in out
    after = path.read_text(encoding="utf-8")
    assert after.endswith(last)  # still no final line break
    assert after.replace(f"  api:\n    image: {NEW}\n", "  api:\n") == before
