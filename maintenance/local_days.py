"""Local calendar days of UTC timestamps, in SQL that SQLite and PostgreSQL both run.

SQLite knows no time zones, and PostgreSQL's tz database need not be
Python's, so both databases compute a local date the same way: a zone's UTC
offset is constant between two changes (DST, or a change of law); Python's
zoneinfo finds the changes near the days at hand, and the SQL adds the
offset that applies, one CASE branch per change:

    date(started_at, CASE WHEN started_at < '2025-03-30 01:00:00'
                          THEN '+3600 seconds' ELSE '+7200 seconds' END)

Rows of some local days are selected by a UTC window wide enough for every
offset in use (an hour wider on DST days), then by that date: where clocks
go back across midnight (historical in a few zones), one UTC window would
not hold a local day's rows exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

# Offsets are sampled this often when looking for a change; no zone changes
# twice within it.
PROBE = timedelta(hours=6)


def local_date(moment: datetime, tz: ZoneInfo) -> date:
    return moment.astimezone(tz).date()


def offsets(start: datetime, end: datetime, tz: ZoneInfo) -> list[tuple[datetime | None, int]]:
    """[(until, seconds)]: `tz`'s UTC offset, in seconds, for instants before each `until`.

    Covers [start, end]; the last entry's `until` is None (no end).
    """
    spans: list[tuple[datetime | None, int]] = []
    moment = start.replace(microsecond=0)
    current = _offset(moment, tz)
    while moment < end:
        probe = min(moment + PROBE, end)
        if _offset(probe, tz) == current:
            moment = probe
            continue
        moment = _first_change(moment, probe, current, tz)
        spans.append((moment, current))
        current = _offset(moment, tz)
    return [*spans, (None, current)]


def _offset(moment: datetime, tz: ZoneInfo) -> int:
    return int(moment.astimezone(tz).utcoffset().total_seconds())


def _first_change(before: datetime, after: datetime, offset: int, tz: ZoneInfo) -> datetime:
    """The first whole second after `before` (and at most `after`) with another offset.

    Zones change offset on whole seconds, so a binary search over seconds is exact.
    """
    low, high = 0, math.ceil((after - before).total_seconds())
    while high - low > 1:
        middle = (low + high) // 2
        if _offset(before + timedelta(seconds=middle), tz) == offset:
            low = middle
        else:
            high = middle
    return before + timedelta(seconds=high)


@dataclass
class LocalDays:
    """`column`'s local date in SQL, and filters for rows of some local days.

    Valid for instants whose local date is within the [first, last] it was
    built for. `sql` (with `params`) is the date.
    """

    column: str
    sql: str
    params: list[Any]
    lowest_offset: int
    highest_offset: int
    connection: Any

    @classmethod
    def build(
        cls, column: str, first: date, last: date, tz: ZoneInfo, connection: Any
    ) -> LocalDays:
        # Offsets are within a day of zero, so these bounds hold every instant of the days.
        start = datetime.combine(first, time.min, tzinfo=UTC) - timedelta(days=2)
        end = datetime.combine(last, time.min, tzinfo=UTC) + timedelta(days=3)
        spans = offsets(start, end, tz)
        if connection.vendor == "sqlite":
            shift = [f"'{seconds:+d} seconds'" for _, seconds in spans]
        elif connection.vendor == "postgresql":
            shift = [str(seconds) for _, seconds in spans]
        else:
            raise NotImplementedError(
                f"SQLite and PostgreSQL are supported, not {connection.vendor}"
            )
        offset = shift[-1]
        if len(spans) > 1:
            branches = [f"WHEN {column} < %s THEN {shift[i]}" for i in range(len(spans) - 1)]
            offset = f"CASE {' '.join(branches)} ELSE {offset} END"
        if connection.vendor == "sqlite":
            # Whole seconds (Django's text, cut after the seconds): SQLite's date
            # functions round to milliseconds, which would put 23:59:59.9999 on
            # the next day. Offsets are whole seconds, so the date is the same.
            sql = f"date(substr({column}, 1, 19), {offset})"
        else:
            sql = f"(({column} AT TIME ZONE 'UTC') + interval '1 second' * ({offset}))::date"
        adapt = connection.ops.adapt_datetimefield_value
        params = [adapt(until) for until, _ in spans[:-1]]
        seconds = [seconds for _, seconds in spans]
        return cls(column, sql, params, min(seconds), max(seconds), connection)

    def window(self, first: date, last: date) -> tuple[datetime, datetime]:
        """[start, end) in UTC: every instant whose local date is within [first, last]."""
        start = datetime.combine(first, time.min, tzinfo=UTC)
        end = datetime.combine(last + timedelta(days=1), time.min, tzinfo=UTC)
        return (
            start - timedelta(seconds=self.highest_offset),
            end - timedelta(seconds=self.lowest_offset),
        )

    def rows_within(self, runs: list[tuple[date, date]]) -> tuple[str, list[Any]]:
        """A filter on `column`: instants whose local date may be in one of `runs`.

        Exact when one offset applies throughout; otherwise it holds a few
        more rows, which `dates_within` leaves out.
        """
        adapt = self.connection.ops.adapt_datetimefield_value
        sql = " OR ".join([f"({self.column} >= %s AND {self.column} < %s)"] * len(runs))
        return f"({sql})", [adapt(moment) for run in runs for moment in self.window(*run)]

    def dates_within(self, runs: list[tuple[date, date]], alias: str) -> tuple[str, list[Any]]:
        """A filter on `alias` (this local date, computed): within one of `runs`."""
        if self.lowest_offset == self.highest_offset:
            return "1 = 1", []  # rows_within is exact
        adapt = self.connection.ops.adapt_datefield_value
        sql = " OR ".join([f"({alias} >= %s AND {alias} <= %s)"] * len(runs))
        return f"({sql})", [adapt(day) for run in runs for day in run]
