"""FC's timer-trigger schedule dialect (fc-api.md §2.5).

Forms accepted in `cronExpression`:
- six fields with seconds, `sec min hour dom mon dow` (UTC): `0 0 9 * * ?`, `*/1 * * * * *`,
  with `*`, `?` (day fields only), lists, ranges, steps and names (JAN-DEC, SUN-SAT);
- `@every <duration>` in Go's duration syntax with h/m/s units: `@every 1m`, `@every 1h30m`, `@every 90s`;
- either, prefixed with FC's documented time-zone option `CRON_TZ=<IANA zone> ` (e.g.
  `CRON_TZ=Asia/Shanghai 0 0 4 1 * *`); without it FC evaluates cron fields in UTC.

`validate` raises ValueError carrying FC's InvalidArgument message; `next_fire`/`next_fires` give the
fire times the timer scheduler needs. croniter does the calendar arithmetic (DST included).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from croniter.croniter import CroniterBadDateError, CroniterError

from emulator.model.numbers import is_decimal

UTC = timezone.utc

# (name, low, high, names) in FC's field order: sec min hour dom mon dow
_MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
_DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]
_FIELDS = [
    ("seconds", 0, 59, None),
    ("minutes", 0, 59, None),
    ("hours", 0, 23, None),
    ("day-of-month", 1, 31, None),
    ("month", 1, 12, {n: i + 1 for i, n in enumerate(_MONTHS)}),
    ("day-of-week", 0, 6, {n: i for i, n in enumerate(_DAYS)}),
]
# Applied with fullmatch (`$` also matches before a final newline); [0-9], not \d, which takes `٣`.
_EVERY = re.compile(r"@every\s+(\S+)", re.IGNORECASE)
_DURATION = re.compile(r"(?:([0-9]+(?:\.[0-9]+)?)h)?(?:([0-9]+(?:\.[0-9]+)?)m(?!s))?(?:([0-9]+(?:\.[0-9]+)?)s)?")
_TZ = re.compile(r"CRON_TZ=(\S+)\s+(.*)", re.DOTALL)
_ZONE = re.compile(r"[A-Za-z0-9_+-]+(?:/[A-Za-z0-9_+-]+)*")  # IANA names: Asia/Shanghai, Etc/GMT+8, UTC
# Go's time.Duration (int64 nanoseconds) ends at about 292 years; @every beyond that cannot be kept.
MAX_EVERY = timedelta(seconds=(2 ** 63 - 1) // 10 ** 9)


@dataclass(frozen=True)
class Schedule:
    """A parsed `cronExpression`: either a cron spec (croniter's field order) or a fixed interval."""
    expression: str
    tz: tzinfo | None  # from CRON_TZ=; None = the caller's default (UTC)
    cron: str | None = None  # "min hour dom mon dow sec" for croniter
    every: timedelta | None = None


def _invalid(expr: str, reason: str) -> ValueError:
    return ValueError(f"cronExpression '{expr}' is invalid: {reason}")


def _value(token: str, low: int, high: int, names: dict | None, field: str, expr: str) -> int:
    if names and token.upper() in names:
        return names[token.upper()]
    if not is_decimal(token):  # ASCII: `²`.isdigit() is true and int('²') fails
        raise _invalid(expr, f"'{token}' is not a valid value for {field}")
    v = int(token)
    if not low <= v <= high:
        raise _invalid(expr, f"{field} value {v} is out of range ({low}-{high})")
    return v


def _check_field(text: str, index: int, expr: str) -> str:
    field, low, high, names = _FIELDS[index]
    if text == "?":
        if field not in ("day-of-month", "day-of-week"):
            raise _invalid(expr, f"'?' is only allowed in day-of-month and day-of-week, not in {field}")
        return "*"
    for part in text.split(","):
        base, slash, step = part.partition("/")
        if slash and (not is_decimal(step) or int(step) == 0):
            raise _invalid(expr, f"'{part}' has an invalid step in {field}")
        if base == "*":
            continue
        lo_text, dash, hi_text = base.partition("-")
        lo = _value(lo_text, low, high, names, field, expr)
        if dash:
            hi = _value(hi_text, low, high, names, field, expr)
            if hi < lo:
                raise _invalid(expr, f"'{base}' is an empty range in {field}")
    return text


def _parse_every(text: str, expr: str) -> timedelta:
    m = _DURATION.fullmatch(text)
    if not text or not m or not any(m.groups()):
        raise _invalid(expr, f"'{text}' is not a duration (examples: 1m, 1h30m, 90s)")
    h, mi, s = (float(g) if g else 0.0 for g in m.groups())
    seconds = h * 3600 + mi * 60 + s
    if seconds > MAX_EVERY.total_seconds():  # timedelta() of it would raise OverflowError
        raise _invalid(expr, f"the interval of @every must be at most {int(MAX_EVERY.total_seconds() // 3600)}h")
    delta = timedelta(seconds=seconds)
    if delta < timedelta(seconds=1):
        raise _invalid(expr, "the interval of @every must be at least 1s")
    return timedelta(seconds=int(delta.total_seconds()))  # whole seconds, like Go's cron


def parse(expr: str) -> Schedule:
    """Parse FC's `cronExpression`; ValueError (FC's message) when it is not valid."""
    if not isinstance(expr, str) or not expr.strip():
        raise ValueError("cronExpression is required")
    text = expr.strip()
    zone = None
    m = _TZ.fullmatch(text)
    if m:
        name = m.group(1)
        try:
            if len(name) > 64 or not _ZONE.fullmatch(name):  # a file name under the zoneinfo folder
                raise ValueError(name)
            zone = ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            raise _invalid(expr, f"unknown time zone '{name[:100]}'") from None
        text = m.group(2).strip()
    every = _EVERY.fullmatch(text)
    if every:
        return Schedule(expr, zone, every=_parse_every(every.group(1), expr))
    if text.startswith("@"):
        raise _invalid(expr, "the only descriptor supported is '@every <duration>'")
    fields = text.split()
    if len(fields) != 6:
        raise _invalid(expr, f"expected 6 fields (seconds minutes hours day-of-month month day-of-week), "
                             f"got {len(fields)}")
    checked = [_check_field(f, i, expr) for i, f in enumerate(fields)]
    spec = " ".join(checked[1:] + checked[:1])  # croniter puts seconds last
    if not croniter.is_valid(spec):
        raise _invalid(expr, "the fields do not form a valid schedule")
    return Schedule(expr, zone, cron=spec)


def validate(expr: str) -> str:
    """The expression unchanged when FC would accept it; ValueError(FC's message) otherwise."""
    parse(expr)
    return expr


def _aware(dt: datetime) -> datetime:
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt


def next_fires(expr: str | Schedule, after: datetime, count: int, tz: tzinfo | None = None) -> list[datetime]:
    """The next `count` fire times strictly after `after`, as aware UTC datetimes.

    Cron fields are read in the expression's CRON_TZ zone, else in `tz`, else UTC (FC's default).
    A naive `after` is taken as UTC. `@every` fires at the multiples of its interval since the Unix
    epoch, so every process computes the same moments (the scheduler's de-duplication relies on it).
    A schedule that can never fire (`0 0 0 31 2 *`) gives [].
    """
    sched = expr if isinstance(expr, Schedule) else parse(expr)
    start = _aware(after)
    if sched.every is not None:
        step = sched.every.total_seconds()
        first = (int(start.timestamp() // step) + 1) * step
        return [datetime.fromtimestamp(first + step * i, UTC) for i in range(count)]
    zone = sched.tz or tz or UTC
    it = croniter(sched.cron, start.astimezone(zone))
    out: list[datetime] = []
    try:
        for _ in range(count):
            out.append(it.get_next(datetime).astimezone(UTC))
    except (CroniterBadDateError, CroniterError):
        pass  # no further matching date (e.g. February 31st)
    return out


def prev_fire(expr: str | Schedule, at: datetime, tz: tzinfo | None = None) -> datetime | None:
    """The latest fire time at or before `at` (aware, UTC), or None."""
    sched = expr if isinstance(expr, Schedule) else parse(expr)
    moment = _aware(at)
    if sched.every is not None:
        step = sched.every.total_seconds()
        return datetime.fromtimestamp(int(moment.timestamp() // step) * step, UTC)
    zone = sched.tz or tz or UTC
    it = croniter(sched.cron, (moment + timedelta(seconds=1)).replace(microsecond=0).astimezone(zone))
    try:
        return it.get_prev(datetime).astimezone(UTC)
    except (CroniterBadDateError, CroniterError):
        return None


def next_fire(expr: str | Schedule, after: datetime, tz: tzinfo | None = None) -> datetime | None:
    """The next fire time strictly after `after` (aware, UTC), or None if there is none."""
    fires = next_fires(expr, after, 1, tz)
    return fires[0] if fires else None
