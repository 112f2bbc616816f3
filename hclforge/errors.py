"""Typed errors of hclforge, and the one table that maps them to exit codes.

Every failure a user can meet is raised as a subclass of :class:`HclforgeError`.
The CLI and ``render.py`` both call :func:`exit_code_for`, so the mapping from
error to exit code lives here and nowhere else.
"""

from __future__ import annotations

import signal
from dataclasses import dataclass

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_CONFIG = 2
EXIT_CHANGES = 3
# A run stopped by a signal exits 128 + the signal's number, as a shell reports it.
EXIT_SIGHUP = 129
EXIT_SIGINT = 130
EXIT_SIGTERM = 143


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with an environment file.

    Attributes:
        file: the YAML file, relative to the project root where possible.
        line: 1-based line of the offending value, or 0 when unknown.
        path: dotted YAML path (``services.api.memory``), or ``""`` for the document.
        message: what is wrong and what is allowed.
    """

    file: str
    line: int
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class HclforgeError(Exception):
    """Base of every error hclforge raises on purpose."""


class ConfigError(HclforgeError):
    """An environment file is missing, malformed or breaks a rule (exit 2)."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(set(problems))
        super().__init__("\n".join(str(p) for p in self.problems))


class UsageError(HclforgeError):
    """The command was asked for something it cannot do (exit 2)."""


class UnsafePathError(UsageError):
    """A path hclforge would write or read is a symlink or not a regular file/directory (exit 2)."""


class TemplateError(HclforgeError):
    """A template failed to render; names the template and the cause (exit 1)."""


class StaleTreeError(HclforgeError):
    """``render --check`` found generated files that differ from a fresh render (exit 1)."""

    def __init__(self, diff: str) -> None:
        self.diff = diff
        super().__init__(diff)


class TerraformError(HclforgeError):
    """Terraform failed, or could not be run at all (exit 1)."""

    def __init__(self, message: str, *, returncode: int | None = None, stderr: str = "") -> None:
        self.returncode = returncode
        self.stderr = stderr
        super().__init__(message)


class StateLocked(TerraformError):
    """Another terraform holds the state lock (exit 1); says who, doing what, since when."""


class EmulatorError(HclforgeError):
    """The local AWS emulator could not be started, reached or stopped (exit 1)."""


class PlanRefused(HclforgeError):
    """A saved plan may not be applied as it is: stale, or unsafe without a flag (exit 1)."""


class Interrupted(HclforgeError):
    """A running command was interrupted: Ctrl-C (exit 130), SIGTERM (143) or SIGHUP (129).

    Attributes:
        signum: the signal that stopped the command (SIGINT unless said otherwise).
    """

    def __init__(self, message: str, *, signum: int = signal.SIGINT) -> None:
        self.signum = signum
        super().__init__(message)


class ChangesPresent(HclforgeError):
    """``plan --detailed-exitcode`` / ``drift`` found changes (exit 3)."""


_EXIT_CODES: tuple[tuple[type[HclforgeError], int], ...] = (
    (ConfigError, EXIT_CONFIG),
    (UsageError, EXIT_CONFIG),
    (ChangesPresent, EXIT_CHANGES),
    (Interrupted, EXIT_SIGINT),
    (HclforgeError, EXIT_FAILURE),
)
# Interrupted by a given signal: SIGHUP, SIGINT, SIGTERM.
_SIGNAL_EXIT_CODES: dict[int, int] = {
    signal.SIGHUP: EXIT_SIGHUP,
    signal.SIGINT: EXIT_SIGINT,
    signal.SIGTERM: EXIT_SIGTERM,
}


def exit_code_for(error: BaseException) -> int:
    """Return the documented exit code for ``error``.

    Args:
        error: any exception; ones not from hclforge count as runtime failures.

    Returns:
        The exit code of the first matching class in the table above.
    """
    if isinstance(error, Interrupted):
        return _SIGNAL_EXIT_CODES.get(error.signum, EXIT_SIGINT)
    for cls, code in _EXIT_CODES:
        if isinstance(error, cls):
            return code
    return EXIT_FAILURE
