"""The daily stats table as the tests compare it, and what it should hold."""

from collections import defaultdict
from zoneinfo import ZoneInfo

from chirpsyncer.models import DailySyncStat, SyncRecord


def table() -> list[tuple]:
    """(user, date, total, successful, failed, posts) for every DailySyncStat row."""
    return list(
        DailySyncStat.objects.order_by("user_id", "date").values_list(
            "user_id", "date", "total_syncs", "successful_syncs", "failed_syncs", "posts_synced"
        )
    )


def expected_table(time_zone: str) -> list[tuple]:
    """The same rows computed in Python from the sync records, local days by zoneinfo."""
    tz = ZoneInfo(time_zone)
    sums: dict[tuple, list[int]] = defaultdict(lambda: [0, 0, 0])
    for record in SyncRecord.objects.all():
        row = sums[(record.user_id, record.started_at.astimezone(tz).date())]
        row[0] += 1
        row[1] += record.success
        row[2] += record.posts_synced
    return sorted((user, day, n, ok, n - ok, posts) for (user, day), (n, ok, posts) in sums.items())
