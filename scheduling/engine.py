"""The scheduler engine behind `manage.py runscheduler`.

APScheduler (with django-apscheduler's DjangoJobStore) decides *when* each
task fires; everything about *running* it goes through `scheduling.runner`.
The main thread owns a short loop, as Healthchecks' `sendalerts` does:

1. heartbeat and leadership lease (only the leader's APScheduler runs jobs);
2. on becoming leader: abandon orphaned runs, record/run missed fires, load jobs;
3. every SCHEDULER_SYNC_SECONDS: apply tasks edited, added, paused or deleted
   by other processes (web, admin, CLI) to the job store;
4. every half second: start queued manual runs and due retries;
5. flag runs past their soft timeout; abandon runs of processes that died.

Signal handlers only set a flag. A database outage makes the loop log, back
off and reconnect; no step holds a transaction across a sleep.
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.executors.pool import BasePoolExecutor
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.background import BackgroundScheduler
from django.conf import settings
from django.db import (
    DatabaseError,
    InterfaceError,
    close_old_connections,
    connection,
    connections,
    transaction,
)
from django.db.models import Q
from django.utils import timezone

from scheduling import heartbeat, leader, recovery, runner, signals, triggers
from scheduling.claims import Claim, claim_fires
from scheduling.jobstore import TaskJobStore
from scheduling.models import ExecutionStatus, Task, TaskExecution

logger = logging.getLogger("scheduling.engine")

JOB_PREFIX = "task-"
QUEUE_POLL_SECONDS = 0.5
OVERDUE_CHECK_SECONDS = 5.0
ORPHAN_CHECK_SECONDS = 30.0
FULL_SYNC_SECONDS = 300.0  # a safety net under the incremental sync
MAX_BACKOFF_SECONDS = 30.0
SYNC_CHUNK = 500  # tasks scheduled per transaction
RECORD_DEFER_SECONDS = 1.0  # longest wait of finished runs' records for due runs to start
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


class TaskPoolExecutor(BasePoolExecutor):
    """A thread pool that hands each fire time to the runner, in batches.

    APScheduler's own executor calls the job function without its scheduled
    time, and we need that time: it is the key that makes one fire run once
    across schedulers.

    Fires due together are claimed together and their outcomes stored
    together, so 1,000 tasks due at one instant cost a few statements each
    way instead of a few per task, and a run's start never waits for an
    earlier run's bookkeeping:

    - APScheduler's thread only queues (task id, fire time) pairs;
    - a dispatcher thread claims everything queued (`claims.claim_fires`) and
      submits each claimed fire to the pool (`runner.run_claimed`);
    - a recorder thread stores the finished runs' outcomes in one transaction
      per batch (`runner.record_outcomes`), then sends their signals.
    """

    def __init__(self, max_workers: int) -> None:
        super().__init__(
            concurrent.futures.ThreadPoolExecutor(max_workers, thread_name_prefix="task")
        )
        self.inflight: set[concurrent.futures.Future] = set()
        self._inflight_lock = threading.Lock()
        self._cond = threading.Condition()
        self._fires: list[tuple[str, int, datetime]] = []  # (job id, task id, fire time)
        self._outcomes: list[runner.Outcome] = []
        self._unrecorded = 0  # fires queued, claimed or run whose outcome is not stored yet
        self._unstarted = 0  # claimed fires waiting for a pool thread
        self._helpers: list[threading.Thread] = []
        self._stopping = False

    def submit(self, fn: Callable[..., Any], *args: Any) -> concurrent.futures.Future:
        future = self._pool.submit(fn, *args)
        with self._inflight_lock:
            self.inflight.add(future)
        future.add_done_callback(self._forget)
        return future

    def _forget(self, future: concurrent.futures.Future) -> None:
        with self._inflight_lock:
            self.inflight.discard(future)
        if not future.cancelled() and future.exception() is not None:
            logger.error("Run crashed outside the runner", exc_info=future.exception())

    def _do_submit_job(self, job: Any, run_times: list[datetime]) -> None:
        # Coalesced: only the latest due time runs. APScheduler's own misfire
        # check lives in the `run_job` we bypass, so it is repeated here.
        fire_time = run_times[-1]
        late = (datetime.now(UTC) - fire_time).total_seconds()
        if job.misfire_grace_time is not None and late > job.misfire_grace_time:
            future = self.submit(runner.record_missed, job.args[0], fire_time, late)
            future.add_done_callback(lambda f: self._run_job_success(job.id, []))
            return
        with self._cond:
            self._start_helpers()
            self._fires.append((job.id, job.args[0], fire_time))
            self._unrecorded += 1
            self._cond.notify_all()

    # --- the dispatcher and recorder threads ----------------------------------
    def _start_helpers(self) -> None:
        if self._helpers:
            return
        for name, target in (("dispatch", self._dispatch_loop), ("record", self._record_loop)):
            thread = threading.Thread(target=target, name=f"task-{name}", daemon=True)
            thread.start()
            self._helpers.append(thread)

    def _take(self, queue: str) -> list:
        """Wait for items in `self.<queue>` and take them all; [] once stopping."""
        with self._cond:
            self._cond.wait_for(lambda: getattr(self, queue) or self._stopping)
            items = getattr(self, queue)
            setattr(self, queue, [])
            return items

    def _done(self, count: int, started: bool = False) -> None:
        with self._cond:
            self._unrecorded -= count
            self._unstarted -= count if started else 0
            self._cond.notify_all()

    def _dispatch_loop(self) -> None:
        while not self._stopping:
            fires = self._take("_fires")
            if fires:
                self._dispatch(fires)

    def _dispatch(self, fires: list[tuple[str, int, datetime]]) -> None:
        try:
            claims = claim_fires([(task_id, when) for _, task_id, when in fires])
        except Exception:
            logger.exception("Could not claim %d due fires", len(fires))
            claims = []
        for job, _, _ in fires:
            self._run_job_success(job, [])
        self._done(len(fires) - len(claims))
        with self._cond:
            self._unstarted += len(claims)
        for claim in claims:
            try:
                self.submit(self._run_claimed, claim)
            except RuntimeError:  # the pool is shut down: the orphan check abandons it
                self._done(1, started=True)

    def _run_claimed(self, claim: Claim) -> None:
        with self._cond:
            self._unstarted -= 1
            self._cond.notify_all()
        outcome = None
        try:
            outcome = runner.run_claimed(claim)
        finally:
            if outcome is None:
                self._done(1)
            else:
                with self._cond:
                    self._outcomes.append(outcome)
                    self._cond.notify_all()

    def _take_outcomes(self) -> list[runner.Outcome]:
        """Wait for outcomes, letting claimed runs start first (for up to RECORD_DEFER_SECONDS).

        Storing outcomes competes for the interpreter with starting runs; when
        1,000 fires are due together, every run should start before the
        bookkeeping of the first ones is written.
        """
        with self._cond:
            self._cond.wait_for(lambda: self._outcomes or self._stopping)
            self._cond.wait_for(
                lambda: self._unstarted <= 0 or self._stopping, RECORD_DEFER_SECONDS
            )
            outcomes, self._outcomes = self._outcomes, []
            return outcomes

    def _record_loop(self) -> None:
        while not self._stopping or self._outcomes:
            outcomes = self._take_outcomes()
            if not outcomes:
                continue
            try:
                runner.record_outcomes(outcomes)
            except Exception:
                logger.exception("Could not record %d finished runs", len(outcomes))
            finally:
                self._done(len(outcomes))

    # --- stopping ---------------------------------------------------------------
    def wait(self, timeout: float) -> bool:
        """Wait for in-flight runs and their records; True if all finished within `timeout`."""
        deadline = time.monotonic() + timeout
        with self._inflight_lock:
            pending = set(self.inflight)
        _, not_done = concurrent.futures.wait(pending, timeout=timeout)
        with self._cond:
            recorded = self._cond.wait_for(
                lambda: self._unrecorded <= 0, max(0.0, deadline - time.monotonic())
            )
        return not not_done and recorded

    def shutdown(self, wait: bool = True) -> None:
        """Called by APScheduler's shutdown: keep the pool, `Engine.shutdown` waits, then closes it.

        Fires handed over before the scheduler stopped may still be waiting for
        their claim; closing the pool here would strand them.
        """

    def stop_helpers(self) -> None:
        """Stop the dispatcher and recorder (the recorder first stores what it holds)."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()


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
            "full": 0.0,
        }
        self._thread: threading.Thread | None = None

    # --- lifecycle -----------------------------------------------------------
    def run(self) -> None:
        """Run until `stop()` (or a signal handler setting `stop_event`)."""
        heartbeat.register(self.node_id)
        logger.info("Scheduler %s started (%d threads)", self.node_id, self.threads)
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
        if self._due("orphans", ORPHAN_CHECK_SECONDS):
            # Also catches `runtask` processes that died, and leaders whose
            # heartbeat went stale only after this process took over.
            recovery.abandon_orphans(self.clock())

    def _beat(self) -> None:
        leads = leader.try_acquire(self.node_id, self.lease_seconds, self.clock())
        heartbeat.beat(self.node_id, is_leader=leads)
        if leads and not self.is_leader:
            self._become_leader()
        elif self.is_leader and not leads:
            self._step_down()

    def _become_leader(self) -> None:
        logger.info("Scheduler %s is now the leader", self.node_id)
        self.is_leader = True
        recovery.abandon_orphans(self.clock())
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
        enabled = Task.objects.filter(enabled=True)
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
        """Add or replace the task's job; sets (does not save) `task.next_run_at`."""
        try:
            trigger = triggers.build_trigger(task)
        except Exception:  # one bad row must not stop the others
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

    def _unschedule(self, task_id: int) -> None:
        self.known.pop(task_id, None)
        try:
            self.scheduler.remove_job(job_id(task_id))
        except JobLookupError:
            pass  # a one-off job that already ran is gone from the store
        Task.objects.filter(pk=task_id, enabled=False).update(next_run_at=None)
        logger.info("Unscheduled task %s", task_id)

    # --- manual runs, retries, timeouts ---------------------------------------
    def dispatch_queued(self) -> int:
        now = self.clock()
        due = (
            TaskExecution.objects.filter(status=ExecutionStatus.QUEUED)
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
            limit = execution.started_at + timedelta(seconds=execution.task.timeout_seconds)
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
