"""Proposed engine/runner changes, applied in-process so the benchmark can measure them.

    python -m benchmarks.engine --prototype

Not used by the product. Each change below is a patch proposed for
`scheduling/engine.py`, `scheduling/runner.py` or settings; `apply()` installs
them by subclassing/monkeypatching so the same benchmark measures before/after:

1. SQLite connections persist (CONN_MAX_AGE like PostgreSQL). With
   CONN_MAX_AGE=0 the runner's `close_old_connections()` closes the connection
   twice per run, and closing the last connection to a WAL database
   checkpoints it with fsyncs: tens of ms per run on a busy disk.
2. `TaskJobStore`: DjangoJobStore without django-apscheduler's result-store
   listeners (our TaskExecution is the history; its DjangoJobExecution rows are
   1-2 extra writes per fire in the scheduler thread) and with `add_job` and
   `update_job` buffered and written as one upsert per scheduler pass or sync
   chunk, instead of one transaction per job.
3. `Engine.sync` applies changes in transactions of 500 jobs, writes
   `next_run_at` with one bulk UPDATE per chunk, and logs one summary line
   instead of a line per task when more than a few tasks changed. Between
   full syncs it reads only tasks updated since the newest `updated_at` it
   has seen (minus an overlap for late commits and clock skew), and reads the
   ids of all enabled tasks only when their count says some were removed.
4. The success receiver skips the recovery check (a locking write transaction
   and three queries) when the previous run was a success, found with one
   indexed read.
5. `cron.normalize` is cached (`functools.lru_cache`): it builds a CronSim to
   validate, and every trigger, fire and `next_run_after` called it again for
   the same few expressions (3 CronSim constructions per scheduled task).
"""

from __future__ import annotations

import functools
import logging
import pickle
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import connection, connections, transaction
from django_apscheduler.jobstores import DjangoJobStore
from django_apscheduler.models import DjangoJob
from django_apscheduler.util import get_django_internal_datetime

logger = logging.getLogger("scheduling.engine")

CHUNK = 500
LOG_EACH_UP_TO = 20
SYNC_OVERLAP = timedelta(seconds=60)


class TaskJobStore(DjangoJobStore):
    """DjangoJobStore that records no DjangoJobExecution and batches job updates."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._dirty: dict[str, tuple[Any, bytes]] = {}

    def register_event_listeners(self) -> None:
        """Our runner records every run; django-apscheduler's copy would cost writes."""

    def update_job(self, job: Any) -> None:
        self._dirty[job.id] = (
            get_django_internal_datetime(job.next_run_time),
            pickle.dumps(job.__getstate__(), self.pickle_protocol),
        )

    def flush(self) -> None:
        """Write buffered updates in one transaction (called before every read)."""
        if not self._dirty:
            return
        dirty, self._dirty = self._dirty, {}
        rows = [DjangoJob(id=k, next_run_time=t, job_state=s) for k, (t, s) in dirty.items()]
        with transaction.atomic():
            DjangoJob.objects.bulk_create(
                rows,
                batch_size=CHUNK,
                update_conflicts=True,
                unique_fields=["id"],
                update_fields=["next_run_time", "job_state"],
            )

    def lookup_job(self, job_id: str) -> Any:
        self.flush()
        return super().lookup_job(job_id)

    def get_due_jobs(self, now: Any) -> list:
        self.flush()
        return super().get_due_jobs(now)

    def get_next_run_time(self) -> Any:
        self.flush()
        return super().get_next_run_time()

    def get_all_jobs(self) -> list:
        self.flush()
        return super().get_all_jobs()

    def add_job(self, job: Any) -> None:
        """Buffered upsert: the engine always adds with replace_existing=True."""
        self.update_job(job)

    def remove_job(self, job_id: str) -> None:
        self.flush()
        return super().remove_job(job_id)

    def shutdown(self) -> None:
        self.flush()
        super().shutdown()


def _write_next_run_at(tasks: list) -> None:
    """One executemany, not Django's bulk_update (CASE WHEN; slow to build for 500 rows)."""
    from scheduling.models import Task

    ops = connection.ops
    with connection.cursor() as cursor:
        cursor.executemany(
            f"UPDATE {Task._meta.db_table} SET next_run_at = %s WHERE id = %s",
            [(ops.adapt_datetimefield_value(t.next_run_at), t.pk) for t in tasks],
        )


def _engine_class():
    from scheduling import triggers
    from scheduling.engine import Engine, job_id
    from scheduling.models import Task

    class PrototypeEngine(Engine):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            # Same scheduler, our job store (2).
            self.scheduler._jobstores.clear()
            self.scheduler.add_jobstore(TaskJobStore(), "default")

        def sync(self, full: bool = False) -> int:
            enabled = Task.objects.filter(enabled=True)
            newest = max(self.known.values(), default=None)
            if full or newest is None:
                rows = dict(enabled.values_list("id", "updated_at"))
                removed = [tid for tid in self.known if tid not in rows]
            else:
                recent = enabled.filter(updated_at__gte=newest - SYNC_OVERLAP)
                rows = dict(recent.values_list("id", "updated_at"))
                expected = len(self.known) + sum(1 for tid in rows if tid not in self.known)
                removed = []
                if enabled.count() != expected:  # a task was disabled or deleted
                    ids = set(enabled.values_list("id", flat=True))
                    removed = [tid for tid in self.known if tid not in ids]
            changed = [tid for tid, updated in rows.items() if self.known.get(tid) != updated]
            for tid in removed:
                self._unschedule(tid)
            if full:
                self._remove_stale_jobs(set(rows))
            verbose = len(changed) <= LOG_EACH_UP_TO
            for start in range(0, len(changed), CHUNK):
                tasks = list(Task.objects.filter(pk__in=changed[start : start + CHUNK]))
                with transaction.atomic():  # (3) one commit per chunk, not 2 per task
                    scheduled = [t for t in tasks if self._schedule_quietly(t, verbose)]
                    self.scheduler._lookup_jobstore("default").flush()
                    _write_next_run_at(scheduled)
            if not verbose:
                logger.info("Scheduled %d tasks", len(changed))
            return len(changed) + len(removed)

        def _schedule_quietly(self, task: Task, verbose: bool) -> bool:
            try:
                trigger = triggers.build_trigger(task)
            except Exception:
                logger.exception("Task %s has an invalid schedule; not scheduled", task.name)
                self.known[task.pk] = task.updated_at
                return False
            job = self.scheduler.add_job(
                "scheduling.engine:fire_job",
                trigger=trigger,
                args=[task.pk],
                id=job_id(task.pk),
                name=task.name,
                replace_existing=True,
                misfire_grace_time=task.misfire_grace_seconds,
            )
            self.known[task.pk] = task.updated_at
            task.next_run_at = getattr(job, "next_run_time", None) or triggers.next_run_after(
                task, self.clock()
            )
            if verbose:
                logger.info("Scheduled %s (%s): next run %s", task.name, trigger, task.next_run_at)
            return True

    return PrototypeEngine


def _quiet_success_receiver() -> None:
    from notifications import policy
    from scheduling import signals
    from scheduling.models import ExecutionStatus, Task, TaskExecution

    original = policy.on_task_finished
    outcomes = (ExecutionStatus.SUCCESS, *policy.FAILURE_STATUSES)

    def nothing_to_send(task: Any, execution: Any) -> bool:
        # A success right after a success (success mail off) is no news (4).
        if execution.status != ExecutionStatus.SUCCESS or settings.NOTIFY_ON_TASK_SUCCESS:
            return False
        previous = (
            TaskExecution.objects.filter(task_id=task.pk, pk__lt=execution.pk, status__in=outcomes)
            .order_by("-pk")
            .values_list("status", flat=True)
            .first()
        )
        return previous in (None, ExecutionStatus.SUCCESS)

    def on_task_finished(sender: Any, task: Any, execution: Any, final: bool = True, **kw: Any):
        if final and nothing_to_send(task, execution):
            return None
        return original(sender, task=task, execution=execution, final=final, **kw)

    signals.task_finished.disconnect(sender=Task, dispatch_uid="notifications.task_finished")
    signals.task_finished.connect(
        on_task_finished, sender=Task, dispatch_uid="notifications.task_finished", weak=False
    )


def apply() -> None:
    """Install every proposed change in this process."""
    from scheduling import cron, engine

    if connections["default"].vendor == "sqlite":  # (1)
        connections.close_all()
        settings.DATABASES["default"]["CONN_MAX_AGE"] = None
    engine.Engine = _engine_class()
    _quiet_success_receiver()
    cron.normalize = functools.lru_cache(maxsize=4096)(cron.normalize)  # (5)
