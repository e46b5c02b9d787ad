"""The scheduler engine behind `manage.py runscheduler`.

APScheduler (with django-apscheduler's DjangoJobStore) decides *when* each
task fires; everything about *running* it goes through `scheduling.engine.runner`.
The main thread owns a short loop, as Healthchecks' `sendalerts` does:

1. heartbeat and leadership lease (only the leader's APScheduler runs jobs);
2. on becoming leader: abandon orphaned runs, record/run missed fires, load jobs;
3. every SCHEDULER_SYNC_SECONDS: apply tasks edited, added, paused or deleted
   by other processes (web, admin, CLI) to the job store;
4. every half second: start queued manual runs and due retries;
5. flag runs past their soft timeout; abandon runs of processes that died
   (every WORKER_CHECK_SECONDS for runs on Celery workers).

Runs of tasks with a `queue` are claimed as `queued` rows and never run here:
the sender thread (`engine.sending`) hands them to Celery workers.

Signal handlers only set a flag. A database outage makes the loop log, back
off and reconnect; no step holds a transaction across a sleep.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.background import BackgroundScheduler
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import (
    DatabaseError,
    IntegrityError,
    InterfaceError,
    close_old_connections,
    connection,
    connections,
    transaction,
)
from django.db.models import Q
from django.utils import timezone

from scheduling import bounds, signals, triggers
from scheduling.engine import heartbeat, leader, recovery, runner, sending
from scheduling.engine.executor import TaskPoolExecutor
from scheduling.engine.jobstore import TaskJobStore
from scheduling.models import ExecutionStatus, Task, TaskExecution, TriggerType

logger = logging.getLogger("scheduling.engine")

JOB_PREFIX = "task-"
QUEUE_POLL_SECONDS = 0.5
OVERDUE_CHECK_SECONDS = 5.0
ORPHAN_CHECK_SECONDS = 30.0
WORKER_CHECK_SECONDS = 2.0  # a killed worker's runs are abandoned well within the lease
FULL_SYNC_SECONDS = 300.0  # a safety net under the incremental sync
MAX_BACKOFF_SECONDS = 30.0
SYNC_CHUNK = 500  # tasks scheduled per transaction
LOG_EACH_UP_TO = 20  # a bigger sync logs one summary line, not a line per task
# Edits are found by updated_at; re-reading the last minute covers late commits
# and web servers whose clocks run a little behind ours.
SYNC_OVERLAP = timedelta(seconds=60)


def fire_job(task_id: int) -> None:
    """The job function stored in DjangoJobStore (by reference).

    Not called in normal operation: `TaskPoolExecutor` intercepts task jobs to
    pass the fire time along. Kept so a stored job always resolves.
    """
    runner.run_fire(task_id, timezone.now().replace(microsecond=0))


def job_id(task_id: int) -> str:
    return f"{JOB_PREFIX}{task_id}"


def _write_next_run_at(tasks: list[Task]) -> None:
    """One executemany: Django's bulk_update builds a slow CASE WHEN for 500 rows."""
    ops = connection.ops
    with connection.cursor() as cursor:
        cursor.executemany(
            f"UPDATE {Task._meta.db_table} SET next_run_at = %s WHERE id = %s",
            [(ops.adapt_datetimefield_value(task.next_run_at), task.pk) for task in tasks],
        )


class Engine:
    def __init__(
        self,
        *,
        threads: int | None = None,
        sync_seconds: float | None = None,
        heartbeat_seconds: float | None = None,
        lease_seconds: float | None = None,
        clock: Callable[[], datetime] = timezone.now,
    ) -> None:
        self.node_id = heartbeat.new_node_id()
        self.threads = threads or settings.SCHEDULER_THREADS
        self.sync_seconds = sync_seconds or settings.SCHEDULER_SYNC_SECONDS
        self.heartbeat_seconds = heartbeat_seconds or settings.SCHEDULER_HEARTBEAT_SECONDS
        self.lease_seconds = lease_seconds or settings.SCHEDULER_LEASE_SECONDS
        self.clock = clock
        self.stop_event = threading.Event()
        self.is_leader = False
        self.known: dict[int, datetime] = {}  # task id -> updated_at we scheduled
        self.submitted_queued: set[int] = set()
        self.unchecked_timeouts: set[int] = set()  # runs whose task's timeout is out of range
        self.executor = TaskPoolExecutor(self.threads)
        self.scheduler = BackgroundScheduler(
            jobstores={"default": TaskJobStore()},
            executors={"default": self.executor},
            job_defaults={"coalesce": True, "max_instances": 1000},
            timezone="UTC",
        )
        self._next = {
            "beat": 0.0,
            "sync": 0.0,
            "queue": 0.0,
            "overdue": 0.0,
            "orphans": 0.0,
            "workers": 0.0,
            "full": 0.0,
        }
        self._thread: threading.Thread | None = None
        self.sender = sending.Sender(self.node_id, clock=clock)
        self._sender_thread: threading.Thread | None = None

    # --- lifecycle -----------------------------------------------------------
    def run(self) -> None:
        """Run until `stop()` (or a signal handler setting `stop_event`)."""
        heartbeat.register(self.node_id)
        logger.info("Scheduler %s started (%d threads)", self.node_id, self.threads)
        self._sender_thread = threading.Thread(
            target=self.sender.run,
            args=(self.stop_event, lambda: self.is_leader),
            name="task-sender",
            daemon=True,
        )
        self._sender_thread.start()
        backoff = 1.0
        while not self.stop_event.is_set():
            try:
                self.tick()
                backoff = 1.0
            except (DatabaseError, InterfaceError) as exc:
                logger.error("Database unavailable (%s); retrying in %.0f s", exc, backoff)
                self._drop_connections()
                self.stop_event.wait(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
                continue
            self.stop_event.wait(0.1)

    def shutdown(self, grace_seconds: float) -> bool:
        """Stop taking runs, wait up to `grace_seconds` for running ones; True if all finished."""
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        finished = self.executor.wait(grace_seconds)
        if not finished:
            logger.warning("Runs still going after %.0f s grace; leaving them", grace_seconds)
        try:
            if self.is_leader:
                leader.release(self.node_id)
            heartbeat.mark_stopped(self.node_id)
        except DatabaseError:
            logger.exception("Could not record the shutdown")
        self.executor.stop_helpers()
        self.executor._pool.shutdown(wait=False, cancel_futures=True)
        logger.info("Scheduler %s stopped", self.node_id)
        return finished

    def start_in_thread(self) -> None:
        self._thread = threading.Thread(target=self.run, name="scheduler-main", daemon=True)
        self._thread.start()

    def stop(self, grace_seconds: float = 10.0) -> bool:
        self.stop_event.set()
        if self._thread is not None:
            self._thread.join()
        return self.shutdown(grace_seconds)

    # --- one pass of the loop ------------------------------------------------
    def _due(self, key: str, every: float) -> bool:
        now = time.monotonic()
        if now < self._next[key]:
            return False
        self._next[key] = now + every
        return True

    def tick(self) -> None:
        close_old_connections()
        if self._due("beat", self.heartbeat_seconds):
            self._beat()
        if not self.is_leader:
            return
        if self._due("sync", self.sync_seconds):
            self.sync(full=self._due("full", FULL_SYNC_SECONDS))
        if self._due("queue", QUEUE_POLL_SECONDS):
            self.dispatch_queued()
        if self._due("overdue", OVERDUE_CHECK_SECONDS):
            self.flag_overdue()
        if self._due("workers", WORKER_CHECK_SECONDS):
            recovery.abandon_orphans(self.clock(), only_queue_tasks=True)
        if self._due("orphans", ORPHAN_CHECK_SECONDS):
            # Also catches `runtask` processes that died, and leaders whose
            # heartbeat went stale only after this process took over.
            recovery.abandon_orphans(self.clock())
            heartbeat.prune_workers(self.clock())

    def _beat(self) -> None:
        leads, previous = leader.acquire(self.node_id, self.lease_seconds, self.clock())
        heartbeat.beat(self.node_id, is_leader=leads)
        if leads and not self.is_leader:
            self._become_leader(previous)
        elif self.is_leader and not leads:
            self._step_down()

    def _become_leader(self, previous: leader.Holder | None = None) -> None:
        """Take over: a holder whose lease expired under us is gone, so its runs are abandoned now.

        Waiting for its heartbeat to go stale (three heartbeats) would leave its
        runs `running` until the next orphan scan when the lease is shorter.
        """
        logger.info("Scheduler %s is now the leader", self.node_id)
        if previous is not None:
            logger.warning("Took the lease from %s, which stopped renewing it", previous.node_id)
        self.is_leader = True
        gone = {(previous.host, previous.pid)} if previous is not None else set()
        recovery.abandon_orphans(self.clock(), gone=gone)
        recovery.run_catchups(
            recovery.plan_catchup(self.clock()), self.executor.submit, runner.run_fire
        )
        self.known.clear()
        self._next["orphans"] = time.monotonic() + ORPHAN_CHECK_SECONDS
        if not self.scheduler.running:
            self.scheduler.start(paused=True)
        self.sync(full=True)
        self.scheduler.resume()
        self._next["sync"] = time.monotonic() + self.sync_seconds
        self._next["full"] = time.monotonic() + FULL_SYNC_SECONDS

    def _step_down(self) -> None:
        logger.warning("Scheduler %s lost the lease; standing by", self.node_id)
        self.is_leader = False
        self.scheduler.pause()

    def _drop_connections(self) -> None:
        for conn in connections.all(initialized_only=True):
            try:
                conn.close()
            except DatabaseError:
                pass  # already broken: closing is best effort

    # --- keeping APScheduler in step with the Task table ---------------------
    def sync(self, full: bool = False) -> int:
        """Apply task edits made anywhere; returns how many jobs changed.

        A full sync compares every enabled task; the others read only tasks
        updated lately, and read all ids only when the count of enabled tasks
        says one was disabled or deleted. Never a scan of every row per cycle.
        """
        # `after` tasks have no job: chains.py queues their runs when their upstream finishes.
        enabled = Task.objects.filter(enabled=True).exclude(trigger_type=TriggerType.AFTER)
        newest = max(self.known.values(), default=None)
        if full or newest is None:
            rows = dict(enabled.values_list("id", "updated_at"))
            removed = [tid for tid in self.known if tid not in rows]
        else:
            recent = enabled.filter(updated_at__gte=newest - SYNC_OVERLAP)
            rows = dict(recent.values_list("id", "updated_at"))
            removed = []
            if enabled.count() != len(self.known.keys() | rows.keys()):
                ids = set(enabled.values_list("id", flat=True))
                removed = [tid for tid in self.known if tid not in ids]
        changed = [tid for tid, updated in rows.items() if self.known.get(tid) != updated]
        for tid in removed:
            self._unschedule(tid)
        if full:
            self._remove_stale_jobs(set(rows))
        self._schedule_all(changed)
        return len(changed) + len(removed)

    def _schedule_all(self, task_ids: list[int]) -> None:
        """Schedule in chunks: one transaction and one UPDATE of next_run_at per chunk."""
        verbose = len(task_ids) <= LOG_EACH_UP_TO
        for start in range(0, len(task_ids), SYNC_CHUNK):
            tasks = list(Task.objects.filter(pk__in=task_ids[start : start + SYNC_CHUNK]))
            # Lock order matters: APScheduler's store lock first, then the database
            # transaction. Its thread holds that lock while it writes jobs; a
            # transaction opened first (BEGIN IMMEDIATE on SQLite) would deadlock
            # with it until the busy timeout.
            with self.scheduler._jobstores_lock, transaction.atomic():
                scheduled = [task for task in tasks if self._schedule(task, verbose)]
                self.scheduler._lookup_jobstore("default").flush()
                _write_next_run_at(scheduled)
        if not verbose:
            logger.info("Scheduled %d tasks", len(task_ids))

    def _remove_stale_jobs(self, wanted: set[int]) -> None:
        for job in self.scheduler.get_jobs():
            if job.id.startswith(JOB_PREFIX) and int(job.id[len(JOB_PREFIX) :]) not in wanted:
                job.remove()

    def _schedule(self, task: Task, verbose: bool = True) -> bool:
        """Add or replace the task's job; sets (does not save) `task.next_run_at`.

        A task whose stored values are out of range (written around the
        constraints) is logged and left unscheduled: one bad row must never
        stop the others, nor reach APScheduler's thread.
        """
        self.known[task.pk] = task.updated_at
        try:
            trigger = triggers.build_trigger(task)
            job = self.scheduler.add_job(
                "scheduling.engine:fire_job",
                trigger=trigger,
                args=[task.pk],
                id=job_id(task.pk),
                name=task.name,
                replace_existing=True,
                misfire_grace_time=task.misfire_grace_seconds,
            )
            task.next_run_at = getattr(job, "next_run_time", None) or triggers.next_run_after(
                task, self.clock()
            )
        except Exception as exc:  # noqa: BLE001 - whatever the row holds, the loop goes on
            reason = "; ".join(exc.messages) if isinstance(exc, ValidationError) else repr(exc)
            logger.error("Task %s not scheduled (fix it in the admin): %s", task.name, reason)
            self._remove_job(task.pk)
            return False  # and its row is not written: the database may refuse it
        if verbose:
            logger.info("Scheduled %s (%s): next run %s", task.name, trigger, task.next_run_at)
        return True

    def _remove_job(self, task_id: int) -> None:
        try:
            self.scheduler.remove_job(job_id(task_id))
        except JobLookupError:
            pass  # a one-off job that already ran is gone from the store

    def _unschedule(self, task_id: int) -> None:
        self.known.pop(task_id, None)
        self._remove_job(task_id)
        try:
            with transaction.atomic():
                Task.objects.filter(pk=task_id, enabled=False).update(next_run_at=None)
        except IntegrityError:  # a row written around the constraints; nothing to schedule
            logger.error("Task %s holds values the database refuses; fix it", task_id)
        logger.info("Unscheduled task %s", task_id)

    # --- manual runs, retries, timeouts ---------------------------------------
    def dispatch_queued(self) -> int:
        now = self.clock()
        due = (
            TaskExecution.objects.filter(status=ExecutionStatus.QUEUED, task__queue="")
            .filter(Q(scheduled_for__isnull=True) | Q(scheduled_for__lte=now))
            .order_by("id")
            .values_list("id", flat=True)[:100]
        )
        started = 0
        for execution_id in due:
            if execution_id in self.submitted_queued:
                continue
            self.submitted_queued.add(execution_id)
            self.executor.submit(runner.run_queued, execution_id)
            started += 1
        if len(self.submitted_queued) > 10_000:
            self.submitted_queued.clear()  # claims are conditional; resubmitting is harmless
        return started

    def flag_overdue(self) -> int:
        now = self.clock()
        candidates = TaskExecution.objects.filter(
            status=ExecutionStatus.RUNNING, is_overdue=False, task__timeout_seconds__isnull=False
        ).select_related("task")
        flagged = 0
        for execution in candidates:
            problem = bounds.number_problem("timeout_seconds", execution.task.timeout_seconds)
            if problem:
                if execution.pk not in self.unchecked_timeouts:  # log once, not every pass
                    self.unchecked_timeouts.add(execution.pk)
                    logger.error("%s #%s not checked for overrun: %s", execution.task.name,
                                 execution.pk, problem)  # fmt: skip
                continue
            limit = execution.started_at + timedelta(seconds=execution.task.timeout_seconds)
            if execution.task.queue:
                # A worker enforces the limit and records "timed out": flag only a run it
                # failed to stop (a solo or threads pool has no time limits).
                limit += timedelta(
                    seconds=settings.WORKER_HARD_LIMIT_MARGIN_SECONDS + OVERDUE_CHECK_SECONDS
                )
            if limit > now:
                continue
            if TaskExecution.objects.filter(pk=execution.pk, is_overdue=False).update(
                is_overdue=True
            ):
                logger.warning(
                    "%s #%s is past its %d s timeout",
                    execution.task.name,
                    execution.pk,
                    execution.task.timeout_seconds,
                )
                signals.task_overdue.send(sender=Task, task=execution.task, execution=execution)
                flagged += 1
        return flagged
