"""Several environments at once: ``validate ENV...`` and ``plan --all``.

No click here: output goes through the callbacks given, and a failure is raised
once, after every environment was tried, so one broken environment does not
hide the state of the others.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hclforge.cli import emulator
from hclforge.cli.extras import require_emulator
from hclforge.cli.ops import Workspace
from hclforge.cli.planapply import PlanResult, plan, routes
from hclforge.cli.settings import Settings
from hclforge.errors import (
    BrokenPath,
    ChangesPresent,
    ConfigError,
    HclforgeError,
    MissingExtra,
    TerraformError,
    UsageError,
)
from hclforge.roots import RootLayout, split_layout

if TYPE_CHECKING:
    from hclforge.routes import PathReport

ENV_PLACEHOLDER = "{env}"


@dataclass
class EnvOutcome:
    """One environment of ``plan --all`` (:func:`plan_each`): result or error, and output."""

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

    Raises:
        MissingExtra: the check needs the emulator, which is not installed (said before anything runs).
    """
    first = Workspace(settings, env, **kwargs)
    if first.loaded.config.split:
        return validate_roots(first, **kwargs), None
    running = emulator.status(settings.state_dir) is not None
    if check_routes and not running:
        try:
            require_emulator()
        except MissingExtra as err:
            raise MissingExtra(f"{err} (or skip the request-path check: --no-routes)") from None
    try:
        doc = Workspace(settings, env, **kwargs).validate()
        if not check_routes or not doc.get("valid"):
            return doc, None
        return doc, routes(Workspace(settings, env, emulator=True, **kwargs))
    finally:
        # The start was said (awsaccess.start_emulator); so is this stop, which makes that start's advice moot.
        if not running and emulator.stop(settings.state_dir) and kwargs.get("info") is not None:
            kwargs["info"]("stopped the emulator again: validate started it only for the request-path check")


def validate_roots(ws: Workspace, **kwargs: Any) -> dict[str, Any]:
    """``terraform validate`` of each root of a split environment, as one document (diagnostics name their root).

    The request-path check plans one tree; a split environment's path crosses roots, so it is not run (said).
    """
    valid, diagnostics = True, []
    for layout in split_layout(ws.env, ws.loaded.config):
        doc = Workspace(ws.settings, ws.env, layout=layout, loaded=ws.loaded, **kwargs).validate()
        valid = valid and bool(doc.get("valid"))
        for diag in doc.get("diagnostics", []):
            diagnostics.append({**diag, "summary": f"{layout.path}: {diag.get('summary', '')}"})
    ws.info(f"{ws.env} is split into roots: the request-path check (routes) is not run across roots")
    errors = sum(d.get("severity") == "error" for d in diagnostics)
    return {"valid": valid, "error_count": errors, "diagnostics": diagnostics}


def validate_all(
    settings: Settings,
    names: list[str],
    *,
    check_routes: bool,
    out: Callable[[str], None],
    err: Callable[[str], None],
    **options: Any,
) -> None:
    """``terraform validate`` and the request-path check of each environment, in turn.

    Args:
        settings: the project settings.
        names: the environments.
        check_routes: also check the request path on a plan against the emulator.
        out: receives ``valid  ENV`` lines.
        err: receives terraform's diagnostics and the broken links.
        options: passed on to each :class:`~hclforge.cli.ops.Workspace` (sink, info, color, events).

    Raises:
        TerraformError: ``terraform validate`` failed for some environment.
        BrokenPath: the request path of some environment is broken.
    """
    failed, broken = [], []
    for name in names:
        doc, report = validate_env(settings, name, check_routes=check_routes, **options)
        for diag in doc.get("diagnostics", []):
            where = diag.get("range", {})
            loc = f"{where.get('filename', '?')}:{where.get('start', {}).get('line', '?')}"
            err(f"{name}: {diag['severity']}: {loc}: {diag['summary']}")
        if not doc.get("valid"):
            failed.append(name)
        elif report is not None and not report.ok:
            broken.append(name)
            for problem in report.problems:
                err(f"{name}: broken: {problem}")
        else:
            routes = f" (request path: {len(report.routes)} routes, {len(report.calls)} calls)" if report else ""
            out(f"valid  {name}{routes}")
    if failed:
        raise TerraformError(f"terraform validate failed for: {', '.join(failed)}")
    if broken:
        raise BrokenPath(f"the request path is broken in: {', '.join(broken)} (see 'hclforge routes ENV --emulator')")


def json_out_path(json_out: Path, env: str, *, many: bool) -> Path:
    """Where ``--json-out`` writes ``env``'s plan: ``{env}`` in the path is replaced by its name.

    Raises:
        UsageError: several environments would share one file (no ``{env}`` in the path).
    """
    if many and ENV_PLACEHOLDER not in str(json_out):
        raise UsageError(
            f"--json-out with --all needs {ENV_PLACEHOLDER} in the path, e.g. plans/{ENV_PLACEHOLDER}.json"
        )
    return Path(str(json_out).replace(ENV_PLACEHOLDER, env))


def plan_env(ws: Workspace, json_out: Path | None = None, *, many: bool = False) -> PlanResult:
    """Plan one environment; with ``json_out``, also write the plan's ``show -json`` there (for scanners)."""
    result = plan(ws)
    if json_out is not None:
        path = json_out_path(json_out, ws.env, many=many)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(ws.runner().show_json(result.plan_file)), encoding="utf-8")
    return result


def plan_split(ws: Workspace, json_out: Path | None) -> PlanResult:
    """A split environment of ``plan --all``: its roots one at a time (the pool runs environments), one summary."""
    from hclforge.cli import splitrun

    if json_out is not None:
        raise UsageError(f"--json-out writes one root's plan, and {ws.env} is split: plan it with --root ROOT")

    def make(layout: RootLayout) -> Workspace:
        return Workspace(
            ws.settings,
            ws.env,
            emulator=ws.force_emulator,
            allow_replace=ws.allow_replace,
            sink=None,
            info=ws.info,
            layout=layout,
            loaded=ws.loaded,
        )

    run = splitrun.plan(make, ws.env, ws.loaded.config, jobs=1)
    for root in run.later:
        ws.info(root.later_note())
    run.raise_failed("plan", first_error=True)
    assert run.shared.workspace is not None
    return PlanResult(run.shared.workspace.root.plan_file, run.summary())


def plan_each(
    settings: Settings,
    names: list[str],
    *,
    emulator: bool,
    allow_replace: bool = False,
    json_out: Path | None = None,
    jobs: int | None = None,
) -> Iterator[EnvOutcome]:
    """Plan several environments in a bounded pool; yields each as it finishes.

    With ``--allow-replace`` and ``--json-out`` (one file per environment).
    Each environment's messages are buffered, so a caller prints it as one block.
    ``jobs`` defaults to the number of CPUs.
    """
    if json_out is not None:
        json_out_path(json_out, names[0], many=True)  # refuse before planning anything

    def one(env: str) -> EnvOutcome:
        lines: list[str] = []
        ws = Workspace(settings, env, emulator=emulator, allow_replace=allow_replace, sink=None, info=lines.append)
        try:
            if ws.loaded.config.split:
                return EnvOutcome(env, plan_split(ws, json_out), None, lines)
            return EnvOutcome(env, plan_env(ws, json_out, many=True), None, lines)
        except HclforgeError as err:
            return EnvOutcome(env, None, err, lines)

    with ThreadPoolExecutor(max_workers=max(1, jobs or os.cpu_count() or 2)) as pool:
        futures = [pool.submit(one, env) for env in names]
        for future in as_completed(futures):
            yield future.result()


def plan_all(
    settings: Settings,
    names: list[str],
    *,
    show: Callable[[EnvOutcome], None],
    detailed_exitcode: bool = False,
    **options: Any,
) -> None:
    """``plan --all``: plan every environment (see :func:`plan_each`), show each, then judge them together.

    Args:
        settings: the project settings.
        names: the environments.
        show: prints one environment's outcome as one block.
        detailed_exitcode: raise :class:`ChangesPresent` when some plan has changes.
        options: ``emulator``, ``allow_replace``, ``json_out`` and ``jobs`` of :func:`plan_each`.

    Raises:
        ConfigError: every failure is a config error; all their problems, together.
        TerraformError: some environment failed to plan.
        ChangesPresent: with ``detailed_exitcode``, some plan has changes.
    """
    failed: list[HclforgeError] = []
    changes = False
    for outcome in plan_each(settings, names, **options):
        show(outcome)
        if outcome.error is not None:
            failed.append(outcome.error)
        elif outcome.result is not None:
            changes = changes or outcome.result.summary.has_changes
    if failed:
        problems = [p for e in failed if isinstance(e, ConfigError) for p in e.problems]
        if problems and all(isinstance(e, ConfigError) for e in failed):
            raise ConfigError(problems)
        raise TerraformError(f"{len(failed)} of {len(names)} environment(s) failed to plan")
    if detailed_exitcode and changes:
        raise ChangesPresent("a plan has changes")
