"""Round-trip image edits (hclforge/yamledit.py): one line changes, or the minimal insertion.

Decisions tested here: a CRLF file stays CRLF (inserted lines too); the original
quote style of the value is kept; a value YAML would read as a number is quoted;
a file without a final line break keeps none (issue 20, 9b); edits of one file
are serialized and every write is a rename (issue 20, point 3).
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from hclforge.config import load_env
from hclforge.errors import UnsafePathError, UsageError, exit_code_for
from hclforge.yamledit import edit_lock, propose, restore, set_image, write

ROOT = Path(__file__).resolve().parent.parent
ECR = "111111111111.dkr.ecr.ap-northeast-1.amazonaws.com"


def changed_lines(old: str, new: str) -> list[tuple[int, str, str]]:
    a, b = old.splitlines(keepends=True), new.splitlines(keepends=True)
    assert len(a) == len(b)
    return [(n + 1, x, y) for n, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]


@pytest.fixture
def envs(tmp_path: Path) -> Path:
    """A project root with copies of the example environments (and hclforge.toml)."""
    shutil.copytree(ROOT / "envs", tmp_path / "envs")
    shutil.copy(ROOT / "hclforge.toml", tmp_path / "hclforge.toml")
    return tmp_path / "envs"


def test_dev_example_diff_is_exactly_the_image_line(envs: Path) -> None:
    path = envs / "dev.yaml"
    before = path.read_text(encoding="utf-8")
    result = set_image(
        path,
        "admin",
        f"{ECR}/sss-admin:1.0.0",
        known_services=["api", "admin", "worker"],
        lock_dir=envs.parent / "locks",
    )
    after = path.read_bytes().decode("utf-8")
    assert after == result.new_text and before == result.old_text
    assert changed_lines(before, after) == [
        (
            result.changed_line,
            f"    image: {ECR}/sss-admin:0.9.0\n",
            f"    image: {ECR}/sss-admin:1.0.0\n",
        )
    ]
    assert "exec: true                  # hclforge exec dev api\n" in after  # comments kept
    assert load_env(envs.parent, "dev").config.services["admin"].image == f"{ECR}/sss-admin:1.0.0"


def test_image_inherited_from_base_is_inserted_under_the_service(envs: Path) -> None:
    """dev.yaml's api takes its image from _base.yaml: one ``image:`` line is added under ``api:``."""
    path = envs / "dev.yaml"
    before = path.read_text(encoding="utf-8")
    result = set_image(path, "api", f"{ECR}/sss-api:1.5.0", lock_dir=envs.parent / "locks")
    assert result.inserted
    old_lines, new_lines = before.splitlines(keepends=True), result.new_text.splitlines(keepends=True)
    at = old_lines.index("  api:\n") + 1
    assert new_lines == [*old_lines[:at], f"    image: {ECR}/sss-api:1.5.0\n", *old_lines[at:]]
    assert result.changed_line == at + 1
    assert (envs / "_base.yaml").read_text(encoding="utf-8").count("sss-api:1.4.2") == 1  # the layer is untouched
    assert load_env(envs.parent, "dev").config.services["api"].image == f"{ECR}/sss-api:1.5.0"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("services:\n  api:\n    image: 'nginx:1.27'  # pinned\n", "    image: 'nginx:1.28'  # pinned\n"),
        ('services:\n  api:\n    image: "nginx:1.27"\n', '    image: "nginx:1.28"\n'),
        ("services:\n  api: {image: nginx:1.27, port: 80}  # flow\n", "  api: {image: nginx:1.28, port: 80}  # flow\n"),
        ("services: {api: {port: 80, image: nginx:1.27}}\n", "services: {api: {port: 80, image: nginx:1.28}}\n"),
    ],
    ids=["single-quoted", "double-quoted", "flow-map", "nested-flow-maps"],
)
def test_quoting_and_flow_style_kept(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "e.yaml"
    path.write_text("# head\nproject: x\n" + text + "tags: {A: b}  # tail\n", encoding="utf-8")
    result = set_image(path, "api", "nginx:1.28", lock_dir=tmp_path / "locks")
    assert [new for _, _, new in changed_lines(result.old_text, result.new_text)] == [expected]
    assert path.read_text(encoding="utf-8") == result.new_text


def test_crlf_file_stays_crlf(tmp_path: Path) -> None:
    path = tmp_path / "e.yaml"
    path.write_bytes(b"project: x\r\nservices:\r\n  api:\r\n    image: nginx:1.27 # c\r\n    port: 80\r\n")
    set_image(path, "api", "nginx:1.28", lock_dir=tmp_path / "locks")
    assert path.read_bytes() == b"project: x\r\nservices:\r\n  api:\r\n    image: nginx:1.28 # c\r\n    port: 80\r\n"
    set_image(path, "web", "nginx:1.28", lock_dir=tmp_path / "locks")
    assert path.read_bytes() == (
        b"project: x\r\nservices:\r\n  web:\r\n    image: nginx:1.28\r\n  api:\r\n    image: nginx:1.28 # c\r\n"
        b"    port: 80\r\n"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "project: x\nservices:\n    web:\n        port: 80\n",
            "project: x\nservices:\n    api:\n        image: {img}\n",
        ),
        ("project: x\ntags:\n   A: b\n", "project: x\ntags:\n   A: b\nservices:\n   api:\n      image: {img}\n"),
        ("project: x\nservices: {worker: null}\n", "project: x\nservices: {api: {image: {img}}, worker: null}\n"),
    ],
    ids=["service-missing", "services-missing", "flow-services"],
)
def test_minimal_insertion_matches_indentation(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "e.yaml"
    path.write_text(text, encoding="utf-8")
    result = set_image(path, "api", "nginx:1.28", lock_dir=tmp_path / "locks")
    assert result.inserted
    written = path.read_text(encoding="utf-8")
    assert written.startswith(expected.replace("{img}", "nginx:1.28"))
    assert "image: nginx:1.28" in written.splitlines()[result.changed_line - 1]


def test_number_like_image_is_quoted(tmp_path: Path) -> None:
    path = tmp_path / "e.yaml"
    path.write_text("services:\n  api:\n    image: nginx\n", encoding="utf-8")
    set_image(path, "api", "1.10", lock_dir=tmp_path / "locks")
    assert path.read_text(encoding="utf-8") == 'services:\n  api:\n    image: "1.10"\n'


@pytest.mark.parametrize("image", ["nginx 1.27", "nginx:1.27'", '"nginx"', "", "-nginx", "nginx\n:1", "ngi\x1bnx"])
def test_bad_image_refused_nothing_written(envs: Path, image: str) -> None:
    path = envs / "dev.yaml"
    before = path.read_bytes()
    with pytest.raises(UsageError, match="is not a container image reference") as info:
        set_image(path, "admin", image, lock_dir=envs.parent / "locks")
    assert exit_code_for(info.value) == 2
    assert path.read_bytes() == before
    assert "\x1b" not in str(info.value)
    assert sorted(p.name for p in envs.iterdir()) == ["_base.yaml", "dev.yaml", "local.yaml", "prod.yaml"]


def test_unknown_service_refused(envs: Path) -> None:
    before = (envs / "dev.yaml").read_bytes()
    with pytest.raises(UsageError, match=r"no service 'apii' in the environment \(services: api, admin, worker\)"):
        set_image(
            envs / "dev.yaml",
            "apii",
            "nginx:1",
            known_services=["api", "admin", "worker"],
            lock_dir=envs.parent / "locks",
        )
    assert (envs / "dev.yaml").read_bytes() == before


def test_symlink_and_fifo_refused(tmp_path: Path) -> None:
    real = tmp_path / "real.yaml"
    real.write_text("services:\n  api:\n    image: nginx\n", encoding="utf-8")
    (tmp_path / "link.yaml").symlink_to(real)
    with pytest.raises(UnsafePathError, match="symlink"):
        set_image(tmp_path / "link.yaml", "api", "nginx:2", lock_dir=tmp_path / "locks")
    os.mkfifo(tmp_path / "fifo.yaml")
    with pytest.raises(UnsafePathError, match="not a regular file"):
        set_image(tmp_path / "fifo.yaml", "api", "nginx:2", lock_dir=tmp_path / "locks")
    assert real.read_text(encoding="utf-8") == "services:\n  api:\n    image: nginx\n"


def test_same_image_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "e.yaml"
    path.write_text("services:\n  api:\n    image: nginx:1\n", encoding="utf-8")
    os.utime(path, (1_000_000, 1_000_000))
    result = set_image(path, "api", "nginx:1", lock_dir=tmp_path / "locks")
    assert not result.changed and result.changed_line == 3 and result.diff() == ""
    assert path.stat().st_mtime == 1_000_000


def test_file_mode_kept(tmp_path: Path) -> None:
    path = tmp_path / "e.yaml"
    path.write_text("services:\n  api:\n    image: nginx:1\n", encoding="utf-8")
    path.chmod(0o640)
    set_image(path, "api", "nginx:2", lock_dir=tmp_path / "locks")
    assert path.stat().st_mode & 0o777 == 0o640


def test_aliased_image_is_refused(tmp_path: Path) -> None:
    """``image: *img`` is the anchor's node: splicing there would change every alias, so nothing is written."""
    text = "x-img: &img nginx:1\nservices:\n  api:\n    image: *img\n  web:\n    image: *img\n"
    path = tmp_path / "e.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(UsageError, match=r"services.api.image is an alias \(\*anchor\); set it by hand"):
        set_image(path, "api", "nginx:2", lock_dir=tmp_path / "locks")
    assert path.read_text(encoding="utf-8") == text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["e.yaml", "locks"]  # no temporary file left


# ----------------------------------------------------------------- issue 20, point 9b: no final newline


def test_no_final_newline_is_kept_and_the_diff_says_so(tmp_path: Path) -> None:
    """The last line has no line break: it stays so, and the diff ends in a line of its own."""
    path = tmp_path / "e.yaml"
    path.write_text("project: x\nservices:\n  api:\n    image: nginx:1", encoding="utf-8")
    result = set_image(path, "api", "nginx:2", lock_dir=tmp_path / "locks")
    assert path.read_text(encoding="utf-8") == "project: x\nservices:\n  api:\n    image: nginx:2"
    assert result.diff("e.yaml").endswith(
        "-    image: nginx:1\n\\ No newline at end of file\n+    image: nginx:2\n\\ No newline at end of file\n"
    )


def test_no_final_newline_kept_when_services_is_appended(tmp_path: Path) -> None:
    path = tmp_path / "e.yaml"
    path.write_text("project: x\ntags:\n  A: b", encoding="utf-8")
    result = set_image(path, "api", "nginx:2", lock_dir=tmp_path / "locks")
    assert path.read_text(encoding="utf-8") == "project: x\ntags:\n  A: b\nservices:\n  api:\n    image: nginx:2"
    assert result.changed_line == 6
    assert result.diff().endswith("+    image: nginx:2\n\\ No newline at end of file\n")


# ----------------------------------------------------------------- issue 20, point 3: one writer, atomic writes


def _pin_in_child(path: Path, lock_dir: Path, service: str, image: str, barrier: Any) -> None:
    barrier.wait()  # both processes read the file at the same moment
    set_image(path, service, image, lock_dir=lock_dir)


def test_concurrent_edits_of_one_file_both_land(tmp_path: Path) -> None:
    """Two processes pin two services of one file at once, 25 times: both edits are there every time."""
    ctx = multiprocessing.get_context("fork")  # the children need no fresh import
    path = tmp_path / "e.yaml"
    path.write_text("project: x\nservices:\n  api:\n    image: a:0\n  web:\n    image: w:0\n", encoding="utf-8")
    for n in range(1, 26):
        barrier = ctx.Barrier(2)
        children = [
            ctx.Process(target=_pin_in_child, args=(path, tmp_path / "locks", svc, f"{svc}:{n}", barrier))
            for svc in ("api", "web")
        ]
        for child in children:
            child.start()
        for child in children:
            child.join(60)
            assert child.exitcode == 0
        assert path.read_text(encoding="utf-8") == (
            f"project: x\nservices:\n  api:\n    image: api:{n}\n  web:\n    image: web:{n}\n"
        ), f"try {n}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["e.yaml", "locks"]  # no temporary file left


def test_the_lock_file_lives_in_lock_dir_not_beside_the_yaml(envs: Path) -> None:
    set_image(envs / "dev.yaml", "admin", "nginx:2", lock_dir=envs.parent / ".hclforge" / "locks")
    assert sorted(p.name for p in envs.iterdir()) == ["_base.yaml", "dev.yaml", "local.yaml", "prod.yaml"]
    (lock,) = (envs.parent / ".hclforge" / "locks").iterdir()
    assert lock.name.startswith("yaml-dev.yaml-") and lock.name.endswith(".lock")
    assert (envs.parent / ".hclforge").stat().st_mode & 0o777 == 0o700


def test_restore_puts_back_only_our_own_write(tmp_path: Path) -> None:
    """The rollback after a failure never overwrites what another writer put there since."""
    path = tmp_path / "e.yaml"
    path.write_text("services:\n  api:\n    image: nginx:1\n", encoding="utf-8")
    path.chmod(0o640)
    result = set_image(path, "api", "nginx:2", lock_dir=tmp_path / "locks")
    path.write_text("services:\n  api:\n    image: someone-else:3\n", encoding="utf-8")
    assert not restore(path, result)
    assert path.read_text(encoding="utf-8") == "services:\n  api:\n    image: someone-else:3\n"

    path.write_text(result.new_text, encoding="utf-8")
    inode = path.stat().st_ino
    assert restore(path, result)
    assert path.read_text(encoding="utf-8") == "services:\n  api:\n    image: nginx:1\n"
    assert path.stat().st_ino != inode  # a new file renamed over the old one, never rewritten in place
    assert path.stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["e.yaml", "locks"]


def test_write_refuses_a_file_changed_since_it_was_read(tmp_path: Path) -> None:
    """A writer outside hclforge (an editor) changed the file after the edit was worked out: nothing written."""
    path = tmp_path / "e.yaml"
    path.write_text("services:\n  api:\n    image: nginx:1\n", encoding="utf-8")
    with edit_lock(path, tmp_path / "locks"):
        result = propose(path, "api", "nginx:2")
        path.write_text("services:\n  api:\n    image: nginx:1\n  web:\n    image: x:1\n", encoding="utf-8")
        with pytest.raises(UsageError, match=r"e\.yaml changed while set-image ran; nothing written"):
            write(path, result, "api", "nginx:2")
    assert path.read_text(encoding="utf-8") == "services:\n  api:\n    image: nginx:1\n  web:\n    image: x:1\n"
