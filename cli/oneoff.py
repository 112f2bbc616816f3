"""``hclforge logs`` and ``hclforge run``: a service's logs, and a one-off task with its exit code."""

from __future__ import annotations

import contextlib
import shlex
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from hclforge.cli.awsapi import known_service
from hclforge.cli.durations import parse_since
from hclforge.cli.logs import follow, format_line, read_logs
from hclforge.cli.rollout import task_id
from hclforge.cli.runtask import TaskResult, TaskSpec, run_task, task_status, wait_stopped
from hclforge.errors import TaskExitCode, TaskNotRun, UsageError, printable

# ------------------------------------------------------------------ logs / run


def log_lines(
    ws: Any,
    service: str,
    *,
    since: str = "10m",
    follow_logs: bool = False,
    stop: Callable[[], bool] = lambda: False,
    on_empty: Callable[[str], None] = lambda _m: None,
) -> Iterator[str]:
    """The service's CloudWatch Logs lines, ordered by time (``follow_logs``: until ``stop()`` or Ctrl-C).

    ``on_empty`` is told, once, when there is no event to show: after the read, or
    after the first poll of ``follow_logs`` (which then goes on waiting).
    """
    cfg = ws.loaded.config
    group = cfg.log_group_name(known_service(cfg, service))
    since_ms = int(time.time() * 1000) - parse_since(since)
    logs = ws.aws_client("logs")
    shown = 0
    polls = 0

    def first_poll_said() -> bool:
        nonlocal polls
        polls += 1
        if polls == 1 and not shown:
            on_empty(_no_events(ws, group, since) + "; waiting for new ones (Ctrl-C stops)")
        return stop()

    lines = (
        follow(logs, group, since_ms=since_ms, stop=first_poll_said)
        if follow_logs
        else read_logs(logs, group, since_ms=since_ms)
    )
    for line in lines:
        shown += 1
        yield format_line(line, id_chars=8)
    if not follow_logs and not shown:
        on_empty(_no_events(ws, group, since))


def _no_events(ws: Any, group: str, since: str) -> str:
    where = " (the emulator runs no containers: only events put there by hand show)" if ws.on_emulator else ""
    return f"no log events in {group} in the last {since.strip()}{where}"


def run_one(
    ws: Any,
    service: str,
    command: Sequence[str],
    *,
    wait: bool = True,
    timeout: float = 600.0,
    on_started: Callable[[TaskSpec], None] = lambda _s: None,
    on_line: Callable[[str], None] = lambda _l: None,
    on_note: Callable[[str], None] = lambda _n: None,
    poll: float = 6.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> TaskResult | None:
    """Run one task of ``service`` with ``command``; unless ``wait`` is off, stream its logs and wait.

    On the local emulator the task is started (its task definition, container and
    network are checked as on AWS), but no container runs: ``wait=False`` tells
    ``on_note`` so, and a wait raises :class:`TaskNotRun` instead of reading the
    exit code 0 the emulator reports for every container.

    Returns:
        The stopped task (exit code 0), or None with ``wait=False``.

    Raises:
        TaskExitCode: the container exited non-zero (the process exits with that code).
        TaskFailed, TaskTimeout: it never ran, or did not stop in time (exit 1).
        TaskNotRun: a wait on the emulator (exit 1).
    """
    cfg = ws.loaded.config
    known_service(cfg, service)
    if not command:
        raise UsageError("no command: hclforge run ENV SERVICE -- CMD...")
    ecs = ws.aws_client("ecs")
    started_ms = int(time.time() * 1000) - 5_000
    spec = run_task(ecs, cfg, service, command)
    on_started(spec)
    if ws.on_emulator:
        said = (
            f"on the emulator no container runs: task {task_id(spec.task_arn)} was started, "
            f"but its command ({printable(shlex.join(command))})"
        )
        if wait:
            raise TaskNotRun(f"{said} did not run and has no exit code; run it against AWS for a real one")
        on_note(f"{said} will not run")
    if not wait:
        return None
    logs = ws.aws_client("logs")
    group = cfg.log_group_name(service)
    seen: set[str] = set()

    def emit(lines: Iterable[Any]) -> None:
        for line in lines:
            if line.event_id not in seen:
                seen.add(line.event_id)
                on_line(format_line(line))

    deadline = clock() + timeout

    def stopped() -> bool:
        # Past the deadline, stop following: wait_stopped then raises TaskTimeout.
        return clock() >= deadline or task_status(ecs, cfg.cluster_name, spec.task_arn).get("lastStatus") == "STOPPED"

    with contextlib.suppress(UsageError):  # no log group yet: the exit code still counts
        emit(follow(logs, group, since_ms=started_ms, stream_prefix=spec.log_stream_prefix, stop=stopped, sleep=sleep))
    result = wait_stopped(
        ecs,
        cfg.cluster_name,
        spec.task_arn,
        max(deadline - clock(), 0.0),
        container=spec.container,
        poll=poll,
        clock=clock,
        sleep=sleep,
    )
    with contextlib.suppress(UsageError):
        emit(read_logs(logs, group, since_ms=started_ms, stream_prefix=spec.log_stream_prefix))
    if result.exit_code != 0:
        raise TaskExitCode(
            result.exit_code,
            f"task {spec.task_arn} stopped: container {spec.container} exited with code {result.exit_code}"
            + (f" ({result.stopped_reason})" if result.stopped_reason else ""),
        )
    return result
