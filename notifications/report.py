"""The weekly report's figures, computed with database aggregates.

A week can hold hundreds of thousands of executions (an every-minute task
alone makes ten thousand), so every figure is a GROUP BY or SUM in the
database; Python only sees one row per task, the capped list of failures and
the backups. The window is on `created_at`, which is indexed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from django.conf import settings
from django.db.models import Avg, BigIntegerField, Count, Max, Q, QuerySet, Sum
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, Substr
from django.urls import reverse
from django.utils import timezone

from scheduling.models import ExecutionStatus, TaskExecution

REPORT_DAYS = 7
MAX_FAILURES_LISTED = 50
MAX_BACKUPS_LISTED = 20
SLOWEST_LISTED = 5

FAILURE_STATUSES = (ExecutionStatus.FAILED, ExecutionStatus.ABANDONED)
# Skipped and still-running executions are not runs with an outcome.
COUNTED_STATUSES = (ExecutionStatus.SUCCESS, *FAILURE_STATUSES)

# Which maintenance task's result holds which total (maintenance/tasks.py).
SESSIONS_TASK, SESSIONS_KEY = "cleanup_expired_sessions", "deleted"
ARCHIVE_TASK, ARCHIVE_KEY = "archive_audit_logs", "archived"
BACKUP_TASK = "backup_database"


@dataclass(frozen=True)
class TaskFigures:
    name: str
    runs: int
    successes: int
    failures: int
    avg_ms: float | None
    max_ms: int | None

    @property
    def success_rate(self) -> float | None:
        return self.successes / self.runs if self.runs else None

    @property
    def url(self) -> str:
        return settings.SITE_URL + reverse("scheduling:task-detail", args=[self.name])


@dataclass(frozen=True)
class FailureItem:
    execution_id: int
    task_name: str
    when: datetime
    status: str
    headline: str

    @property
    def url(self) -> str:
        path = reverse("scheduling:execution-detail", args=[self.task_name, self.execution_id])
        return settings.SITE_URL + path


@dataclass(frozen=True)
class BackupItem:
    when: datetime
    path: str
    bytes: int | None


@dataclass
class WeeklyReport:
    start: datetime
    end: datetime
    tasks: list[TaskFigures] = field(default_factory=list)
    failures: list[FailureItem] = field(default_factory=list)
    failures_total: int = 0
    sessions_removed: int = 0
    rows_archived: int = 0
    backups: list[BackupItem] = field(default_factory=list)
    backups_total: int = 0
    backup_bytes: int = 0

    @property
    def total_runs(self) -> int:
        return sum(t.runs for t in self.tasks)

    @property
    def total_failures(self) -> int:
        return sum(t.failures for t in self.tasks)

    @property
    def success_rate(self) -> float | None:
        runs = self.total_runs
        return (runs - self.total_failures) / runs if runs else None

    @property
    def slowest(self) -> list[TaskFigures]:
        timed = [t for t in self.tasks if t.max_ms is not None]
        return sorted(timed, key=lambda t: t.max_ms, reverse=True)[:SLOWEST_LISTED]

    @property
    def failures_not_listed(self) -> int:
        return self.failures_total - len(self.failures)

    @property
    def site_url(self) -> str:
        return settings.SITE_URL

    @property
    def export_query(self) -> str:
        """`since=...&until=...` for a task's history.csv: exactly the runs this report counts."""
        window = {"since": self.start, "until": self.end}
        return urlencode(
            {key: moment.astimezone(UTC).isoformat() for key, moment in window.items()}
        )


def build(now: datetime | None = None, days: int = REPORT_DAYS) -> WeeklyReport:
    """The report for the `days` days before `now`."""
    end = now or timezone.now()
    start = end - timedelta(days=days)
    window = TaskExecution.objects.filter(created_at__gte=start, created_at__lt=end)
    report = WeeklyReport(start=start, end=end, tasks=task_figures(window))
    report.failures, report.failures_total = failures(window)
    report.sessions_removed = result_total(window, SESSIONS_TASK, SESSIONS_KEY)
    report.rows_archived = result_total(window, ARCHIVE_TASK, ARCHIVE_KEY)
    report.backups, report.backups_total, report.backup_bytes = backups(window)
    return report


def task_figures(window: QuerySet[TaskExecution]) -> list[TaskFigures]:
    """Runs, successes, failures and durations per task, in one GROUP BY."""
    rows = (
        window.filter(status__in=COUNTED_STATUSES)
        .values("task__name")
        .annotate(
            runs=Count("pk"),
            successes=Count("pk", filter=Q(status=ExecutionStatus.SUCCESS)),
            failures=Count("pk", filter=Q(status__in=FAILURE_STATUSES)),
            avg_ms=Avg("duration_ms"),
            max_ms=Max("duration_ms"),
        )
        .order_by("task__name")
    )
    return [
        TaskFigures(
            name=row["task__name"],
            runs=row["runs"],
            successes=row["successes"],
            failures=row["failures"],
            avg_ms=row["avg_ms"],
            max_ms=row["max_ms"],
        )
        for row in rows
    ]


def failures(window: QuerySet[TaskExecution]) -> tuple[list[FailureItem], int]:
    """The newest failures (capped) and how many there were in all."""
    failed = window.filter(status__in=FAILURE_STATUSES)
    rows = (
        failed.order_by("-created_at", "-pk")
        # Only the start of each error: a stored traceback can be 64 KiB.
        .annotate(error_start=Substr("error", 1, 300))
        .values("pk", "task__name", "created_at", "finished_at", "status", "error_start")[
            :MAX_FAILURES_LISTED
        ]
    )
    items = [
        FailureItem(
            execution_id=row["pk"],
            task_name=row["task__name"],
            when=row["finished_at"] or row["created_at"],
            status=row["status"],
            headline=(row["error_start"] or "").strip().split("\n", 1)[0],
        )
        for row in rows
    ]
    return items, failed.count()


def _result_int(key: str) -> Cast:
    return Cast(KeyTextTransform(key, "result"), BigIntegerField())


def result_total(window: QuerySet[TaskExecution], task_name: str, key: str) -> int:
    """Sum of the integer `result[key]` over the window's successful runs of `task_name`."""
    runs = window.filter(task__name=task_name, status=ExecutionStatus.SUCCESS)
    return runs.aggregate(total=Sum(_result_int(key)))["total"] or 0


def backups(window: QuerySet[TaskExecution]) -> tuple[list[BackupItem], int, int]:
    """The week's backups (newest first, capped), their count and their total size."""
    runs = window.filter(task__name=BACKUP_TASK, status=ExecutionStatus.SUCCESS)
    totals = runs.aggregate(count=Count("pk"), size=Sum(_result_int("bytes")))
    rows = (
        runs.order_by("-created_at", "-pk")
        .annotate(path=KeyTextTransform("path", "result"), size=_result_int("bytes"))
        .values("created_at", "finished_at", "path", "size")[:MAX_BACKUPS_LISTED]
    )
    items = [
        BackupItem(
            when=row["finished_at"] or row["created_at"], path=row["path"] or "", bytes=row["size"]
        )
        for row in rows
    ]
    return items, totals["count"], totals["size"] or 0
