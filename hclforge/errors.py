"""Typed errors of hclforge, and the one table that maps them to exit codes.

Every failure a user can meet is raised as a subclass of :class:`HclforgeError`.
The CLI and ``render.py`` both call :func:`exit_code_for`, so the mapping from
error to exit code lives here and nowhere else, and both print an error with
:func:`report_lines`, so it reads the same from either.
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
        where = f"{printable(self.file)}:{self.line}" if self.line else printable(self.file)
        path, message = printable(self.path), printable(self.message)
        return f"{where}: {path}: {message}" if path else f"{where}: {message}"


_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def printable(text: str) -> str:
    """``text`` with every non-printable character written as an escape: ESC becomes ``\\x1b``.

    Keys and values from YAML reach messages; a raw escape sequence there would
    drive the user's terminal, and a newline would forge a second message line.
    """
    if text.isprintable():
        return text
    out = []
    for ch in text:
        if ch.isprintable():
            out.append(ch)
        elif ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        else:
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
    return "".join(out)


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
    """A path from user input escapes its directory, is a symlink, or is not a regular file (exit 2).

    Raised by :mod:`hclforge.paths` for ``envs/`` and by the render writer for ``modules/``.
    """


class GitError(UsageError):
    """git could not read what a command compares with: not a repository, no such revision, no default branch (exit 2).

    Raised by ``affected``; the message names the revision and what to pass instead.
    """


class MissingExtra(UsageError):
    """A command needs an optional part of hclforge that is not installed (exit 2).

    The message names what is missing and the one command that adds it, e.g.
    ``pip install 'hclforge[emulator]'``.
    """


class ForeignFileError(UnsafePathError):
    """A generated tree holds something hclforge did not render: a file terraform would read, or a link (exit 2).

    Raised by ``render``, ``render --check``, ``plan`` and ``apply`` before terraform
    runs; names every such file. Nothing is changed or deleted.
    """


class PrivateDirError(UsageError):
    """hclforge's working directory (``.hclforge/``) or a directory in it cannot be created or made private (exit 2).

    Says which directory and why (the OS's reason: permission denied, read-only file system).
    """


class FileTooLargeError(HclforgeError):
    """A file holds more bytes than allowed; it was not read whole."""

    def __init__(self, size: int, limit: int) -> None:
        self.size = size
        self.limit = limit
        super().__init__(f"file is {size} bytes; at most {limit} are allowed")


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


class SharedOutputsError(HclforgeError):
    """The shared root's outputs lack a value a service root takes, or hold one of the wrong shape (exit 1).

    Shared was not applied since the environment changed: apply shared, then the service roots.
    """


class StateMoveRefused(UsageError):
    """``state split|join`` will not move the states as asked (exit 2); nothing was written, or a rerun finishes.

    The layout asked for is not the YAML's, there is nothing to move, a target root holds
    resources that are not the ones being moved, or the move's journal does not add up.
    """


class EmulatorError(HclforgeError):
    """The local AWS emulator could not be started, reached or stopped (exit 1)."""


class PlanRefused(HclforgeError):
    """A saved plan may not be applied as it is: stale, or unsafe without a flag (exit 1)."""


class ToolMissing(HclforgeError):
    """A tool hclforge hands over to (the AWS CLI, the Session Manager plugin) is not installed (exit 1)."""


class BrokenPath(HclforgeError):
    """The plan's request path has a broken link: a route or a call would not reach its tasks (exit 1)."""


class Interrupted(HclforgeError):
    """A running command was interrupted: Ctrl-C (exit 130), SIGTERM (143) or SIGHUP (129).

    Attributes:
        signum: the signal that stopped the command (SIGINT unless said otherwise).
    """

    def __init__(self, message: str, *, signum: int = signal.SIGINT) -> None:
        self.signum = signum
        super().__init__(message)


class Aborted(Interrupted):
    """The user stopped a prompt or a command (Ctrl-C, or a signal handled like it); exits as :class:`Interrupted`.

    Args:
        signum: the signal behind it (SIGINT unless a SIGTERM or SIGHUP was handled like Ctrl-C).
    """

    def __init__(self, signum: int = signal.SIGINT) -> None:
        super().__init__(f"aborted ({signal.Signals(signum).name})", signum=signum)


class AwsError(HclforgeError):
    """An AWS API call failed (access denied, throttled, unreachable) (exit 1); names the call."""


class RolloutFailed(HclforgeError):
    """An ECS service's deployment failed: the circuit breaker stopped or rolled it back (exit 1)."""


class RolloutTimeout(HclforgeError):
    """ECS services were still rolling out when the wait ran out (exit 1); names each with its counts."""


class TaskFailed(HclforgeError):
    """A one-off ECS task could not be started, or stopped without its container ever running (exit 1)."""


class TaskNotRun(TaskFailed):
    """``hclforge run`` waited on the local emulator, which runs no container: the command never ran (exit 1).

    Exit 1, as for any task whose container never ran: ``run`` passes a container's
    own exit code through (1-255), so no code of its own could tell "nothing ran"
    apart from a command that returned it; the message on stderr says which it was.
    """


class TaskTimeout(HclforgeError):
    """A one-off ECS task had not stopped when the wait ran out (exit 1); it keeps running."""


class TaskExitCode(HclforgeError):
    """A one-off task (``hclforge run``) ran and its container exited non-zero.

    The one error whose exit code is not fixed by its class: :func:`exit_code_for`
    reads it from the instance (the container's exit code, 1-255), so a script
    running ``hclforge run`` sees what the command inside the task returned.
    """

    def __init__(self, code: int, message: str = "") -> None:
        self.code = code if 1 <= code <= 255 else EXIT_FAILURE
        super().__init__(message or f"the task's container exited with code {code}")


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
    if isinstance(error, TaskExitCode):
        return error.code  # the deliberate exception: the container's own exit code
    for cls, code in _EXIT_CODES:
        if isinstance(error, cls):
            return code
    return EXIT_FAILURE


def report_lines(error: HclforgeError, *, render_command: str = "hclforge render --all") -> list[str]:
    """The lines that tell the user about ``error``; every front end prints them to stderr.

    Args:
        error: what stopped the command.
        render_command: the command that refreshes ``modules/``, named when it is stale.

    Returns:
        A :class:`ConfigError`'s problems and their count; a :class:`StaleTreeError`'s
        diff and the command that fixes it; nothing for :class:`ChangesPresent` (the
        command printed the changes, exit 3 says the rest); otherwise ``error: ...``.
    """
    if isinstance(error, ConfigError):
        return [*(str(p) for p in error.problems), f"{len(error.problems)} problem(s); nothing was written"]
    if isinstance(error, StaleTreeError):
        diff = error.diff.removesuffix("\n").split("\n")
        if error.diff.startswith("schema/"):
            return diff
        return [*diff, f"modules/ is stale: run '{render_command}' and commit the result"]
    if isinstance(error, ChangesPresent):
        return []
    if isinstance(error, Aborted):
        return [str(error)]
    return [f"error: {error}"]
