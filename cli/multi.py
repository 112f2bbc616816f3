"""Commands over several environments, or several workspaces of one: plan --all, validate."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hclforge.cli import emulator
from hclforge.cli.ops import PlanResult, Workspace
from hclforge.cli.settings import Settings
from hclforge.errors import HclforgeError

if TYPE_CHECKING:
    from hclforge.routes import PathReport


@dataclass
class EnvOutcome:
    """One environment of :func:`plan_many`: its result or error, and the output it buffered."""

    env: str
    result: PlanResult | None
    error: HclforgeError | None
    lines: list[str]


def validate_env(
    settings: Settings, env: str, *, check_routes: bool, **kwargs: Any
) -> tuple[dict[str, Any], PathReport | None]:
    """``terraform validate``, then the request-path check on a plan against the emulator.

    The check plans a copy of the tree on the emulator (no credentials needed). An
    emulator started only for it is stopped again, so ``validate`` leaves none behind.

    Returns:
        terraform's validate document, and the path report (None when not checked or invalid).
    """
    running = emulator.status(settings.state_dir) is not None
    try:
        doc = Workspace(settings, env, **kwargs).validate()
        if not check_routes or not doc.get("valid"):
            return doc, None
        return doc, Workspace(settings, env, emulator=True, **kwargs).routes()
    finally:
        if not running:
            emulator.stop(settings.state_dir)


def plan_many(
    settings: Settings, names: list[str], *, emulator: bool, jobs: int, allow_replace: bool = False
) -> Iterator[EnvOutcome]:
    """Plan several environments in a bounded pool; yields each as it finishes.

    Each environment's terraform output and messages are buffered, so a caller
    can print every environment as one block, never interleaved.
    """

    def one(env: str) -> EnvOutcome:
        lines: list[str] = []
        ws = Workspace(settings, env, emulator=emulator, sink=None, info=lines.append, allow_replace=allow_replace)
        try:
            return EnvOutcome(env, ws.plan(), None, lines)
        except HclforgeError as err:
            return EnvOutcome(env, None, err, lines)

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = [pool.submit(one, env) for env in names]
        for future in as_completed(futures):
            yield future.result()
