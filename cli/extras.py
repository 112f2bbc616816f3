"""The optional parts of hclforge (its extras), and the check that one is installed before it is used.

``hclforge[emulator]`` brings the local AWS emulator: moto in server mode, and with
it flask, docker, cfn-lint, sympy and more, four fifths of a venv's size. Without it
every command against AWS works; a command that needs the emulator says in one line
how to add it, before it starts anything. Nothing here imports the extra.
"""

from __future__ import annotations

import importlib.util
import sys

from hclforge.errors import MissingExtra

EMULATOR_HINT = "pip install 'hclforge[emulator]'"
# What the emulator's process (cli/motoserve.py) imports: moto, and from moto's own
# [server] extra the web server it runs on.
EMULATOR_MODULES = ("moto", "flask", "flask_cors", "werkzeug")


def installed(module: str) -> bool:
    """Whether the top-level ``module`` can be imported here, without importing it."""
    try:
        return importlib.util.find_spec(module) is not None  # None also when sys.modules blocks it
    except ValueError:  # imported already, without a spec
        return module in sys.modules


def require_emulator() -> None:
    """Check that the emulator can run here.

    Raises:
        MissingExtra: moto or its server parts are not installed; names the command that adds them.
    """
    missing = [name for name in EMULATOR_MODULES if not installed(name)]
    if "moto" in missing:
        raise MissingExtra(f"the emulator needs moto, which is not installed: {EMULATOR_HINT}")
    if missing:
        raise MissingExtra(f"the emulator needs moto's server ({', '.join(missing)} not installed): {EMULATOR_HINT}")
