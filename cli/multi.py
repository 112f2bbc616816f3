"""Validate with the request-path check, and the outcome of one environment of ``plan --all``."""

from __future__ import annotations

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
    """One environment of ``plan --all`` (:func:`~hclforge.cli.batch.plan_each`): result or error, and output."""

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
