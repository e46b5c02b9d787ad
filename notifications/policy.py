"""When a task's outcome deserves an email (and a channel post): the alert policy.

Decisions are read from the delivery log and the execution history, never
from one mail per failure (Healthchecks sends from state changes):

- failing (`failed` or `abandoned`, final outcome only): alert if no alert was
  sent since the task last succeeded; remind when the last one is older than
  NOTIFY_REPEAT_HOURS. A failed or suppressed alert does not count as sent,
  so the next failing run tries again.
- succeeding: one "recovered" mail if failure alerts went out since the
  previous success; otherwise a completion mail only with
  NOTIFY_ON_TASK_SUCCESS and the task's `notify_on_success`.
- overdue: one alert per overrunning execution.

Channels get the same decisions as mail: each alert is claimed for every
recipient and every channel that subscribes to its event, and an alert
counts as sent when any of its rows was. Each decision is taken and claimed
(pending delivery rows) while holding the task's row lock, so two processes
finishing runs of one task cannot both alert. Channel posts are handed to
background threads and mail is sent after the lock is released. The
receivers swallow every error: notifications must never fail the task they
report on.
"""

from __future__ import annotations

import logging
import traceback
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from chirpsyncer.models import ErrorLog
from notifications import channel_posts, delivery, emails, recipients
from notifications.models import DELIVERED_OR_SENDING, Delivery, Kind
from scheduling.models import ExecutionStatus, Task, TaskExecution
from scheduling.signals import FinishedFacts

logger = logging.getLogger(__name__)

FAILURE_STATUSES = (ExecutionStatus.FAILED, ExecutionStatus.ABANDONED)


def on_task_finished(
    sender: Any, task: Task, execution: TaskExecution, final: bool = True, **kwargs: Any
) -> None:
    """Receiver of scheduling.signals.task_finished; waits for the final outcome."""
    if final and not _nothing_to_send(task, execution, kwargs.get("facts")):
        _guarded(handle_finished, task, execution)


def _nothing_to_send(
    task: Task, execution: TaskExecution, facts: FinishedFacts | None = None
) -> bool:
    """True for a success right after a success (with success mail off): no news.

    One indexed read, instead of handle_finished's locking transaction and its
    queries on every run of every healthy task; none when the runner read the
    previous outcome with the run's own (`facts`, scheduling.signals.FinishedFacts).
    """
    if execution.status != ExecutionStatus.SUCCESS or settings.NOTIFY_ON_TASK_SUCCESS:
        return False
    if facts is not None:
        return facts.previous_outcome in (None, ExecutionStatus.SUCCESS)
    # Plain SQL: this runs after every run, and building it through the ORM
    # cost more than the runner's own bookkeeping.
    with connection.cursor() as cursor:
        cursor.execute(_PREVIOUS_OUTCOME_SQL, [task.pk, execution.pk, *_OUTCOME_STATUSES])
        row = cursor.fetchone()
    return row is None or row[0] == ExecutionStatus.SUCCESS


_OUTCOME_STATUSES = (ExecutionStatus.SUCCESS, *FAILURE_STATUSES)
_PREVIOUS_OUTCOME_SQL = (
    f"SELECT status FROM {TaskExecution._meta.db_table} WHERE task_id = %s AND id < %s "
    f"AND status IN ({', '.join(['%s'] * len(_OUTCOME_STATUSES))}) ORDER BY id DESC LIMIT 1"
)


def on_task_overdue(sender: Any, task: Task, execution: TaskExecution, **kwargs: Any) -> None:
    """Receiver of scheduling.signals.task_overdue."""
    _guarded(handle_overdue, task, execution)


def _guarded(handler, task: Task, execution: TaskExecution) -> None:
    try:
        handler(task, execution)
    except Exception as exc:
        logger.exception("Notification for %s #%s failed", task.name, execution.pk)
        _record_error(task, execution, exc)


def _record_error(task: Task, execution: TaskExecution, exc: Exception) -> None:
    try:
        ErrorLog.objects.create(
            source="notifications.policy",
            message=f"Could not notify about {task.name} #{execution.pk}: {exc}",
            traceback="".join(traceback.format_exception(exc)),
        )
    except Exception:  # the database itself may be what failed; the log line above stays
        logger.exception("Could not write the ErrorLog row either")


def handle_finished(task: Task, execution: TaskExecution) -> list[Delivery]:
    """Send what the final outcome of `execution` calls for; returns the delivery rows."""
    # The runner's instance predates its counter UPDATE: read the task afresh.
    task = Task.objects.get(pk=task.pk)
    if execution.status in FAILURE_STATUSES:
        return handle_failure(task, execution)
    if execution.status == ExecutionStatus.SUCCESS:
        return handle_success(task, execution)
    return []


def failure_alerts_on(task: Task) -> bool:
    return settings.NOTIFY_ON_TASK_FAILURE and task.notify_on_failure


def handle_failure(task: Task, execution: TaskExecution) -> list[Delivery]:
    """Alert when a task starts failing; remind every NOTIFY_REPEAT_HOURS while it does."""
    if not failure_alerts_on(task):
        return []
    channel_posts.expire_stale()  # a post a dead process left pending is no alert
    with transaction.atomic():
        _lock(task)
        last_alert = last_failure_alert(task, since=previous_success_at(task, execution))
        if last_alert and timezone.now() - last_alert.created_at < repeat_interval():
            return []
        email = emails.task_failure(task, execution, reminder=last_alert is not None)
        claimed = claim(email, task, execution)
    return send(email, *claimed)


def handle_success(task: Task, execution: TaskExecution) -> list[Delivery]:
    """One "recovered" mail after alerted failures, else an optional completion mail."""
    if failure_alerts_on(task):
        recovery = _send_recovery(task, execution)
        if recovery is not None:
            return recovery
    if settings.NOTIFY_ON_TASK_SUCCESS and task.notify_on_success:
        email = emails.task_completion(task, execution)
        return send(email, *claim(email, task, execution))
    return []


def _send_recovery(task: Task, execution: TaskExecution) -> list[Delivery] | None:
    """The recovery mail's deliveries, or None when the streak had no alert."""
    # Not short-cut on task.failure_count: a stale save of the task (an admin
    # form open during runs) writes old counters back; the history is the truth.
    since = previous_success_at(task, execution)
    if not failure_alerted(task, since):
        return None
    with transaction.atomic():
        _lock(task)
        if recovery_sent(task, since):  # a concurrent success got here first
            return None
        email = emails.task_recovered(task, execution, failures=failures_since(task, since))
        claimed = claim(email, task, execution)
    return send(email, *claimed)


def handle_overdue(task: Task, execution: TaskExecution) -> list[Delivery]:
    """One alert per execution that runs past its task's timeout."""
    task = Task.objects.get(pk=task.pk)
    if not failure_alerts_on(task):
        return []
    with transaction.atomic():
        _lock(task)
        if _already_sent(execution, Kind.TASK_OVERDUE):
            return []
        email = emails.task_overdue(task, execution)
        claimed = claim(email, task, execution)
    return send(email, *claimed)


def claim(
    email: delivery.Email, task: Task, execution: TaskExecution
) -> tuple[list[Delivery], list[Delivery]]:
    """Pending rows for the task's mail recipients, and for the channels that want `email`."""
    mails = delivery.claim(email, recipients.for_task(task), task=task, execution=execution)
    return mails, channel_posts.claim(email, task=task, execution=execution)


def send(email: delivery.Email, mails: list[Delivery], posts: list[Delivery]) -> list[Delivery]:
    """Hand the posts to the background (first: mail can take a while), then mail."""
    channel_posts.dispatch(posts, email)
    return delivery.deliver(mails, email) + posts


def repeat_interval() -> timedelta:
    return timedelta(hours=settings.NOTIFY_REPEAT_HOURS)


def _lock(task: Task) -> None:
    # Serialises decisions about one task (PostgreSQL row lock; on SQLite the
    # IMMEDIATE transaction already holds the database's write lock).
    list(Task.objects.select_for_update().filter(pk=task.pk).values_list("pk", flat=True))


def previous_success_at(task: Task, execution: TaskExecution) -> datetime | None:
    """When the task last succeeded before `execution`: where the current streak began."""
    previous = (
        TaskExecution.objects.filter(task=task, status=ExecutionStatus.SUCCESS, pk__lt=execution.pk)
        .order_by("-pk")
        .values_list("finished_at", "created_at")
        .first()
    )
    return (previous[0] or previous[1]) if previous else None


def _failure_deliveries(task: Task, since: datetime | None):
    rows = Delivery.objects.filter(task=task, kind=Kind.TASK_FAILURE)
    return rows.filter(created_at__gt=since) if since else rows


def last_failure_alert(task: Task, since: datetime | None) -> Delivery | None:
    """The newest failure alert actually sent (or being sent) in the current streak."""
    rows = _failure_deliveries(task, since).filter(status__in=DELIVERED_OR_SENDING)
    return rows.order_by("-created_at", "-pk").first()


def failure_alerted(task: Task, since: datetime | None) -> bool:
    """Whether failure alerting fired in this streak (sent or not): then a recovery is news."""
    return _failure_deliveries(task, since).exists()


def recovery_sent(task: Task, since: datetime | None) -> bool:
    rows = Delivery.objects.filter(task=task, kind=Kind.TASK_RECOVERED)
    return (rows.filter(created_at__gt=since) if since else rows).exists()


def failures_since(task: Task, since: datetime | None) -> int:
    rows = TaskExecution.objects.filter(task=task, status__in=FAILURE_STATUSES)
    return (rows.filter(created_at__gt=since) if since else rows).count()


def _already_sent(execution: TaskExecution, kind: str) -> bool:
    return Delivery.objects.filter(
        execution=execution, kind=kind, status__in=DELIVERED_OR_SENDING
    ).exists()
