"""After ``state split|join`` moved the states: the applies the move needs, then a plan of every root.

A moved state holds its resources but not its outputs, and the execution role's
secrets policies change hands (:mod:`hclforge.statemove`). Tasks must be able to
read their secrets at every moment, so the policy that grants them after the move
is created before the one that granted them before is deleted:

- **split**: shared's plan must change no resource but delete the one root's
  combined secrets policy, which the move put in its state. The service roots take
  shared's outputs as that plan has them, and each creates its own
  ``execution_<service>`` policy (and records its outputs); then shared's plan is
  applied: it records its outputs and deletes the combined policy through the provider.
- **join**: the one root creates the combined policy, then its
  ``aws_iam_role_policies_exclusive`` pin (which depends on it), whose create
  removes the service roots' policies, no longer in any state.

Each step is safe to run again, so a rerun after a ``kill -9`` here does them again.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hclforge import protect
from hclforge.cli import planapply, sharedvalues, splitrun
from hclforge.cli.ops import Workspace
from hclforge.cli.summary import ACTIONS, Summary
from hclforge.errors import HclforgeError, StateMoveRefused, TerraformError
from hclforge.roots import SHARED, RootLayout, shared_outputs_file, split_only_addresses
from hclforge.statemove import COMBINED_POLICY, EXECUTION_PIN, ONE, Journal, label

if TYPE_CHECKING:
    from hclforge.cli.statemove import Move


@dataclass
class MoveResult:
    """What a move did: the journal it followed, the steps beyond writing states, each root's plan at the end.

    Attributes:
        journal: the move (sources, targets, dropped addresses).
        steps: what was applied, in order, in words.
        plans: each target root's plan after the move (None: it failed, see ``errors``).
        errors: why a root's final plan failed.
    """

    journal: Journal
    steps: list[str] = field(default_factory=list)
    plans: dict[str, Summary | None] = field(default_factory=dict)
    errors: dict[str, BaseException] = field(default_factory=dict)


def run(move: Move, *, jobs: int) -> MoveResult:
    """Move the states (or finish an interrupted move), apply what the move needs, and plan every root.

    Raises:
        StateMoveRefused: the move cannot go on as asked (exit 2); nothing more was written.
        TerraformError, StateLocked: terraform failed (exit 1); a rerun goes on from there.
    """
    with move.holding():
        journal = move.read_journal()
        if journal is None or journal.stage == "move":
            journal = move.move(journal)
        result = MoveResult(journal)
        if journal.command == "split":
            _settle_split(move, result, jobs)
        else:
            _settle_join(move, result)
        move.journal_file.unlink()
        _plan_all(move, result, jobs)
    return result


def _changes(ws: Workspace) -> list[tuple[str, str]]:
    """The resource changes of the root's last plan, ``(address, action)``."""
    return [(a, act) for a, act in protect.changes_of_events(ws.runner().last_events) if act in ACTIONS]


def _yes(_summary: Summary) -> bool:
    return True


def _apply(ws: Workspace, *, targets: list[str] | None = None) -> None:
    planapply.apply(ws, auto_approve=True, interactive=False, confirm=_yes, targets=targets, outputs_too=True)


def _planned_outputs(ws: Workspace) -> dict[str, Any]:
    """The root's outputs as its saved plan will record them, shaped as ``terraform output -json`` prints them.

    Every resource of a moved root exists, so every output is known at plan time.
    """
    planned = ws.runner().show_json(ws.root.plan_file).get("planned_values", {}).get("outputs", {})
    return {name: {"value": o.get("value"), "sensitive": o.get("sensitive", False)} for name, o in planned.items()}


def _listed(changes: list[tuple[str, str]]) -> str:
    return "\n".join(f"  {action}: {address}" for address, action in changes)


def _settle_split(move: Move, result: MoveResult, jobs: int) -> None:
    env, say = move.env, result.steps.append
    shared = move.targets[SHARED]
    planapply.plan(shared)
    changes = _changes(shared)
    unexpected = [c for c in changes if c != (COMBINED_POLICY, "delete")]
    if unexpected:
        raise StateMoveRefused(
            f"the move of {env} is done (every resource is in its root; the one state is empty), but shared's "
            f"plan would change more than the move needs:\n{_listed(unexpected)}\nnothing was applied. Make "
            f"envs/{env}.yaml plan no such change ('hclforge plan {env} --root shared') and run "
            f"'hclforge state split {env}' again; or accept them: remove {move.journal_file} and run "
            f"'hclforge apply {env}' (shared's apply then deletes {COMBINED_POLICY} while the service roots "
            "create their own policies)"
        )
    outputs = _planned_outputs(shared)  # what the service roots take: shared applies after them

    def service(root: str) -> None:
        ws = move.targets[root]
        assert ws.layout is not None
        sharedvalues.write_inputs(ws, outputs)
        own = set(split_only_addresses(move.split_cfg, ws.layout))
        planapply.plan(ws)
        found = _changes(ws)
        creates = sorted(a for a, act in found if a in own and act == "create")
        if len(creates) == len(found):
            _apply(ws)  # its secrets policies, and its outputs
        elif creates:
            _apply(ws, targets=creates)  # those creates only: the rest is the user's to review
        for address in creates:
            say(f"{env}/{root}: created {address} (its services' secrets, on the shared execution role)")

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        list(pool.map(service, [root for root in move.targets if root != SHARED]))
    _apply(shared)  # its outputs, and the combined policy's delete now that the service roots' own exist
    sharedvalues.keep_outputs(shared)
    if (COMBINED_POLICY, "delete") in changes:
        say(f"{env}/shared: deleted {COMBINED_POLICY}, the one root's policy for every service's secrets")
    if EXECUTION_PIN in result.journal.dropped:
        say(f"{env}: {EXECUTION_PIN} dropped from state: it manages no AWS object, and its delete is a no-op")


def _settle_join(move: Move, result: MoveResult) -> None:
    env, say = move.env, result.steps.append
    ws = move.targets[ONE]
    expected = {(COMBINED_POLICY, "create"), (EXECUTION_PIN, "create")}
    planapply.plan(ws)
    changes = _changes(ws)
    creates = [a for a in (COMBINED_POLICY, EXECUTION_PIN) if (a, "create") in changes]  # the pin needs the policy
    if set(changes) <= expected:
        _apply(ws)
    elif creates:
        _apply(ws, targets=creates)
    for address in creates:
        say(f"{env}: created {address}")
    for address in result.journal.dropped:
        say(f"{env}: {address} dropped from state; the pin's create removed it from the execution role")
    (move.host.settings.root / shared_outputs_file(env)).unlink(missing_ok=True)


def _plan_all(move: Move, result: MoveResult, jobs: int) -> None:
    """Plan every target root, and keep each one's summary (or why it failed)."""
    if result.journal.command == "join":
        ws = move.targets[ONE]
        try:
            result.plans[ONE] = planapply.plan(ws).summary
        except HclforgeError as err:  # reported with the move, which is done
            result.errors[ONE], result.plans[ONE] = err, None
        return

    def make(layout: RootLayout) -> Workspace:
        return move.targets[layout.path]  # the workspaces that hold the move's locks

    try:
        run = splitrun.plan(make, move.env, move.split_cfg, jobs=jobs)
    except HclforgeError as err:  # shared's plan: the service roots were not planned
        result.errors[SHARED], result.plans[SHARED] = err, None
        return
    for root in run.roots:
        result.plans[root.name] = root.summary
        if root.error is not None:
            result.errors[root.name] = root.error


def report(move: Move, result: MoveResult) -> list[str]:
    """The lines that tell what the move did, and each root's plan after it."""
    journal = result.journal
    moved = sum(len(t.addresses) for t in journal.targets)
    into = "its roots" if journal.command == "split" else "one state"
    lines = [f"moved {moved} resources of {move.env} into {into}, each at its address, nothing destroyed:"]
    lines += [
        f"  {label(move.env, t.root)}: {len(t.addresses)} ({move.where(t.root, source=False)})" for t in journal.targets
    ]
    lines += [
        f"  {label(move.env, s.root)}: emptied; it was backed up to {move.rel(s.backup)}" for s in journal.sources
    ]
    lines += [f"  {step}" for step in result.steps]
    lines.append("plans after the move:")
    for root, summary in result.plans.items():
        if summary is None:
            lines.append(f"  {label(move.env, root)}: plan failed: {result.errors.get(root)}")
            continue
        t = summary.totals
        outputs = " (outputs change)" if summary.output_changes else ""
        changes = (
            f"{t['create']} to create, {t['update']} to update, {t['replace']} to replace, {t['delete']} to delete"
        )
        lines.append(f"  {label(move.env, root)}: {changes if summary.has_changes else 'no changes'}{outputs}")
    return lines


def raise_failed(move: Move, result: MoveResult) -> None:
    """After the report: a root whose plan failed makes the command fail (exit 1), the move being done.

    Raises:
        TerraformError: some root's plan after the move failed.
    """
    if result.errors:
        names = ", ".join(label(move.env, root) for root in result.errors)
        raise TerraformError(f"the move of {move.env} is done, but the plan of {names} failed (above)")
