"""Check, validate and write the imported files: all of them or none, and nothing overwritten unasked."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from hclforge.config import load_env
from hclforge.errors import ConfigError, Problem, UsageError
from hclforge.paths import confined_path
from hclforge.tree import ENVS_DIR


def existing(out: Path, files: dict[str, str]) -> list[str]:
    """The files of ``files`` already in ``out`` (or in its way: a link, a folder)."""
    return sorted(name for name in files if os.path.lexists(out / name))


def validate(files: dict[str, str], envs: list[str], shown: str) -> list[Problem]:
    """Load each environment from a scratch copy of ``files``, as ``hclforge show`` would.

    Args:
        files: name under ``envs/`` → text.
        envs: the environments among them.
        shown: how the folder is named in the problems (``envs``, or the ``--out`` folder).

    Returns:
        Every problem :func:`hclforge.config.load_env` finds, with file and line: the values
        the user must still supply.
    """
    problems: set[Problem] = set()
    with tempfile.TemporaryDirectory(prefix="hclforge-import-") as scratch:
        folder = Path(scratch) / ENVS_DIR
        folder.mkdir()
        for name, text in files.items():
            (folder / name).write_text(text, encoding="utf-8")
        for env in envs:
            try:
                load_env(Path(scratch), env)
            except ConfigError as err:
                problems.update(err.problems)
    prefix = f"{ENVS_DIR}/"
    return sorted(
        Problem(f"{shown}/{p.file.removeprefix(prefix)}", p.line, p.path, p.message) if p.file.startswith(prefix) else p
        for p in problems
    )


def write_all(out: Path, files: dict[str, str], *, force: bool) -> list[Path]:
    """Write every file into ``out``, each through a temporary file renamed over it.

    Every file is written to its temporary first; only when all are on disk are they
    renamed into place, so a failure leaves the folder as it was.

    Raises:
        UsageError: a file exists and ``force`` is not given (nothing is written), or a
            path is a symlink or not a regular file.
    """
    present = existing(out, files)
    if present and not force:
        raise UsageError(
            f"{', '.join(str(out / n) for n in present)} already exist(s): nothing was written "
            "(--force overwrites them; --env COPILOT=NEW imports an environment under a new name)"
        )
    out.mkdir(parents=True, exist_ok=True)
    for name in files:
        confined_path(out, name)  # no symlink, no folder in the way
    staged: list[tuple[Path, Path]] = []
    try:
        for name, text in files.items():
            fd, tmp_name = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=out)
            staged.append((Path(tmp_name), out / name))
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp_name, 0o644)
        for tmp, target in staged:
            os.replace(tmp, target)
    finally:
        for tmp, _ in staged:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
    return [target for _, target in staged]
