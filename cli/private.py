"""hclforge's working files are private: ``.hclforge/`` is 0700 and what hclforge writes there 0600.

The walk itself lives in :mod:`hclforge.paths` (the renderer's lock needs it too):
every directory from ``.hclforge`` down is opened without following a link, is the
user's own, and is made 0700 through its descriptor. Terraform's own files (state,
plans, logs) get the same modes from the umask 077 its processes run with (see
:mod:`cli.terraform`).
"""

from __future__ import annotations

from hclforge.paths import private_dir as private_dir
from hclforge.paths import read_private as read_private
from hclforge.paths import write_private as write_private

PRIVATE_UMASK = 0o077
