"""``hclforge import copilot``: an AWS Copilot application's manifests as hclforge environments.

The pipeline, one module each: :mod:`.manifests` reads ``copilot/`` and gives each
environment's view of a manifest; :mod:`.workload`, :mod:`.sections` and
:mod:`.environment` map the views and report every field on a
:class:`~.report.Tracker`; :mod:`.importer` splits the result into a shared layer
and one file per environment; :mod:`.write` validates and writes them. The design
contract is DESIGN §11; the mapping table is docs/copilot-cutover.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hclforge.copilot.importer import Imported, Options, import_workspace
from hclforge.copilot.manifests import copilot_dir, read_workspace
from hclforge.copilot.write import validate, write_all
from hclforge.errors import Problem


@dataclass
class Result:
    """What an import did: the mapping, the files written, and what still fails validation."""

    imported: Imported
    written: list[Path]
    problems: list[Problem]


def import_copilot(directory: Path, out: Path, options: Options, *, force: bool, shown: str = "envs") -> Result:
    """Import the Copilot application in ``directory`` into environment files under ``out``.

    Args:
        directory: the application's folder (holding ``copilot/``), or ``copilot/`` itself.
        out: where the files go (the project's ``envs/``).
        options: environments, region, account, images and the shell's variables.
        force: overwrite files that exist.
        shown: how ``out`` is named in the problems.

    Returns:
        The mapping and its report, the files written, and the problems validation still
        finds (each value the user must supply, with file and line).

    Raises:
        UsageError: nothing to import, a needed flag missing, or files exist without ``force``.
        ConfigError: a manifest that is not YAML.
    """
    workspace = read_workspace(directory)
    base = copilot_dir(directory)
    fallback = (base.parent if base.name == "copilot" else base).resolve().name
    imported = import_workspace(workspace, options, fallback)
    problems = validate(imported.files, imported.envs, shown)
    written = write_all(out, imported.files, force=force)
    return Result(imported, written, problems)
