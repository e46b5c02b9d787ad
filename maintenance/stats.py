"""Daily sync statistics, recomputed for the days whose sync records changed."""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Count, Q, Sum
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from chirpsyncer.models import DailySyncStat, SyncRecord
from maintenance.models import Watermark

logger = logging.getLogger(__name__)

WATERMARK = "aggregate_daily_stats"
# Records are stamped when saved but may commit a little later; the next run
# looks back this far before the previous run's start so none slips between.
# Recomputing a day twice is harmless: the upsert is idempotent.
COMMIT_LAG = timedelta(minutes=10)
UPSERT_BATCH = 500
# Upserted as they accumulate, so memory stays flat on a first run over years.
FLUSH_ROWS = 5000
STAT_FIELDS = ["total_syncs", "successful_syncs", "failed_syncs", "posts_synced", "updated_at"]


def changed_days(since: datetime | None, tz: ZoneInfo) -> list[date]:
    """Local dates (in `tz`) of sync records added or changed at or after `since` (all if None)."""
    records = SyncRecord.objects.all()
    if since is not None:
        records = records.filter(updated_at__gte=since)
    days = records.annotate(day=TruncDate("started_at", tzinfo=tz)).values_list("day", flat=True)
    return sorted(set(days.order_by().distinct()))


def day_stats(day: date, tz: ZoneInfo) -> list[DailySyncStat]:
    """One DailySyncStat per user for local `day`, aggregated by the database."""
    start = datetime.combine(day, time.min, tzinfo=tz)
    end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=tz)
    rows = (
        SyncRecord.objects.filter(started_at__gte=start, started_at__lt=end)
        .order_by()
        .values("user_id")
        .annotate(
            total=Count("id"),
            ok=Count("id", filter=Q(success=True)),
            posts=Coalesce(Sum("posts_synced"), 0),
        )
    )
    return [
        DailySyncStat(
            user_id=row["user_id"],
            date=day,
            total_syncs=row["total"],
            successful_syncs=row["ok"],
            failed_syncs=row["total"] - row["ok"],
            posts_synced=row["posts"],
        )
        for row in rows
    ]


def upsert(stats: list[DailySyncStat]) -> int:
    """Insert or update rows by (user, date) in bulk statements; returns how many."""
    DailySyncStat.objects.bulk_create(
        stats,
        batch_size=UPSERT_BATCH,
        update_conflicts=True,
        unique_fields=["user", "date"],
        update_fields=STAT_FIELDS,
    )
    return len(stats)


def aggregate_changed_days() -> dict:
    """Upsert DailySyncStat for every local day with new or changed sync records.

    1. Read the watermark (absent on the first run: every day is recomputed).
    2. Find the local days of records whose `updated_at` is at or after it.
    3. Aggregate each such day in the database (GROUP BY user).
    4. Upsert the results in bulk (every FLUSH_ROWS rows), then move the watermark.
    """
    started = timezone.now()
    tz = ZoneInfo(settings.TIME_ZONE)
    mark = Watermark.objects.filter(name=WATERMARK).first()
    since = mark.value if mark else None
    days = changed_days(since, tz)
    pending: list[DailySyncStat] = []
    upserted = 0
    for number, day in enumerate(days, start=1):
        pending.extend(day_stats(day, tz))
        if len(pending) >= FLUSH_ROWS or number == len(days):
            upserted += upsert(pending)
            pending = []
        if number % 100 == 0:
            logger.info("Aggregated %d of %d days (%d rows upserted)", number, len(days), upserted)
    Watermark.objects.update_or_create(name=WATERMARK, defaults={"value": started - COMMIT_LAG})
    logger.info("Upserted %d daily stats over %d days", upserted, len(days))
    return {
        "days": len(days),
        "upserted": upserted,
        "first_day": days[0].isoformat() if days else None,
        "last_day": days[-1].isoformat() if days else None,
        "since": since.isoformat() if since else None,
    }
