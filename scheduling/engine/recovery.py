"""What a scheduler does when it starts leading: clean up after the last one.

1. Executions left `running` by a process that is gone become `abandoned`
   and count as failures (alerts follow through `task_finished`). A process
   is gone when it has no fresh heartbeat (and, on this host, no live pid),
   or when it held the leadership lease that expired and was just taken from
   it: that is known at takeover, before its heartbeat goes stale.
2. Fire times that passed while no scheduler ran: the latest one runs once as
   `catchup` if it is within the task's misfire grace; the others are recorded
   as one `skipped` execution that says how many were missed.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from scheduling import bounds, signals, triggers
from scheduling.engine import runner
from scheduling.engine.heartbeat import stale_after
from scheduling.models import (
    ExecutionStatus,
    ExecutionTrigger,
    SchedulerNode,
    Task,
    TaskExecution,
    TriggerType,
)

logger = logging.getLogger(__name__)

MAX_MISSED_COUNTED = 10_000


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _owner_is_alive(execution: TaskExecution, live_nodes: set[tuple[str, int]]) -> bool:
    # The heartbeat first, even on this host: containers that share the host's
    # name (host networking) have pid namespaces of their own, where a live
    # worker's pid looks dead from here.
    if (execution.host, execution.pid) in live_nodes:
        return True
    if execution.host == socket.gethostname() and execution.pid:
        return _pid_alive(execution.pid)
    # A `runtask` on another host has no heartbeat to judge it by; abandoning a
    # live one would also throw its outcome away, so it is left alone.
    return execution.trigger == ExecutionTrigger.CLI


def abandon_orphans(
    now: datetime | None = None,
    gone: set[tuple[str, int]] | frozenset = frozenset(),
    *,
    only_queue_tasks: bool = False,
) -> list[TaskExecution]:
    """Mark running executions whose process is gone as abandoned; returns them.

    `gone`: (host, pid) of processes known to be gone although their heartbeat
    still looks fresh (a leader whose expired lease was just taken over).
    `only_queue_tasks`: look only at runs on Celery workers (the frequent check).
    A worker's abandoned run is retried when its task's retry policy allows:
    the worker died, not necessarily the task.
    """
    now = now or timezone.now()
    live = set(
        SchedulerNode.objects.filter(
            stopped_at__isnull=True, last_beat_at__gte=now - stale_after()
        ).values_list("host", "pid")
    ) - set(gone)
    abandoned = []
    running = TaskExecution.objects.filter(status=ExecutionStatus.RUNNING).select_related("task")
    if only_queue_tasks:
        running = running.exclude(task__queue="")
    for execution in running:
        if _owner_is_alive(execution, live):
            continue
        reason = (
            f"Abandoned: the process running it ({execution.host}:{execution.pid}) stopped "
            f"before it finished; found by {socket.gethostname()}:{os.getpid()} at "
            f"{now.isoformat()}."
        )
        if not _mark_abandoned(execution, now, reason):
            continue
        execution.status, execution.finished_at, execution.error = (
            ExecutionStatus.ABANDONED,
            now,
            reason,
        )
        logger.warning("Marked %s #%s abandoned", execution.task.name, execution.pk)
        execution.task.refresh_from_db()
        retry = runner.queue_retry(execution.task, execution) if execution.task.queue else None
        if retry is not None:
            logger.info("Retry #%s of %s queued", retry.pk, execution.task.name)
        signals.task_finished.send(
            sender=Task, task=execution.task, execution=execution, final=retry is None
        )
        abandoned.append(execution)
    return abandoned


def _mark_abandoned(execution: TaskExecution, now: datetime, reason: str) -> bool:
    """Abandon one running execution and count it as a failure; False if it was not running."""
    abandon = TaskExecution.objects.filter(pk=execution.pk, status=ExecutionStatus.RUNNING)
    try:
        with transaction.atomic():
            if not abandon.update(status=ExecutionStatus.ABANDONED, finished_at=now, error=reason):
                return False
            Task.objects.filter(pk=execution.task_id).update(
                run_count=F("run_count") + 1,
                failure_count=F("failure_count") + 1,
                consecutive_failures=F("consecutive_failures") + 1,
                last_status=ExecutionStatus.ABANDONED,
            )
    except IntegrityError:  # its task row was written around the constraints: no counting
        logger.error("Counters of %s not updated; its row is refused", execution.task.name)
        with transaction.atomic():
            return bool(
                abandon.update(status=ExecutionStatus.ABANDONED, finished_at=now, error=reason)
            )
    return True


def missed_fire_times(task: Task, now: datetime) -> list[datetime]:
    """Fire times from the task's stored `next_run_at` up to `now` (capped)."""
    if task.next_run_at is None or task.next_run_at > now:
        return []
    times = [task.next_run_at]
    while len(times) < MAX_MISSED_COUNTED:
        following = triggers.next_run_after(task, times[-1])
        if following is None or following > now:
            break
        times.append(following)
    return times


def _record_skipped(task: Task, missed: list[datetime], now: datetime) -> None:
    more = "+" if len(missed) >= MAX_MISSED_COUNTED else ""
    message = (
        f"Missed {len(missed)}{more} fire time(s) between {missed[0].isoformat()} and "
        f"{missed[-1].isoformat()} while no scheduler was running (older than the "
        f"{task.misfire_grace_seconds} s misfire grace, so not run)."
    )
    try:
        with transaction.atomic():
            TaskExecution.objects.create(
                task=task,
                trigger=ExecutionTrigger.SCHEDULE,
                scheduled_for=missed[0],
                status=ExecutionStatus.SKIPPED,
                started_at=now,
                finished_at=now,
                duration_ms=0,
                error=message,
            )
    except IntegrityError:
        return  # another scheduler recorded the gap already
    logger.warning("%s: %s", task.name, message)


def plan_catchup(now: datetime | None = None) -> list[tuple[Task, datetime]]:
    """Record missed fires; return (task, fire time) pairs to run once as catch-up.

    Misses within the task's misfire grace coalesce into one run at the latest
    of them; misses older than the grace become one `skipped` execution.
    """
    now = now or timezone.now()
    due: list[tuple[Task, datetime]] = []
    scheduled = Task.objects.filter(enabled=True, next_run_at__lte=now)
    for task in scheduled.exclude(trigger_type=TriggerType.AFTER):  # a chain has no fire times
        try:
            recent = _plan_one(task, now)
        except ValidationError as exc:  # out-of-range values: this task only is skipped
            logger.error("No catch-up for %s: %s", task.name, "; ".join(exc.messages))
            continue
        if recent:
            if len(recent) > 1:
                logger.info("%s: %d missed fire times coalesced into one", task.name, len(recent))
            due.append((task, recent[-1]))
    return due


def _plan_one(task: Task, now: datetime) -> list[datetime]:
    """Record the task's misses older than its grace; return the recent ones."""
    bounds.check_stored(task)
    missed = missed_fire_times(task, now)
    grace = timedelta(seconds=task.misfire_grace_seconds)
    too_old = [t for t in missed if now - t > grace]
    if too_old:
        _record_skipped(task, too_old, now)
    return [t for t in missed if now - t <= grace]


def run_catchups(
    due: list[tuple[Task, datetime]], submit: Callable[..., object], run_fire: Callable
) -> None:
    for task, fire_time in due:
        logger.info("Catch-up run of %s for %s", task.name, fire_time.isoformat())
        submit(run_fire, task.pk, fire_time, ExecutionTrigger.CATCHUP)
