"""Error-log retention."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone

from chirpsyncer.models import ErrorLog
from maintenance.batching import delete_in_batches


def error_log_cutoff(days_old: int, now: datetime | None = None) -> datetime:
    """Rows created strictly before this instant are old enough to delete."""
    if days_old < 0:
        raise ValueError(f"days_old must be zero or more, got {days_old}")
    return (now or timezone.now()) - timedelta(days=days_old)


def delete_old_error_logs(days_old: int, batch_size: int | None = None) -> dict:
    """Delete error logs older than `days_old` days, in short batched transactions."""
    cutoff = error_log_cutoff(days_old)
    stats = delete_in_batches(
        ErrorLog.objects.all(),
        key="created_at",
        before=cutoff,
        batch_size=batch_size,
        label="old error logs",
    )
    return {
        "deleted": stats.deleted,
        "batches": stats.batches,
        "longest_batch_ms": round(stats.longest_batch_seconds * 1000),
        "cutoff": cutoff.isoformat(),
    }
