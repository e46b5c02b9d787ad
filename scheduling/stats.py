"""Per-task figures for the task pages and the status API, in a fixed number of queries.

Counters live on `Task`; what they cannot answer (the last seven days, the
shape of recent runs, what is running right now) comes from two queries
whose cost depends on the number of tasks and recent runs, never on the size
of the whole history:

1. `weekly_counts`: one GROUP BY over executions created in the last 7 days
   (an id range found through the `created_at` index).
2. `recent_runs`: the newest N executions of each task, found by joining each
   task to its executions with `id >= the task's N-th newest id`. That cutoff
   is one probe of the (task, -id) index per task, then a short range scan;
   it needs no LATERAL and no window over the whole table, so it is fast on
   SQLite and PostgreSQL alike.

"Running now" is counted in the same GROUP BY as the weekly figures: a run
that started more than 7 days ago and still says `running` is a leftover of a
crashed process (the engine marks those abandoned), not something running.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import NamedTuple

from django.db.models import Count, F, Func, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from scheduling.models import ExecutionStatus, Task, TaskExecution

WEEK = timedelta(days=7)
RECENT_RUNS = 20


@dataclass
class WeeklyCounts:
    """Executions created in the last 7 days, by outcome."""

    total: int = 0
    success: int = 0
    failed: int = 0
    running: int = 0

    @property
    def success_rate(self) -> float | None:
        """Successes among finished-with-an-outcome runs; None when nothing finished."""
        finished = self.success + self.failed
        return None if finished == 0 else self.success / finished


class RecentRun(NamedTuple):  # a tuple: a page builds two thousand of them
    id: int
    status: str
    duration_ms: int | None


@dataclass
class TaskStats:
    weekly: WeeklyCounts = field(default_factory=WeeklyCounts)
    recent: list[RecentRun] = field(default_factory=list)  # oldest first

    @property
    def running(self) -> bool:
        return self.weekly.running > 0


def _first_id_since(since) -> Subquery:
    """The smallest execution id created at or after `since` (NULL when none).

    MIN(id + 0) rather than MIN(id): with the bare rowid SQLite walks the table
    from its first row looking for a match; the expression makes it range-scan
    the covering `created_at` index instead.
    """
    recent = TaskExecution.objects.filter(created_at__gte=since).order_by()
    return Subquery(recent.annotate(first=Func(F("id") + 0, function="MIN")).values("first"))


def weekly_counts(task_ids: Iterable[int] | None = None) -> dict[int, WeeklyCounts]:
    """Counts per task id over the last 7 days, in one query.

    For chosen tasks, `id >= first id of the week` changes nothing in the
    result (every row of the week has such an id) but turns a walk through the
    task's whole history into a short range of the (task, -id) index: 4 ms
    rather than 40 ms at 10^6 rows. For all tasks the `created_at` range alone
    is faster.
    """
    since = timezone.now() - WEEK
    rows = TaskExecution.objects.filter(created_at__gte=since)
    if task_ids is not None:
        rows = rows.filter(task_id__in=list(task_ids), id__gte=_first_id_since(since))
    rows = (
        rows.order_by()
        # Grouping by `task_id + 0` rather than the bare column stops SQLite
        # from walking the whole (task, -id) index to avoid a sort.
        .annotate(task_key=F("task_id") + 0)
        .values("task_key")
        .annotate(
            total=Count("id"),
            success=Count("id", filter=Q(status=ExecutionStatus.SUCCESS)),
            failed=Count("id", filter=Q(status=ExecutionStatus.FAILED)),
            running=Count("id", filter=Q(status=ExecutionStatus.RUNNING)),
        )
    )
    return {
        row["task_key"]: WeeklyCounts(row["total"], row["success"], row["failed"], row["running"])
        for row in rows
    }


def recent_runs(task_ids: Iterable[int], per_task: int = RECENT_RUNS) -> dict[int, list[RecentRun]]:
    """The newest `per_task` executions of each task (oldest first), in one query."""
    ids = list(task_ids)
    if not ids:
        return {}
    nth_newest_id = Subquery(
        TaskExecution.objects.filter(task_id=OuterRef("pk"))
        .order_by("-id")
        .values("id")[per_task - 1 : per_task]
    )
    rows = (
        Task.objects.filter(pk__in=ids)
        .annotate(cutoff=Coalesce(nth_newest_id, Value(0)))
        .filter(executions__id__gte=F("cutoff"))
        .order_by()
        .values_list("pk", "executions__id", "executions__status", "executions__duration_ms")
    )
    runs: dict[int, list[RecentRun]] = defaultdict(list)
    for task_id, run_id, status, duration_ms in rows:
        runs[task_id].append(RecentRun(run_id, status, duration_ms))
    for task_runs in runs.values():
        task_runs.sort()  # by id: oldest first
    return dict(runs)


def for_tasks(tasks: Iterable[Task], *, sparklines: bool = True) -> dict[int, TaskStats]:
    """Everything the pages show beyond the Task row, keyed by task id (1-2 queries)."""
    ids = [task.pk for task in tasks]
    if not ids:
        return {}
    # For one task, filter by it; for many, counting all recent rows is as cheap
    # and keeps a 100-id IN list out of the query.
    weekly = weekly_counts(ids if len(ids) == 1 else None)
    recent = recent_runs(ids) if sparklines else {}
    return {
        task_id: TaskStats(
            weekly=weekly.get(task_id, WeeklyCounts()), recent=recent.get(task_id, [])
        )
        for task_id in ids
    }
