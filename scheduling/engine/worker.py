"""The worker side: what a Celery worker process does with a run the scheduler sent it.

1. Claim: one conditional UPDATE queued -> running (with this process's host,
   pid and start time). Zero rows changed means another worker, a redelivered
   or re-sent message, or the sender's late-skip got there first: nothing runs,
   and the log says "Execution #N not run: already claimed".
2. Run: `runner.execute`, the path local runs take, so counters, retries,
   alerts, `task_finished`, chains and the run's own log behave the same.
3. Time limits: the soft limit raises inside the task (the runner records
   "timed out after N s"); a run that ignores it is killed at the hard limit
   and the worker's main process records the failure (`record_hard_timeout`).
4. Heartbeat: each process that runs executions (every prefork child, or the
   main process of a solo/threads pool) keeps a `SchedulerNode` (role
   `worker`) fresh, so the leader can tell a killed worker's runs from live ones.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import DatabaseError, InterfaceError, close_old_connections

from scheduling.engine import heartbeat, runner
from scheduling.models import ExecutionStatus, NodeRole, TaskExecution

logger = logging.getLogger("scheduling.worker")

_beat: dict[str, Any] = {}  # this process's heartbeat: node id, thread, stop event


def run_execution(execution_id: int) -> str:
    """Claim and run one execution; returns its final status, or "not run"."""
    runner.tidy_connections()
    try:
        if not runner.claim_queued(execution_id):
            logger.info("Execution #%s not run: already claimed (%s)", execution_id,
                        _now_is(execution_id))  # fmt: skip
            return "not run"
        execution = TaskExecution.objects.select_related("task").get(pk=execution_id)
        try:
            runner.execute(execution)
        except SoftTimeLimitExceeded:  # the limit struck in the bookkeeping, not the function
            runner.fail_running(
                execution_id, runner.timed_out_message(execution.task.timeout_seconds)
            )
            return ExecutionStatus.FAILED
        return execution.status
    finally:
        runner.tidy_connections()


def _now_is(execution_id: int) -> str:
    status = TaskExecution.objects.filter(pk=execution_id).values_list("status", flat=True).first()
    return f"it is {status}" if status else "it no longer exists"


def record_hard_timeout(execution_id: int, hard_limit: float) -> None:
    """In the worker's main process: the child running `execution_id` hit its hard limit."""
    execution = TaskExecution.objects.select_related("task").filter(pk=execution_id).first()
    if execution is None:
        return
    message = runner.timed_out_message(execution.task.timeout_seconds, killed_at=hard_limit)
    if runner.fail_running(execution_id, message) is not None:
        logger.warning("%s #%s: %s", execution.task.name, execution_id, message)


# --- heartbeat ------------------------------------------------------------------
def start_heartbeat(queues: str = "") -> str:
    """Register this process as a worker and keep its heartbeat fresh from a daemon thread."""
    if _beat:
        return _beat["node_id"]
    close_old_connections()
    node_id = heartbeat.new_node_id()
    heartbeat.register(node_id, role=NodeRole.WORKER, queues=queues)
    stop = threading.Event()
    thread = threading.Thread(
        target=_beat_loop, args=(node_id, stop), name="worker-heartbeat", daemon=True
    )
    _beat.update(node_id=node_id, stop=stop, thread=thread)
    thread.start()
    logger.info("Worker process %s heartbeating (queues: %s)", node_id, queues or "-")
    return node_id


def _beat_loop(node_id: str, stop: threading.Event) -> None:
    while not stop.wait(settings.SCHEDULER_HEARTBEAT_SECONDS):
        try:
            close_old_connections()
            heartbeat.beat(node_id, is_leader=False)
        except (DatabaseError, InterfaceError) as exc:
            logger.error("Worker heartbeat not written (%s); retrying", exc)


def stop_heartbeat() -> None:
    """Mark this process stopped (a clean shutdown; a killed one just goes stale)."""
    if not _beat:
        return
    _beat["stop"].set()
    try:
        close_old_connections()
        heartbeat.mark_stopped(_beat["node_id"])
    except (DatabaseError, InterfaceError):
        logger.exception("Could not record the worker's stop")
