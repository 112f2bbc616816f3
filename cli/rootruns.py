"""The runs of a split environment's roots: what happened to each, in parallel, under every root's lock.

:mod:`~hclforge.cli.splitrun` runs an environment's roots as one environment; this
module holds what it needs to do that safely: the results (:class:`RootRun`,
:class:`SplitRun`), the parallel runs of the service roots (:func:`each_root`),
which stop together on Ctrl-C, SIGTERM or SIGHUP, and the hold on every root's
command lock for a run of the whole environment (:func:`holding`).
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field

from hclforge.cli import tfprocess
from hclforge.cli.ops import Workspace
from hclforge.cli.summary import Row, Summary
from hclforge.errors import Interrupted, TerraformError
from hclforge.roots import RootLayout


@dataclass
class RootRun:
    """What happened to one root in an environment-wide run.

    Attributes:
        layout: the root.
        summary: its plan's summary (None when it was not planned, or failed).
        error: why it failed (None when it did not).
        after_shared: its inputs can change when shared applies: it is planned again then.
        waiting: why it could not be planned now (shared was never applied, or lacks what it needs).
        workspace: the workspace that ran it.
    """

    layout: RootLayout
    summary: Summary | None = None
    error: BaseException | None = None
    after_shared: bool = False
    waiting: str = ""
    workspace: Workspace | None = None

    @property
    def name(self) -> str:
        return self.layout.path

    def later_note(self) -> str:
        """What happens to a root that waits for shared, in one line."""
        what = f"planned: {self.waiting}" if self.waiting else "planned again: values it takes from shared change"
        return f"after shared applies, {self.layout.env}/{self.name} is {what}"


@dataclass
class SplitRun:
    """An environment-wide run of a split environment: each root's outcome, shared first."""

    env: str
    roots: list[RootRun] = field(default_factory=list)

    @property
    def shared(self) -> RootRun:
        return self.roots[0]

    @property
    def services(self) -> list[RootRun]:
        return self.roots[1:]

    @property
    def failed(self) -> list[RootRun]:
        return [r for r in self.roots if r.error is not None]

    def raise_failed(self, doing: str, *, first_error: bool = False) -> None:
        """Raise TerraformError naming the roots that failed to ``doing`` (and the first one's error); none: nothing."""
        if self.failed:
            names = ", ".join(r.name for r in self.failed)
            why = f": {self.failed[0].error}" if first_error else ""
            raise TerraformError(f"{len(self.failed)} root(s) of {self.env} failed to {doing}: {names}{why}")

    @property
    def later(self) -> list[RootRun]:
        """The service roots planned again (or for the first time) after shared applies."""
        return [r for r in self.services if r.after_shared or r.waiting]

    @property
    def has_changes(self) -> bool:
        """Any root has changes, shared's outputs change, or a root waits for shared."""
        shared = self.shared.summary
        return (
            any(r.summary is not None and r.summary.has_changes for r in self.roots)
            or bool(shared and shared.output_changes)
            or bool(self.later)
        )

    def summary(self) -> Summary:
        """One summary for the environment: every root's rows, addresses named with their root."""
        merged = Summary(self.env)
        rows: dict[tuple[str, str], Row] = {}
        for run in self.roots:
            if run.summary is None:
                continue
            for row in run.summary.rows:
                into = rows.setdefault((row.module, row.service), Row(row.module, row.service))
                for action in ("create", "update", "replace", "delete"):
                    setattr(into, action, getattr(into, action) + getattr(row, action))
            merged.replaced += [f"{run.name}: {a}" for a in run.summary.replaced]
            merged.deleted += [f"{run.name}: {a}" for a in run.summary.deleted]
            merged.output_changes += [f"{run.name}: {o}" for o in run.summary.output_changes]
        merged.rows = [rows[key] for key in sorted(rows)]
        return merged


def each_root(jobs: int, roots: Sequence[RootRun], work: Callable[[RootRun], None]) -> None:
    """Run ``work`` on each root, ``jobs`` at a time; a root's failure is kept on it, the others go on.

    Ctrl-C, SIGTERM or SIGHUP (raised in this, the main thread: the only one Python
    gives a signal to) stops them all: each running terraform gets one SIGINT and is
    waited for (it releases its lock and writes its state), no root starts after it,
    and :class:`~hclforge.errors.Interrupted` names what was stopped.

    Raises:
        Interrupted: a signal stopped the run.
    """
    started: list[RootRun] = []

    def one(run: RootRun) -> None:
        started.append(run)
        try:
            work(run)
        except Exception as err:  # kept and reported per root
            run.error = err

    if not roots:
        return
    pool = ThreadPoolExecutor(max_workers=max(1, min(jobs, len(roots))))
    futures = [pool.submit(one, run) for run in roots]
    try:
        for future in futures:
            future.result()
    except KeyboardInterrupt as stop:
        tfprocess.stop_all(stop)
        try:
            for future in futures:
                future.cancel()
            _wait_out(futures)
        finally:
            tfprocess.resume()
        raise _stopped(stop, roots, started) from None
    finally:
        pool.shutdown(wait=False)  # every future is done or cancelled by now


def _wait_out(futures: Sequence[Future[None]]) -> None:
    """Wait for the running roots to stop; a second signal does not cut them off (that is what loses state)."""
    while True:
        try:
            wait(futures)
            return
        except KeyboardInterrupt:
            continue


def _stopped(stop: KeyboardInterrupt, roots: Sequence[RootRun], started: Sequence[RootRun]) -> Interrupted:
    """The error for roots stopped by a signal: which were stopped, which had finished, which never started."""
    signum = stop.signum if isinstance(stop, tfprocess.SignalInterrupt) else signal.SIGINT
    stopped = [r for r in started if isinstance(r.error, Interrupted)]
    done = [r for r in started if r not in stopped]
    parts = [
        f"terraform stopped in {', '.join(r.name for r in stopped)}" if stopped else "",
        f"{', '.join(r.name for r in done)} had ended" if done else "",
        f"{', '.join(r.name for r in roots if r not in started)} never started" if len(started) < len(roots) else "",
    ]
    env = roots[0].layout.env
    said = "; ".join(p for p in parts if p)
    return Interrupted(
        f"interrupted ({signal.Signals(signum).name}) in {env}: {said}; each root's state is as terraform left it: "
        f"run 'hclforge plan {env}' to see where it stands",
        signum=int(signum),
    )


def default_jobs() -> int:
    """Service roots run in parallel by default: one per CPU."""
    return os.cpu_count() or 1


@contextmanager
def holding(run: SplitRun, command: str) -> Iterator[None]:
    """Hold every root's command lock for a run of the whole environment, from its first plan to its last apply.

    Taken at once, shared first, before anything is planned or written: a second
    whole-environment run, or a ``deploy --service`` of any root, fails at once,
    naming the holder, and never plans or applies in between this run's plan and
    apply of a root. (A deploy of one root holds that root's lock only: two
    deploys of different roots never wait on each other.)

    Raises:
        StateLocked: another hclforge command holds a root's lock (exit 1); nothing was done.
    """
    with ExitStack() as stack:
        for root in run.roots:
            assert root.workspace is not None
            stack.enter_context(root.workspace.holding(command))
        yield
