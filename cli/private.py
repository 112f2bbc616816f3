"""hclforge's working files are private: ``.hclforge/`` is 0700 and what hclforge writes there 0600.

Terraform's own files (state, plans, logs) get the same modes from the
umask 077 its processes run with (see :mod:`cli.terraform`).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

PRIVATE_UMASK = 0o077


def private_dir(path: Path) -> Path:
    """Create ``path`` (and each missing parent) as 0700, and make an existing one 0700."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    for directory in reversed(missing):
        directory.mkdir(mode=0o700, exist_ok=True)
    if path.stat().st_mode & 0o777 != 0o700:
        path.chmod(0o700)
    return path


def write_private(path: Path, text: str | bytes) -> None:
    """Write ``path`` atomically as a 0600 file (a temporary file beside it, then a rename)."""
    if not path.parent.is_dir():
        private_dir(path.parent)
    data = text.encode("utf-8") if isinstance(text, str) else text
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)  # mkstemp creates 0600
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
