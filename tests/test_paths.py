"""The one path-confinement helper: nothing outside the base, nothing but regular files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hclforge.errors import FileTooLargeError, UnsafePathError
from hclforge.paths import confined, read_regular


@pytest.fixture
def base(tmp_path: Path) -> Path:
    (tmp_path / "envs").mkdir()
    (tmp_path / "envs/dev.yaml").write_text("a: 1\n")
    (tmp_path / "secret.txt").write_text("no\n")
    return tmp_path / "envs"


def test_a_file_inside_resolves(base: Path) -> None:
    assert confined(base, "dev.yaml") == (base / "dev.yaml").resolve()
    assert confined(base, "new.yaml") == (base / "new.yaml").resolve()  # need not exist


def test_a_symlink_inside_is_followed(base: Path) -> None:
    (base / "link.yaml").symlink_to("dev.yaml")
    assert confined(base, "link.yaml") == (base / "dev.yaml").resolve()


@pytest.mark.parametrize(
    ("rel", "message"),
    [
        ("../secret.txt", "leads outside envs/"),
        ("sub/../../secret.txt", "leads outside envs/"),
        ("/etc/passwd", "is an absolute path"),
        ("", "is not a file name"),
        ("a\0b", "is not a file name"),
    ],
)
def test_escapes_are_refused(base: Path, rel: str, message: str) -> None:
    with pytest.raises(UnsafePathError, match=message):
        confined(base, rel)


def test_a_symlink_leading_outside_is_refused(base: Path) -> None:
    (base / "evil.yaml").symlink_to(base.parent / "secret.txt")
    with pytest.raises(UnsafePathError, match="leads outside envs/"):
        confined(base, "evil.yaml")


def test_non_regular_files_are_refused(base: Path) -> None:
    os.mkfifo(base / "pipe.yaml")
    (base / "dir.yaml").mkdir()
    with pytest.raises(UnsafePathError, match="is not a regular file"):
        confined(base, "pipe.yaml")
    with pytest.raises(UnsafePathError, match="is not a regular file"):
        confined(base, "dir.yaml")
    assert confined(base, "dir.yaml", allow_dir=True).is_dir()


def test_read_regular_never_blocks_on_a_fifo(base: Path) -> None:
    os.mkfifo(base / "pipe.yaml")
    with pytest.raises(UnsafePathError, match="is not a regular file"):
        read_regular(base / "pipe.yaml", 100)  # a blocking open would hang here


def test_read_regular_refuses_a_symlink(base: Path) -> None:
    (base / "link.yaml").symlink_to("dev.yaml")
    with pytest.raises(UnsafePathError, match="is a symlink"):
        read_regular(base / "link.yaml", 100)


def test_read_regular_checks_the_size_before_reading(base: Path) -> None:
    assert read_regular(base / "dev.yaml", 5) == b"a: 1\n"
    with pytest.raises(FileTooLargeError, match="file is 5 bytes; at most 4 are allowed"):
        read_regular(base / "dev.yaml", 4)
