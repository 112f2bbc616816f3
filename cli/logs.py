"""A service's CloudWatch Logs across its tasks' streams, ordered by time (``hclforge logs``).

hclforge's task definitions log with the ``awslogs`` driver, prefix ``ecs``, into
``EnvConfig.log_group_name(service)``; awslogs names each stream
``<prefix>/<container>/<task-id>``, so every line can say which task wrote it.
``hclforge run`` follows one task's stream with :func:`task_stream_prefix`.

``FilterLogEvents`` searches every stream of a group at once and returns events
interleaved by time (CloudWatch Logs API reference, FilterLogEvents: ``interleaved``
is ignored since 2019 and always true). It is still sent, and the events of each
page are sorted here again, because the emulator interleaves only when asked. Pages
come from boto3's own paginator.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hclforge.cli.awsapi import aws_call
from hclforge.errors import printable

AWSLOGS_PREFIX = "ecs"  # awslogs-stream-prefix in render.py's container definitions


@dataclass(frozen=True)
class LogLine:
    """One log event.

    Attributes:
        timestamp: milliseconds since the epoch, as the container wrote it.
        stream: the log stream (``ecs/<container>/<task-id>``).
        container: the container name from the stream name ("" for another naming).
        task_id: the ECS task id from the stream name ("" for another naming).
        message: the message, without its trailing line break.
        event_id: CloudWatch's id of the event (unique within the group).
    """

    timestamp: int
    stream: str
    container: str
    task_id: str
    message: str
    event_id: str


def task_stream_prefix(container: str, task_arn_or_id: str) -> str:
    """The awslogs stream of one task's container: ``ecs/<container>/<task-id>``."""
    return f"{AWSLOGS_PREFIX}/{container}/{task_arn_or_id.rsplit('/', 1)[-1]}"


def parse_stream(stream: str) -> tuple[str, str]:
    """``(container, task_id)`` of an awslogs stream name; ``("", "")`` when it is named otherwise."""
    parts = stream.split("/")
    if len(parts) == 3 and parts[0] == AWSLOGS_PREFIX and parts[1] and parts[2]:
        return parts[1], parts[2]
    return "", ""


def read_logs(
    logs_client: Any,
    group: str,
    *,
    since_ms: int,
    until_ms: int | None = None,
    stream_prefix: str | None = None,
    page_size: int | None = None,
) -> Iterator[LogLine]:
    """Every event of ``group`` from ``since_ms`` (to ``until_ms``), ordered by time.

    Args:
        logs_client: a boto3 CloudWatch Logs client.
        group: the log group (``EnvConfig.log_group_name(service)``).
        since_ms: first timestamp, ms since the epoch (``now - durations.parse_since("10m")``).
        until_ms: last timestamp, inclusive; default: up to now.
        stream_prefix: only streams whose name starts with this (one task:
            :func:`task_stream_prefix`).
        page_size: events per API call (for tests of pagination); default the API's.

    Yields:
        :class:`LogLine` objects in timestamp order.

    Raises:
        UsageError: the log group does not exist (not applied yet, or wrong name).
        AwsError: another CloudWatch Logs error.
    """
    params: dict[str, Any] = {"logGroupName": group, "startTime": since_ms, "interleaved": True}
    if until_ms is not None:
        params["endTime"] = until_ms
    if stream_prefix:
        params["logStreamNamePrefix"] = stream_prefix
    if page_size:
        params["PaginationConfig"] = {"PageSize": page_size}
    pages = iter(logs_client.get_paginator("filter_log_events").paginate(**params))
    missing = f"no log group {printable(group)} (not applied yet, or no task has logged)"
    while True:
        try:
            with aws_call(f"logs filter_log_events on {printable(group)}", missing=missing):
                page = next(pages)
        except StopIteration:
            return
        for event in sorted(page.get("events", []), key=lambda e: (e.get("timestamp", 0), e.get("eventId", ""))):
            stream = str(event.get("logStreamName", ""))
            # The emulator ignores logStreamNamePrefix; on AWS this filter is a no-op.
            if stream_prefix and not stream.startswith(stream_prefix):
                continue
            container, task = parse_stream(stream)
            yield LogLine(
                timestamp=int(event.get("timestamp", 0)),
                stream=stream,
                container=container,
                task_id=task,
                message=str(event.get("message", "")).rstrip("\r\n"),
                event_id=str(event.get("eventId", "")),
            )


def follow(
    logs_client: Any,
    group: str,
    *,
    since_ms: int,
    stream_prefix: str | None = None,
    poll: float = 2.0,
    lag_ms: int = 10_000,
    stop: Callable[[], bool] = lambda: False,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[LogLine]:
    """Like :func:`read_logs`, then keep polling for new events until ``stop()`` (or Ctrl-C).

    CloudWatch can make an event searchable some seconds after its timestamp, so
    each poll asks again from ``lag_ms`` before the newest event seen and drops
    events already shown, by ``eventId``. Ids older than the window are forgotten,
    so memory stays bounded however long it follows.

    Args:
        logs_client: a boto3 CloudWatch Logs client.
        group: the log group.
        since_ms: where to start, ms since the epoch.
        stream_prefix: only streams starting with this.
        poll: seconds between polls.
        lag_ms: how far back each poll looks again for late events.
        stop: checked after every poll; True ends the generator.
        sleep: sleeps between polls (injectable for tests).

    Yields:
        Each event once, in time order within a poll.

    Raises:
        UsageError: the log group does not exist.
        AwsError: another CloudWatch Logs error.
    """
    shown: dict[str, int] = {}
    start = since_ms
    while True:
        newest = start
        for line in read_logs(logs_client, group, since_ms=start, stream_prefix=stream_prefix):
            newest = max(newest, line.timestamp)
            if line.event_id in shown:
                continue
            shown[line.event_id] = line.timestamp
            yield line
        start = max(since_ms, newest - lag_ms)
        for event_id in [k for k, ts in shown.items() if ts < start]:
            del shown[event_id]
        if stop():
            return
        sleep(poll)


def format_line(line: LogLine, *, id_chars: int | None = None, with_container: bool = False) -> str:
    """``2026-11-27T10:00:00.123Z  <task-id>  message`` (plain text, control characters escaped).

    Args:
        line: the event.
        id_chars: shorten the task id to this many characters (default: the whole id).
        with_container: also show the container (for tasks with sidecars).
    """
    when = datetime.fromtimestamp(line.timestamp / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    who = (line.task_id[:id_chars] if id_chars else line.task_id) or line.stream
    if with_container and line.container:
        who = f"{line.container}/{who}"
    return f"{when}  {printable(who)}  {printable(line.message)}"
