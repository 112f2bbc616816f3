"""``hclforge set-image`` through the CLI (issue 20, points 3 and 9b).

Point 3: two processes pinning two services of one file both land, every time,
and the trees stay fresh; a failed render puts the YAML back. Point 9b: a file
without a final line break keeps none, and the YAML diff no longer runs into
the HCL diff. The edit itself is tested in tests/test_yamledit.py; the round
trip on the emulator in tests/test_life.py.
"""

from __future__ import annotations

import multiprocessing
import shutil
import sys
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
    shutil.copytree(ROOT / "modules", tmp_path / "modules", ignore=shutil.ignore_patterns(".terraform*"))
    shutil.copy(ROOT / "hclforge.toml", tmp_path / "hclforge.toml")
    return tmp_path


def image(root: Path, env: str, service: str) -> str:
    return hclforge.config.load_env(root, env).config.services[service].image


def snapshot(root: Path) -> dict[str, bytes]:
    return {**tree_snapshot(root / "envs"), **{f"m/{k}": v for k, v in tree_snapshot(root / "modules").items()}}


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
    path.write_bytes(path.read_bytes().rstrip(b"\n"))
    before = path.read_text(encoding="utf-8")
    code, out, err = run(root, capsys, "set-image", "local", "api", NEW)
    assert code == 0, err
    assert "    log_retention_days: 7\n\\ No newline at end of file\n--- a/modules/local/ecs/main.tf\n" in out
    after = path.read_text(encoding="utf-8")
    assert after.endswith("    log_retention_days: 7")  # still no final line break
    assert after.replace(f"  api:\n    image: {NEW}\n", "  api:\n") == before
