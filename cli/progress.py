"""Live progress from terraform's machine-readable ``-json`` event stream.

:class:`EventStream` is the line sink given to the runner. It parses each
event and drives a view: a rich progress bar on a terminal, or plain lines
(when piped, or with ``--no-color`` / ``NO_COLOR``). Error diagnostics are
always shown in full; ``-v`` also prints terraform's own messages.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from hclforge.cli.tfoutput import diagnostic_text

VERBS = {"create": "created", "update": "updated", "delete": "destroyed", "replace": "replaced"}
Echo = Callable[[str], None]


class PlainView:
    """One line per finished resource, with a running count."""

    def __init__(self, echo: Echo) -> None:
        self.echo = echo

    def start(self, title: str, total: int | None) -> None:
        self.echo(f"{title}: {total if total is not None else '?'} change(s)")

    def started(self, address: str, action: str) -> None:
        """Plain output shows resources when they finish, not when they start."""

    def finished(self, done: int, total: int | None, address: str, action: str, seconds: float) -> None:
        count = f"{done}/{total}" if total else str(done)
        self.echo(f"[{count}] {VERBS.get(action, action)} {address} ({seconds:.0f}s)")

    def stop(self, done: int, elapsed: float) -> None:
        self.echo(f"done: {done} change(s) in {elapsed:.1f}s")


class RichView:
    """A live progress bar: resources done out of planned, elapsed time, the resource in flight."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.console = Console(stderr=True)
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[current]}"),
            console=self.console,
            transient=False,
        )
        self.task: Any = None
        self.in_flight: dict[str, str] = {}

    def start(self, title: str, total: int | None) -> None:
        self.progress.start()
        self.task = self.progress.add_task(title, total=total, current="")

    def started(self, address: str, action: str) -> None:
        self.in_flight[address] = action
        self.progress.update(self.task, current=f"{action}: {address}")

    def finished(self, done: int, total: int | None, address: str, action: str, seconds: float) -> None:
        self.in_flight.pop(address, None)
        self.progress.console.print(f"  {VERBS.get(action, action)} {address} ({seconds:.0f}s)", highlight=False)
        current = next(iter(self.in_flight.items()), None)
        self.progress.update(self.task, completed=done, current=f"{current[1]}: {current[0]}" if current else "")

    def stop(self, done: int, elapsed: float) -> None:
        self.progress.update(self.task, current="")
        self.progress.stop()


class EventStream:
    """The runner's line sink for ``terraform plan|apply -json``.

    Args:
        title: what the bar says ("Applying local").
        total: the number of changes expected, when known (from the saved plan).
        view: :class:`PlainView` or :class:`RichView`.
        echo: where diagnostics and ``-v`` messages go.
        verbose: also print terraform's own ``@message`` of every event.
    """

    def __init__(
        self, title: str, total: int | None, view: PlainView | RichView | None, echo: Echo, verbose: bool
    ) -> None:
        self.title = title
        self.total = total
        self.view = view
        self.echo = echo
        self.verbose = verbose
        self.done = 0
        self.started_at = 0.0
        self.running = False

    def __enter__(self) -> EventStream:
        self.started_at = time.monotonic()
        return self

    def __exit__(self, *_exc: object) -> None:
        if self.running and self.view is not None:
            self.view.stop(self.done, time.monotonic() - self.started_at)

    def __call__(self, line: str) -> None:
        try:
            event = json.loads(line)
        except ValueError:
            if line.strip():
                self.echo(line)
            return
        kind = event.get("type")
        if self.verbose and event.get("@message") and kind not in ("diagnostic",):
            self.echo(event["@message"])
        if kind == "diagnostic":
            self.echo(diagnostic_text(event))
            return
        if self.view is None:
            return
        hook = event.get("hook", {})
        address = hook.get("resource", {}).get("addr", "")
        action = hook.get("action", "")
        if action == "read" and kind in ("apply_start", "apply_complete"):
            # A data source read (destroy reads them all before it starts) changes nothing: not counted.
            return
        if kind == "apply_start":
            self._ensure_running()
            self.view.started(address, action)
        elif kind == "apply_complete":
            self._ensure_running()
            self.done += 1
            self.view.finished(self.done, self.total, address, action, float(hook.get("elapsed_seconds", 0)))
        elif kind == "apply_errored":
            self.echo(f"failed: {action} {address}")

    def _ensure_running(self) -> None:
        if not self.running and self.view is not None:
            self.running = True
            self.view.start(self.title, self.total)
