"""The leader's sender: queued runs of tasks with a `queue` go to Celery, each at least once.

A fire is claimed (its `queued` row inserted under the unique (task,
scheduled_for) constraint) before anything is sent, and a worker runs it only
after a conditional queued -> running claim of that row. So sending twice is
harmless, and this module errs on that side:

1. Every pass reads the due, unsent `queued` rows of queue tasks (and rows sent
   more than WORKER_RESEND_SECONDS ago that no worker claimed: a message the
   broker lost, a worker killed before claiming) and publishes one message each
   (`scheduling.run_execution`, the execution id, the task's queue, its time
   limits), then stamps `sent_at` on the rows that went out.
2. A row still unstarted past its task's misfire grace is not sent: it becomes
   `skipped` with the reason, as a fire dispatched too late does.
3. The broker down: the pass stops at the first failed publish, rows stay
   queued, the error is logged once and shown on the status banner (this
   node's `broker_error`), and passes back off from 1 to 15 s until a publish
   works again. With nothing to send, a connection check every
   PROBE_SECONDS finds an outage (and its end) all the same.

It runs in its own thread (`Sender.run`), so a broker that does not answer
never delays the main loop's heartbeat and lease renewal.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DatabaseError, InterfaceError, close_old_connections
from django.db.models import Q
from django.utils import timezone

from scheduling import bounds
from scheduling.engine import heartbeat
from scheduling.models import ExecutionStatus, Task, TaskExecution

logger = logging.getLogger("scheduling.engine")

WORKER_TASK = "scheduling.run_execution"  # the Celery task name (contract with the workers)
BATCH = 500
POLL_SECONDS = 0.2
NO_BROKER_POLL_SECONDS = 5.0
MIN_BACKOFF_SECONDS, MAX_BACKOFF_SECONDS = 1.0, 15.0
LOG_EACH_UP_TO = 20
PROBE_SECONDS = 10.0

Publish = Callable[[int, str, dict], None]


def time_limits(task: Task) -> dict[str, float]:
    """Celery's limits for a run of `task`: soft at `timeout_seconds`, hard a margin later."""
    seconds = task.timeout_seconds
    if seconds is None or bounds.number_problem("timeout_seconds", seconds):
        return {}
    return {
        "soft_time_limit": seconds,
        "time_limit": seconds + settings.WORKER_HARD_LIMIT_MARGIN_SECONDS,
    }


def publish(execution_id: int, queue: str, limits: dict) -> None:
    """Send one run to `queue` through the project's Celery app; raises if the broker fails."""
    from chirpsyncer.celery import app

    app.send_task(WORKER_TASK, args=[execution_id], queue=queue, retry=False, **limits)


def probe() -> None:
    """Connect to the broker once; raises if it does not answer."""
    from chirpsyncer.celery import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(
            max_retries=1,
            interval_start=0,
            interval_step=0.2,
            timeout=settings.CELERY_BROKER_CONNECTION_TIMEOUT,
        )


def _late_reason(execution: TaskExecution, late: float) -> str:
    grace = execution.task.misfire_grace_seconds
    if execution.sent_at is None:
        why = "it could not be sent (is the broker reachable?)"
    else:
        why = f"no worker consuming queue {execution.task.queue!r} started it"
    return (
        f"Not run: still queued {late:.0f} s after it was due, beyond the {grace} s "
        f"misfire grace; {why}."
    )


class Sender:
    """Publishes due queued runs of queue tasks; one per leading scheduler process."""

    def __init__(
        self,
        node_id: str,
        *,
        publish: Publish = publish,
        probe: Callable[[], None] = probe,
        clock: Callable[[], datetime] = timezone.now,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.node_id = node_id
        self.publish = publish
        self.probe = probe
        self.clock = clock
        self.monotonic = monotonic
        self.broker_error: str | None = None
        self.backoff = MIN_BACKOFF_SECONDS
        self.retry_at = 0.0
        self.answered_at = monotonic()  # when the broker last took a message or a connection

    def due(self, now: datetime) -> list[TaskExecution]:
        resend_before = now - timedelta(seconds=settings.WORKER_RESEND_SECONDS)
        return list(
            TaskExecution.objects.filter(status=ExecutionStatus.QUEUED)
            .exclude(task__queue="")
            .filter(Q(scheduled_for__isnull=True) | Q(scheduled_for__lte=now))
            .filter(Q(sent_at__isnull=True) | Q(sent_at__lte=resend_before))
            .select_related("task")
            .order_by("id")[:BATCH]
        )

    def send_due(self) -> int:
        """One pass: send what is due; returns how many runs were sent."""
        if self.monotonic() < self.retry_at:
            return 0
        now = self.clock()
        rows = self.due(now)
        sent: list[int] = []
        for execution in rows:
            if self._skipped_as_late(execution, now):
                continue
            if not settings.CELERY_BROKER_URL:
                self._skip(execution, now, _no_broker_reason(execution.task))
                continue
            try:
                self.publish(execution.pk, execution.task.queue, time_limits(execution.task))
            except Exception as exc:  # noqa: BLE001 - whatever the broker client raises
                self._failed(exc)
                break
            self._log_sent(execution, len(rows))
            sent.append(execution.pk)
        if sent:
            self.answered_at = self.monotonic()
            # Whatever its status now: a worker may have claimed (even finished) it already.
            TaskExecution.objects.filter(pk__in=sent).update(sent_at=now)
            self._recovered()
            if len(rows) > LOG_EACH_UP_TO:
                logger.info("Sent %d queued runs to their queues", len(sent))
        return len(sent)

    def check_broker(self) -> bool | None:
        """With nothing sent lately, see whether the broker answers; None when not checked."""
        if not settings.CELERY_BROKER_URL:
            return None
        now = self.monotonic()
        if now < self.retry_at or now < self.answered_at + PROBE_SECONDS:
            return None
        try:
            self.probe()
        except Exception as exc:  # noqa: BLE001 - whatever the broker client raises
            self._failed(exc)
            return False
        self.answered_at = self.monotonic()
        self._recovered()
        return True

    def _log_sent(self, execution: TaskExecution, batch: int) -> None:
        if batch > LOG_EACH_UP_TO:
            return
        again = " again (not claimed since it was sent)" if execution.sent_at else ""
        logger.info("Sent %s #%s to queue %s%s", execution.task.name, execution.pk,
                    execution.task.queue, again)  # fmt: skip

    def _skipped_as_late(self, execution: TaskExecution, now: datetime) -> bool:
        due = execution.scheduled_for or execution.created_at
        late = (now - due).total_seconds()
        if late <= execution.task.misfire_grace_seconds:
            return False
        self._skip(execution, now, _late_reason(execution, late))
        return True

    def _skip(self, execution: TaskExecution, now: datetime, reason: str) -> None:
        if TaskExecution.objects.filter(pk=execution.pk, status=ExecutionStatus.QUEUED).update(
            status=ExecutionStatus.SKIPPED, finished_at=now, duration_ms=0, error=reason
        ):
            logger.warning("Skipped %s #%s: %s", execution.task.name, execution.pk, reason)

    def _failed(self, exc: Exception) -> None:
        message = f"{type(exc).__name__}: {exc}"[:1000]
        if self.broker_error is None:
            logger.error(
                "Broker unreachable (%s); queued runs wait and are sent when it answers", message
            )
            heartbeat.set_broker_error(self.node_id, message)
        else:
            self.backoff = min(self.backoff * 2, MAX_BACKOFF_SECONDS)
        self.broker_error = message
        self.retry_at = self.monotonic() + self.backoff

    def _recovered(self) -> None:
        if self.broker_error is None:
            return
        logger.info("Broker reachable again; queued runs are sent")
        heartbeat.set_broker_error(self.node_id, "")
        self.broker_error, self.backoff, self.retry_at = None, MIN_BACKOFF_SECONDS, 0.0

    def run(self, stop: threading.Event, leading: Callable[[], bool]) -> None:
        """The sender thread: a pass every POLL_SECONDS while this process leads.

        Without a broker only stored rows of tasks that still name a queue can
        show up (to be skipped with the reason), so it looks far less often.
        """
        every = POLL_SECONDS if settings.CELERY_BROKER_URL else NO_BROKER_POLL_SECONDS
        while not stop.is_set():
            if leading():
                self._pass()
            stop.wait(every)

    def _pass(self) -> None:
        try:
            close_old_connections()
            while self.send_due() == BATCH:  # a backlog goes out at once, not a batch per poll
                close_old_connections()
            self.check_broker()
        except (DatabaseError, InterfaceError) as exc:
            logger.error("Sender: database unavailable (%s)", exc)
            self.retry_at = self.monotonic() + MIN_BACKOFF_SECONDS
        except Exception:
            logger.exception("Sender pass failed")
            self.retry_at = self.monotonic() + MIN_BACKOFF_SECONDS


def _no_broker_reason(task: Task) -> str:
    return (
        f"Not run: task {task.name} runs on queue {task.queue!r}, but CELERY_BROKER_URL is not "
        "set for the scheduler; set it, or clear the task's queue to run it in the scheduler."
    )
