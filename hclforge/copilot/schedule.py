"""Copilot's ``on.schedule`` and durations, as EventBridge Scheduler expressions and seconds.

Copilot takes a standard 5-field cron (``0 9 * * 1-5``), a preset (``@daily``), a
fixed interval (``@every 1h30m``), an AWS expression (``rate(…)``/``cron(…)``,
passed through) or ``none``. EventBridge Scheduler takes ``rate(N unit)`` and a
6-field AWS cron: minutes, hours, day-of-month, month, day-of-week, year, where one
of the two day fields must be ``?``, days of the week run 1-7 from Sunday
(standard cron: 0-6, and 7, from Sunday), and day-of-week takes no ``/`` step.

Copilot's own conversion adds one to every digit of the day-of-week field, which
turns ``*/2`` into ``*/3`` and Sunday-as-7 into 8; here the field is expanded to its
days and written back by name, so ``1-5`` is ``MON-FRI`` and ``*/2`` is
``SUN,TUE,THU,SAT``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from hclforge.errors import HclforgeError


class ScheduleError(HclforgeError):
    """A schedule or duration that cannot be converted; the message says why."""


@dataclass(frozen=True)
class Schedule:
    """A converted schedule: the Scheduler expression, and the time zone it runs in."""

    expression: str
    timezone: str = "UTC"


# Copilot's presets (scheduled_job.go), AWS cron: M H DoM Mo DoW Y.
PRESETS = {
    "@hourly": "cron(0 * * * ? *)",
    "@daily": "cron(0 0 * * ? *)",
    "@midnight": "cron(0 0 * * ? *)",
    "@weekly": "cron(0 0 ? * 1 *)",
    "@monthly": "cron(0 0 1 * ? *)",
    "@yearly": "cron(0 0 1 1 ? *)",
    "@annually": "cron(0 0 1 1 ? *)",
}
DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_AWS_EXPR = re.compile(r"^(rate|cron)\((.+)\)$")
_RATE = re.compile(r"^(\d+) (minute|minutes|hour|hours|day|days)$")
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def convert(schedule: str) -> Schedule:
    """Convert a Copilot ``on.schedule`` to an EventBridge Scheduler expression.

    Args:
        schedule: the manifest's value.

    Returns:
        The expression, and the time zone (``CRON_TZ=…`` before a cron sets it).

    Raises:
        ScheduleError: ``none`` (a disabled job), or a value that is not a schedule.
    """
    text = " ".join(schedule.split())
    timezone = "UTC"
    match = re.match(r"^(?:CRON_TZ|TZ)=(\S+) (.+)$", text)
    if match:
        timezone, text = match.group(1), match.group(2)
    if text == "none":
        raise ScheduleError("'none' disables the job; EventBridge Scheduler has no disabled schedule in hclforge")
    aws = _AWS_EXPR.match(text)
    if aws:
        _check_aws(aws.group(1), aws.group(2), schedule)
        return Schedule(text, timezone)
    if text.startswith("@every "):
        return Schedule(_rate(text.removeprefix("@every ")), timezone)
    if text.startswith("@"):
        if text not in PRESETS:
            raise ScheduleError(f"'{schedule}' is not a preset (allowed: {', '.join(PRESETS)})")
        return Schedule(PRESETS[text], timezone)
    return Schedule(_cron(text, schedule), timezone)


def _check_aws(kind: str, body: str, schedule: str) -> None:
    if kind == "rate" and not _RATE.match(body):
        raise ScheduleError(f"'{schedule}' is not a rate expression (rate(N minute|minutes|hour|hours|day|days))")
    if kind == "cron" and len(body.split()) != 6:
        raise ScheduleError(f"'{schedule}' is not an AWS cron expression (six fields: M H DoM Mo DoW Y)")


def _rate(duration: str) -> str:
    seconds = duration_seconds(duration)
    if seconds < 60 or seconds % 60:
        raise ScheduleError(f"'@every {duration}' must be a whole number of minutes, at least one")
    minutes = int(seconds // 60)
    for size, unit in ((1440, "day"), (60, "hour"), (1, "minute")):
        if minutes % size == 0:
            count = minutes // size
            return f"rate({count} {unit}{'' if count == 1 else 's'})"
    raise AssertionError("unreachable: every minute count divides by 1")


def duration_seconds(text: str) -> float:
    """Seconds of a Go duration as Copilot writes them: ``1h30m``, ``90s``, ``1.5h``.

    Raises:
        ScheduleError: not a duration.
    """
    if text in ("0", ""):
        if text == "0":
            return 0.0
        raise ScheduleError("an empty duration")
    pos, total = 0, 0.0
    for part in _DURATION_PART.finditer(text):
        if part.start() != pos:
            break
        total += float(part.group(1)) * _UNIT_SECONDS[part.group(2)]
        pos = part.end()
    if pos != len(text) or pos == 0:
        raise ScheduleError(f"'{text}' is not a duration (e.g. 30s, 10m, 1h30m)")
    return total


# ---------------------------------------------------------------- standard cron


@dataclass(frozen=True)
class _Field:
    low: int
    high: int
    names: tuple[str, ...] = ()
    name_base: int = 0


_MINUTE, _HOUR, _DOM = _Field(0, 59), _Field(0, 23), _Field(1, 31)
_MONTH, _DOW = _Field(1, 12, MONTHS, 1), _Field(0, 7, DAYS, 0)


def _cron(text: str, schedule: str) -> str:
    fields = text.split(" ")
    if len(fields) != 5:
        raise ScheduleError(
            f"'{schedule}' is not a schedule: give a 5-field cron (M H DoM Mo DoW), @daily-like preset, "
            "@every DURATION, rate(...) or cron(...)"
        )
    minute, hour, dom, month, dow = fields
    try:
        days = _expand(dow, _DOW)
        dom_free = dom in ("*", "?")
        dow_free = dow in ("*", "?") or {d % 7 for d in days} == set(range(7))
        out_minute = _simple(minute, _MINUTE)
        out_hour = _simple(hour, _HOUR)
        out_month = _simple(month, _MONTH)
        out_dom = "*" if dom_free else _simple(dom, _DOM)
    except ScheduleError as err:
        raise ScheduleError(f"'{schedule}': {err}") from None
    if not dom_free and not dow_free:
        # Standard cron runs when either day field matches; AWS cron cannot say "or".
        raise ScheduleError(
            f"'{schedule}' restricts both day-of-month and day-of-week, which standard cron ORs; "
            "AWS cron takes one of them (split it into two schedules)"
        )
    if dow_free:
        return f"cron({out_minute} {out_hour} {out_dom} {out_month} ? *)"
    return f"cron({out_minute} {out_hour} ? {out_month} {_day_names(days)} *)"


def _simple(text: str, spec: _Field) -> str:
    """A minute, hour, day-of-month or month field in AWS syntax (a list where steps need one)."""
    if text in ("*", "?"):
        return "*"
    step = re.fullmatch(r"\*/(\d+)", text)
    if step:
        if int(step.group(1)) == 0:
            raise ScheduleError(f"step 0 in '{text}'")
        return f"{spec.low}/{int(step.group(1))}"
    values = _expand(text, spec)  # validates the field
    if "/" not in text:
        return text.upper()  # numbers, lists, ranges and names are AWS syntax as they are
    return ",".join(str(v) for v in sorted(values))


def _expand(text: str, spec: _Field) -> set[int]:
    """The values a standard cron field selects (robfig/cron's syntax: lists, ranges, steps, names)."""
    values: set[int] = set()
    for item in text.split(","):
        rng, _, step_text = item.partition("/")
        step = _number(step_text, None) if step_text else 1
        if step is None or step < 1:
            raise ScheduleError(f"'{item}' has no valid step")
        if rng in ("*", "?"):
            low, high = spec.low, spec.high
        elif "-" in rng:
            first, _, last = rng.partition("-")
            low, high = _value(first, spec), _value(last, spec)
        else:
            low = _value(rng, spec)
            high = spec.high if step_text else low
        if low > high:
            raise ScheduleError(f"'{item}' runs backwards")
        values.update(range(low, high + 1, step))
    return values


def _value(text: str, spec: _Field) -> int:
    if text.upper() in spec.names:
        return spec.names.index(text.upper()) + spec.name_base
    number = _number(text, None)
    if number is None or not spec.low <= number <= spec.high:
        raise ScheduleError(f"'{text}' is out of range ({spec.low}-{spec.high})")
    return number


def _number(text: str, default: int | None) -> int | None:
    return int(text) if text.isdigit() else default


def _day_names(days: set[int]) -> str:
    """Days (0 or 7 = Sunday) as AWS day names, consecutive runs joined: ``MON-FRI``."""
    ordered = sorted({d % 7 for d in days})
    runs: list[list[int]] = []
    for day in ordered:
        if runs and day == runs[-1][-1] + 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    parts = [DAYS[r[0]] if len(r) == 1 else f"{DAYS[r[0]]}-{DAYS[r[-1]]}" for r in runs]
    return ",".join(parts)
