"""Crontab expressions as Vixie/Debian cron reads them, evaluated by cronsim.

Validation is ours because users need messages that name the field, the bad
value and the allowed range (`minute: 61 is out of range 0-59`); evaluation is
cronsim's, which gets day-of-month/day-of-week OR semantics and DST right (a
daily job fires once on both change days). APScheduler 3's CronTrigger must not
see crontab text: it numbers weekdays from Monday and ANDs the day fields.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from cron_descriptor import Options, get_description
from cronsim import CronSim, CronSimError
from django.core.exceptions import ValidationError
from django.utils import timezone as dj_timezone

MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}

MONTH_NAMES = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
DAY_NAMES = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]

# (name, low, high, names mapped to numbers)
FIELDS = [
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day-of-month", 1, 31, {}),
    ("month", 1, 12, {n: i + 1 for i, n in enumerate(MONTH_NAMES)}),
    ("day-of-week", 0, 7, {n: i for i, n in enumerate(DAY_NAMES)}),
]

_TERM = re.compile(r"^(?P<range>\*|[A-Za-z0-9]+(?:-[A-Za-z0-9]+)?)(?:/(?P<step>[^/]*))?$")


def _error(message: str) -> ValidationError:
    return ValidationError(message, code="invalid_cron")


def _value(field: str, token: str, low: int, high: int, names: dict[str, int]) -> int:
    if token.upper() in names:
        return names[token.upper()]
    if not token.isdigit():
        allowed = f"{low}-{high}" + (f" or {names and '/'.join(names)}" if names else "")
        raise _error(f"{field}: {token!r} is not a number or name (allowed {allowed})")
    number = int(token)
    if not low <= number <= high:
        raise _error(f"{field}: {number} is out of range {low}-{high}")
    return number


def _check_field(field: str, text: str, low: int, high: int, names: dict[str, int]) -> None:
    for term in text.split(","):
        match = _TERM.match(term)
        if not term or not match:
            raise _error(f"{field}: {term!r} is not a valid term (use *, N, N-M, lists, /step)")
        step = match["step"]
        if step is not None and (not step.isdigit() or int(step) < 1):
            raise _error(f"{field}: step {step!r} must be a positive whole number")
        if match["range"] == "*":
            continue
        start, _, end = match["range"].partition("-")
        first = _value(field, start, low, high, names)
        if end:
            last = _value(field, end, low, high, names)
            if last < first:
                raise _error(f"{field}: range {start}-{end} runs backwards")


@functools.lru_cache(maxsize=4096)  # every fire and trigger re-validated the same few texts
def normalize(expression: str) -> str:
    """Return the 5-field form of `expression` (macros expanded), or raise ValidationError."""
    text = " ".join((expression or "").split())
    if not text:
        raise _error("cron expression: it is empty")
    if text.startswith("@"):
        if text.lower() not in MACROS:
            raise _error(f"cron expression: unknown macro {text!r} (allowed {', '.join(MACROS)})")
        return MACROS[text.lower()]
    parts = text.split(" ")
    if len(parts) != 5:
        raise _error(
            f"cron expression: expected 5 fields (minute hour day-of-month month day-of-week), "
            f"got {len(parts)}"
        )
    for part, (field, low, high, names) in zip(parts, FIELDS, strict=True):
        _check_field(field, part, low, high, names)
    try:
        CronSim(text, datetime(2000, 1, 1, tzinfo=ZoneInfo("UTC")))
    except CronSimError as exc:  # e.g. "0 0 30 2 *": can never fire
        raise _error(f"cron expression: {text!r} is not valid ({exc})") from exc
    return text


def validate(expression: str) -> str:
    """Validate and return the expression as the user wrote it, whitespace tidied."""
    normalize(expression)
    return " ".join(expression.split())


def validate_timezone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError, TypeError):
        raise ValidationError(
            f"timezone: {name!r} is not an IANA time zone name (e.g. Europe/Madrid)",
            code="invalid_timezone",
        ) from None


def iter_fire_times(expression: str, tz: str | ZoneInfo, after: datetime) -> Iterator[datetime]:
    """Fire times strictly after `after`, as aware datetimes in `tz`."""
    zone = tz if isinstance(tz, ZoneInfo) else validate_timezone(tz)
    start = after.astimezone(zone)
    # cronsim yields times >= start; cron semantics here are "strictly after".
    start = start.replace(microsecond=0) + timedelta(seconds=1)
    return iter(CronSim(normalize(expression), start))


def next_fire_time(expression: str, tz: str | ZoneInfo, after: datetime) -> datetime | None:
    try:
        return next(iter_fire_times(expression, tz, after))
    except StopIteration:
        return None


def next_fire_times(
    expression: str, tz: str | ZoneInfo, count: int = 5, after: datetime | None = None
) -> list[datetime]:
    times = iter_fire_times(expression, tz, after or dj_timezone.now())
    return [t for _, t in zip(range(count), times, strict=False)]


def describe(expression: str) -> str:
    """Human-readable description ("At 04:00 AM, only on Sunday")."""
    text = normalize(expression)
    options = Options()
    options.use_24hour_time_format = True
    options.day_of_week_start_index_zero = True
    return get_description(text, options)
