"""What the engine benchmarks share: the task functions they run, and setup helpers.

Tasks and APScheduler jobs name these functions by dotted path, so they live
in a module of their own (imported, never run as __main__); `baseline_job`
records into this module's BASELINE_STARTS. Our task functions are registered
(`@scheduled_task`) and every benchmark process lists this module in
SCHEDULER_TASK_MODULES (`common.setup_django`), as a deployment would.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from scheduling.registry import scheduled_task

BASELINE_STARTS: list[float] = []  # seconds late, appended by `baseline_job`
_starts_lock = threading.Lock()


# --- task functions (module level, so tasks and jobs can reference them) ------
@scheduled_task(name="bench_noop", schedule=None)
def noop_task(**kwargs: Any) -> None:
    """The no-op our tasks run: nothing to measure but the bookkeeping."""


@scheduled_task(name="bench_record_start", schedule=None)
def record_start(**kwargs: Any) -> dict[str, float]:
    """Our dispatch probe: the start time lands in TaskExecution.result."""
    return {"started": time.time()}


def baseline_noop() -> None:
    """The no-op the APScheduler baselines run."""


def baseline_job(scheduled_ts: float) -> None:
    """The baselines' dispatch probe: how late this run started."""
    late = time.time() - scheduled_ts
    with _starts_lock:
        BASELINE_STARTS.append(late)


def progress(message: str) -> None:
    print(f"  .. {message}", file=sys.stderr, flush=True)


def wait_for(predicate: Callable[[], Any], timeout: float, poll: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(poll)
    return bool(predicate())


def reset_tables() -> None:
    """Empty what a previous measurement left: tasks, executions, jobs, nodes, lease."""
    from django_apscheduler.models import DjangoJob, DjangoJobExecution

    from scheduling.models import SchedulerLease, SchedulerNode, Task, TaskExecution

    TaskExecution.objects.all().delete()
    Task.objects.all().delete()
    DjangoJobExecution.objects.all().delete()
    DjangoJob.objects.all().delete()
    SchedulerNode.objects.all().delete()
    SchedulerLease.objects.all().delete()


def make_tasks(prefix: str, count: int, func: str, **fields: Any) -> list[int]:
    """Bulk-create `count` enabled tasks; returns their ids."""
    from scheduling.models import Task

    defaults = {"trigger_type": "cron", "cron_expression": "0 3 * * *", "timezone": "UTC"}
    defaults.update(fields)
    tasks = Task.objects.bulk_create(
        (Task(name=f"{prefix}-{i:05d}", func=func, **defaults) for i in range(count)),
        batch_size=1000,
    )
    ids = [task.pk for task in tasks]
    return ids or list(
        Task.objects.filter(name__startswith=f"{prefix}-").values_list("pk", flat=True)
    )


def apscheduler_with(store: str, workers: int = 10):
    from apscheduler.executors.pool import ThreadPoolExecutor
    from apscheduler.jobstores.memory import MemoryJobStore
    from apscheduler.schedulers.background import BackgroundScheduler
    from django_apscheduler.jobstores import DjangoJobStore

    jobstore = DjangoJobStore() if store == "django" else MemoryJobStore()
    return BackgroundScheduler(
        jobstores={"default": jobstore},
        executors={"default": ThreadPoolExecutor(workers)},
        timezone="UTC",
    )
