"""A service's CloudWatch Logs (cli/logs.py), read back from a real moto server.

Streams are named like awslogs names them (``ecs/<container>/<task-id>``); events are
put out of order across two streams and must come back ordered by time, each with
its task id. moto ignores ``logStreamNamePrefix`` (it returns every stream), so the
prefix test also proves the client-side filter.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from hclforge.cli import emulator
from hclforge.cli.durations import parse_since
from hclforge.cli.logs import LogLine, follow, format_line, read_logs, task_stream_prefix
from hclforge.errors import UsageError, exit_code_for
from tests.daytwo_helpers import emu_client

TASK_A = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
TASK_B = "f9e8d7c6b5a4938271605f4e3d2c1b0a"


@pytest.fixture
def group(moto: emulator.Emulator) -> tuple[Any, str, int]:
    """A fresh log group with two task streams; events interleaved in time across them."""
    logs = emu_client(moto, "logs")
    name = f"/ecs/sss-dev/api-{uuid.uuid4().hex[:8]}"
    logs.create_log_group(logGroupName=name)
    t0 = int(time.time() * 1000) - 60_000
    for task in (TASK_A, TASK_B):
        logs.create_log_stream(logGroupName=name, logStreamName=f"ecs/api/{task}")
    # Stream B's events are put first, though stream A holds the earliest one.
    put(logs, name, TASK_B, [(t0 + 2000, "two"), (t0 + 4000, "four\n")])
    put(logs, name, TASK_A, [(t0 + 1000, "one"), (t0 + 3000, "three")])
    put(logs, name, TASK_A, [(t0 + 5000, "five")])
    return logs, name, t0


def put(logs: Any, group: str, task: str, events: list[tuple[int, str]]) -> None:
    logs.put_log_events(
        logGroupName=group,
        logStreamName=f"ecs/api/{task}",
        logEvents=[{"timestamp": ts, "message": msg} for ts, msg in events],
    )


@pytest.mark.emulator
def test_read_logs_ordered_across_streams_with_task_ids(group: tuple[Any, str, int]) -> None:
    logs, name, t0 = group
    lines = list(read_logs(logs, name, since_ms=t0))
    assert [(line.message, line.task_id) for line in lines] == [
        ("one", TASK_A),
        ("two", TASK_B),
        ("three", TASK_A),
        ("four", TASK_B),
        ("five", TASK_A),
    ]
    assert {line.container for line in lines} == {"api"}
    assert format_line(lines[0], id_chars=8).endswith(f"  {TASK_A[:8]}  one")


@pytest.mark.emulator
def test_read_logs_pages_and_window(group: tuple[Any, str, int]) -> None:
    logs, name, t0 = group
    assert [line.message for line in read_logs(logs, name, since_ms=t0, page_size=2)] == [
        "one",
        "two",
        "three",
        "four",
        "five",
    ]
    window = read_logs(logs, name, since_ms=t0 + 1500, until_ms=t0 + 4000)
    assert [line.message for line in window] == ["two", "three", "four"]


@pytest.mark.emulator
def test_stream_prefix_reads_one_task(group: tuple[Any, str, int]) -> None:
    logs, name, t0 = group
    prefix = task_stream_prefix("api", f"arn:aws:ecs:ap-northeast-1:123456789012:task/sss-dev/{TASK_B}")
    assert prefix == f"ecs/api/{TASK_B}"
    assert [line.message for line in read_logs(logs, name, since_ms=t0, stream_prefix=prefix)] == ["two", "four"]


@pytest.mark.emulator
def test_follow_picks_up_a_later_event_once(group: tuple[Any, str, int]) -> None:
    logs, name, t0 = group
    polls: list[float] = []

    def sleep(seconds: float) -> None:
        polls.append(seconds)
        if len(polls) == 1:
            put(logs, name, TASK_B, [(t0 + 6000, "six")])

    lines = list(follow(logs, name, since_ms=t0, poll=2.0, stop=lambda: len(polls) >= 3, sleep=sleep))
    assert [line.message for line in lines] == ["one", "two", "three", "four", "five", "six"]
    assert lines[-1].task_id == TASK_B
    assert polls == [2.0, 2.0, 2.0]


@pytest.mark.emulator
def test_missing_log_group_is_a_usage_error(moto: emulator.Emulator) -> None:
    logs = emu_client(moto, "logs")
    with pytest.raises(UsageError, match=r"no log group /ecs/nope/api \(not applied yet") as info:
        list(read_logs(logs, "/ecs/nope/api", since_ms=0))
    assert exit_code_for(info.value) == 2


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("30s", 30_000),
        ("10m", 600_000),
        ("1h", 3_600_000),
        ("2d", 172_800_000),
        ("1h30m", 5_400_000),
        (" 1W ", 604_800_000),
    ],
)
def test_parse_since(text: str, ms: int) -> None:
    assert parse_since(text) == ms


@pytest.mark.parametrize("text", ["", "10", "m", "-5m", "1.5h", "10 m", "10min", "0m", "99999999d", "1h\x1b[2J"])
def test_parse_since_refuses_bad_input(text: str) -> None:
    with pytest.raises(UsageError, match="--since") as info:
        parse_since(text)
    assert "\x1b" not in str(info.value)
    assert exit_code_for(info.value) == 2


def test_format_line_escapes_control_characters() -> None:
    line = LogLine(0, "other-stream", "", "", "red \x1b[31mtext\tend", "1")
    assert format_line(line) == "1970-01-01T00:00:00.000Z  other-stream  red \\x1b[31mtext\\tend"
