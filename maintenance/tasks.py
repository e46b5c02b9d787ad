"""The scheduled maintenance tasks (names and default schedules are contract).

Each function is a thin entry point: it reads its thresholds from its
arguments (so a Task's `kwargs` can change them) with defaults from
settings, calls the module that owns the concern, and returns a small
JSON-able dict. Failures raise; the runner records the traceback.
"""

from __future__ import annotations

from django.conf import settings

from maintenance import archive, backup, credentials, errorlogs, executions, sessions, stats
from scheduling.registry import scheduled_task


@scheduled_task(
    name="cleanup_expired_sessions",
    schedule="0 * * * *",
    description="Delete expired login sessions, in short batches.",
)
def cleanup_expired_sessions(batch_size: int | None = None) -> dict:
    """Remove expired sessions through the configured session engine."""
    return sessions.clear_expired_sessions(batch_size=batch_size)


@scheduled_task(
    name="archive_audit_logs",
    schedule="0 2 * * *",
    description="Move old audit-log rows into verified gzip JSON Lines files in ARCHIVE_DIR.",
)
def archive_audit_logs(days_old: int | None = None, rows_per_file: int | None = None) -> dict:
    """Archive audit-log rows older than `days_old` days (default AUDIT_LOG_RETENTION_DAYS, 90)."""
    days = settings.AUDIT_LOG_RETENTION_DAYS if days_old is None else days_old
    return archive.archive_old_audit_logs(days, rows_per_file=rows_per_file)


@scheduled_task(
    name="backup_database",
    schedule="0 3 * * *",
    description="Consistent online backup of the database into BACKUP_DIR, checked and rotated.",
)
def backup_database(keep: int | None = None, gzip: bool | None = None) -> dict:
    """Back up the database; keeps the newest `keep` (default BACKUP_KEEP) backups."""
    return backup.backup_default_database(keep=keep, compress=gzip)


@scheduled_task(
    name="cleanup_inactive_credentials",
    schedule="0 5 1 * *",
    description="Deactivate credentials unused for months, with an audit-log row for each.",
)
def cleanup_inactive_credentials(months: int | None = None) -> dict:
    """Deactivate credentials unused for `months` calendar months (default 6)."""
    months = settings.CREDENTIAL_INACTIVE_MONTHS if months is None else months
    return credentials.deactivate_inactive_credentials(months)


@scheduled_task(
    name="aggregate_daily_stats",
    schedule="0 1 * * *",
    description="Recompute per-user daily sync statistics for days with new or changed records.",
)
def aggregate_daily_stats() -> dict:
    """Upsert DailySyncStat for every day whose sync records changed since the last run."""
    return stats.aggregate_changed_days()


@scheduled_task(
    name="cleanup_error_logs",
    schedule="0 4 * * 0",
    description="Delete old error-log rows, in short batches.",
)
def cleanup_error_logs(days_old: int | None = None, batch_size: int | None = None) -> dict:
    """Delete error logs older than `days_old` days (default ERROR_LOG_RETENTION_DAYS, 30)."""
    days = settings.ERROR_LOG_RETENTION_DAYS if days_old is None else days_old
    return errorlogs.delete_old_error_logs(days, batch_size=batch_size)


@scheduled_task(
    name="prune_task_executions",
    schedule="30 4 * * *",
    description="Delete old task history, always keeping each task's newest 20 runs.",
)
def prune_task_executions(
    retention_days: int | None = None, keep_per_task: int = executions.KEEP_PER_TASK
) -> dict:
    """Keep EXECUTION_RETENTION_DAYS (default 90) of history, and always the newest 20 per task."""
    days = settings.EXECUTION_RETENTION_DAYS if retention_days is None else retention_days
    return executions.prune_executions(days, keep_per_task=keep_per_task)
