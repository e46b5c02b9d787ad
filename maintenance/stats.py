"""Daily sync statistics, recomputed in the database for the local days that changed.

Which days (local dates in TIME_ZONE, `maintenance.local_days`):
- days of records added or saved since the last run (`updated_at` past the
  watermark; without a watermark, every day from the first record's to the
  last one's);
- days of records deleted, or changed by `update()` or raw SQL, which
  database triggers note in SyncRecordChange (`maintenance.sync_changes`).

Each batch of days is one short transaction of set-based statements:
1. for the changes noted on those days, delete their (user, day) rows and
   the notes;
2. `INSERT ... SELECT ... GROUP BY user, day ON CONFLICT (user, date) DO
   UPDATE` for the days.
So a user's day with no records left loses its row (removed, not zeroed).
A run without a watermark also removes every row it did not refresh.
Running it again changes nothing: the upsert is idempotent.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max, Min, QuerySet
from django.utils import timezone

from chirpsyncer.models import DailySyncStat, SyncRecord
from maintenance.batch_loop import run_batches
from maintenance.batching import delete_in_batches
from maintenance.local_days import LocalDays, local_date
from maintenance.models import SyncRecordChange, Watermark

logger = logging.getLogger(__name__)

WATERMARK = "aggregate_daily_stats"
# Records are stamped when saved but may commit a little later; the next run
# looks back this far before the previous run's start so none slips between.
# Recomputing a day twice is harmless: the upsert is idempotent.
COMMIT_LAG = timedelta(minutes=10)
# Days per batch at first; batches adapt to take 0.1-0.5 s (maintenance.batch_loop).
DAYS_PER_BATCH = 16


def aggregate_changed_days() -> dict:
    """Recompute DailySyncStat for every local day with new, changed or deleted sync records."""
    started = timezone.now()
    tz = ZoneInfo(settings.TIME_ZONE)
    mark = Watermark.objects.filter(name=WATERMARK).first()
    since = mark.value if mark else None
    days = sorted(days_to_recompute(since, tz))
    pending, upserted = list(days), 0

    def step(size: int) -> tuple[int, bool]:
        nonlocal pending, upserted
        batch, pending = pending[:size], pending[size:]
        if batch:
            upserted += recompute(batch, tz)
        return len(batch), not pending

    run = run_batches(step, size=DAYS_PER_BATCH, smallest=1, what="daily stats: days recomputed")
    removed = 0
    if since is None:  # every day was recomputed: any row not refreshed is stale
        stale = DailySyncStat.objects.filter(updated_at__lt=started)
        removed = delete_in_batches(stale, label="daily stats not refreshed").deleted
    Watermark.objects.update_or_create(name=WATERMARK, defaults={"value": started - COMMIT_LAG})
    logger.info(
        "Upserted %d daily stats over %d days in %d batches (longest %.3f s), removed %d",
        upserted,
        len(days),
        run.batches,
        run.longest_batch_seconds,
        removed,
    )
    return {
        "days": len(days),
        "upserted": upserted,
        "removed": removed,
        "first_day": days[0].isoformat() if days else None,
        "last_day": days[-1].isoformat() if days else None,
        "since": since.isoformat() if since else None,
    }


def days_to_recompute(since: datetime | None, tz: ZoneInfo) -> set[date]:
    """Local days with records saved at or after `since` (None: all days) or noted as changed."""
    days = distinct_days(SyncRecordChange.objects.all(), tz)
    if since is not None:
        return days | distinct_days(SyncRecord.objects.filter(updated_at__gte=since), tz)
    bounds = _first_and_last(SyncRecord.objects.all(), tz)
    if bounds is None:
        return days
    first, last = bounds
    return days | {first + timedelta(days=n) for n in range((last - first).days + 1)}


def distinct_days(rows: QuerySet, tz: ZoneInfo) -> set[date]:
    """The local dates of `rows`' `started_at`, computed by the database."""
    bounds = _first_and_last(rows, tz)
    if bounds is None:
        return set()
    first, last = bounds
    local = LocalDays.build(_qn("started_at"), first, last, tz, connection)
    inner, params = rows.order_by().values("started_at").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT DISTINCT {local.sql} FROM ({inner}) AS picked", local.params + list(params)
        )
        return {_as_date(value) for (value,) in cursor.fetchall()}


def _first_and_last(rows: QuerySet, tz: ZoneInfo) -> tuple[date, date] | None:
    """Local dates of the first and last `started_at` of `rows`; None if there are no rows.

    Two queries: SQLite reads min() or max() straight from the index only when
    the query asks for one of them.
    """
    first = rows.aggregate(value=Min("started_at"))["value"]
    if first is None:
        return None
    return local_date(first, tz), local_date(rows.aggregate(value=Max("started_at"))["value"], tz)


def recompute(days: list[date], tz: ZoneInfo) -> int:
    """Recompute the stats of `days` (sorted) in one transaction; returns rows upserted."""
    local = LocalDays.build(_qn("started_at"), days[0], days[-1], tz, connection)
    runs = _consecutive_runs(days)
    rows, on_days = local.rows_within(runs), local.dates_within(runs, "day")
    with transaction.atomic(), connection.cursor() as cursor:
        _forget_noted_changes(cursor, local, rows, on_days)
        cursor.execute(*_upsert(local, rows, on_days))
        return cursor.rowcount


Filter = tuple[str, list[Any]]


def _forget_noted_changes(cursor: Any, local: LocalDays, rows: Filter, on_days: Filter) -> None:
    """Delete the stat rows of the (user, day) pairs noted as changed on these days, and the notes.

    PostgreSQL: one statement, the stat rows chosen from the notes it deleted
    (a note committed meanwhile stays for the next run). SQLite lets one
    writer in at a time, so two statements see the same notes.
    """
    changes, stats = _qn(SyncRecordChange._meta.db_table), _qn(DailySyncStat._meta.db_table)
    pair = f"({_qn('user_id')}, {_qn('date')})"
    noted = (
        f"SELECT * FROM (SELECT {_qn('id')}, {_qn('user_id')}, {local.sql} AS day FROM {changes} "
        f"WHERE {rows[0]}) AS noted WHERE {on_days[0]}"
    )
    noted_params = local.params + rows[1] + on_days[1]
    if connection.vendor == "postgresql":
        handled = (
            f"DELETE FROM {changes} WHERE {_qn('id')} IN (SELECT id FROM ({noted}) AS n) "
            "RETURNING user_id, started_at"
        )
        cursor.execute(
            f"WITH handled AS ({handled}) DELETE FROM {stats} WHERE {pair} IN "
            f"(SELECT user_id, {local.sql} FROM handled)",
            noted_params + local.params,
        )
        return
    cursor.execute(
        f"DELETE FROM {stats} WHERE {pair} IN (SELECT user_id, day FROM ({noted}) AS n)",
        noted_params,
    )
    cursor.execute(
        f"DELETE FROM {changes} WHERE {_qn('id')} IN (SELECT id FROM ({noted}) AS n)", noted_params
    )


def _upsert(local: LocalDays, rows: Filter, on_days: Filter) -> tuple[str, list]:
    """One INSERT ... SELECT ... GROUP BY ... ON CONFLICT DO UPDATE for the days."""
    records, stats = _qn(SyncRecord._meta.db_table), _qn(DailySyncStat._meta.db_table)
    columns = ["user_id", "date", "total_syncs", "successful_syncs", "failed_syncs"]
    columns += ["posts_synced", "updated_at"]
    updates = ", ".join(f"{_qn(c)} = excluded.{_qn(c)}" for c in columns[2:])
    sql = (
        f"INSERT INTO {stats} ({', '.join(_qn(c) for c in columns)}) "
        "SELECT user_id, day, total, ok, total - ok, posts, %s FROM ("
        f"SELECT {_qn('user_id')} AS user_id, {local.sql} AS day, count(*) AS total, "
        f"count(*) FILTER (WHERE {_qn('success')}) AS ok, "
        f"coalesce(sum({_qn('posts_synced')}), 0) AS posts "
        f"FROM {records} WHERE {rows[0]} GROUP BY 1, 2) AS per_day WHERE {on_days[0]} "
        f"ON CONFLICT ({_qn('user_id')}, {_qn('date')}) DO UPDATE SET {updates}"
    )
    stamp = connection.ops.adapt_datetimefield_value(timezone.now())
    return sql, [stamp, *local.params, *rows[1], *on_days[1]]


def _consecutive_runs(days: list[date]) -> list[tuple[date, date]]:
    """[(first, last)] of the runs of consecutive days in sorted `days`."""
    runs: list[tuple[date, date]] = []
    for day in days:
        if runs and day == runs[-1][1] + timedelta(days=1):
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs


def _as_date(value: date | str) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)


def _qn(name: str) -> str:
    return connection.ops.quote_name(name)
