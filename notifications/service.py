"""`NotificationService`: the seed's email API, kept for scripts and callers.

The alert policy (`notifications.policy`) does not go through this class; it
is the entry point for code that wants to send a mail itself. Every method
sends through Django's email backend, logs each recipient in the delivery
log, respects the hourly limit and returns True only when every recipient's
mail was accepted by the backend. Mail problems (a dead or refusing server,
bad addresses) are logged and answered with False, never raised. A task name
need not be a Task row (scripts report jobs of their own): such a mail just
has no link to a task page.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.mail import get_connection
from django.core.mail.backends.smtp import EmailBackend as SMTPBackend

from notifications import channel_posts, delivery, emails, recipients, report
from notifications.models import Channel, Delivery, DeliveryStatus, Kind
from scheduling.models import Task, TaskExecution

logger = logging.getLogger(__name__)

Recipients = str | Iterable[str] | None


def all_sent(deliveries: list[Delivery]) -> bool:
    return bool(deliveries) and all(d.status == DeliveryStatus.SENT for d in deliveries)


def deliver_weekly_report(to: Recipients = None, *, to_channels: bool = False) -> list[Delivery]:
    """Build last week's report and mail it (by default to staff and ADMINS).

    With `to_channels`, also post its summary to the channels subscribed to
    the weekly report (in the background, like alerts).
    """
    addresses = recipients.parse_addresses(to) if to else recipients.staff_and_admins()
    if not addresses:
        logger.warning("Weekly report not mailed: no staff user with an email and no ADMINS")
    if not addresses and not (to_channels and Channel.objects.for_kind(Kind.WEEKLY_REPORT)):
        return []
    email = emails.weekly_report(report.build())
    posts = channel_posts.post(email) if to_channels else []
    return (delivery.send(email, addresses) if addresses else []) + posts


class NotificationService:
    """Send ChirpSyncer's emails: free-form, task outcomes, the weekly report."""

    def send_email(self, to: Recipients, subject: str, body: str, html: bool = False) -> bool:
        """Send `body` (plain text, or HTML with a text alternative made from it)."""
        email = emails.message(subject, body, html=html)
        return all_sent(delivery.send(email, recipients.parse_addresses(to)))

    def notify_task_completion(self, task_name: str, result: Any, recipients: Recipients) -> bool:
        """Tell `recipients` that `task_name` completed with `result`."""
        task, execution = _task_and_latest_run(task_name)
        email = emails.task_completion(task, execution, result=result)
        return self._send_about(task, execution, email, recipients)

    def notify_task_failure(self, task_name: str, error: str, recipients: Recipients) -> bool:
        """Tell `recipients` that `task_name` failed with `error`."""
        task, execution = _task_and_latest_run(task_name)
        email = emails.task_failure(task, execution, error=str(error))
        return self._send_about(task, execution, email, recipients)

    def send_weekly_report(self, recipients: Recipients = None) -> bool:
        """Mail last week's report; without recipients, to staff and ADMINS."""
        return all_sent(deliver_weekly_report(recipients))

    def test_connection(self) -> bool:
        """Whether the SMTP server accepts a connection (and login); logs why not."""
        if not settings.SMTP_ENABLED:
            logger.warning("SMTP_ENABLED is false: mail is printed to the console, never sent")
            return False
        connection = get_connection(fail_silently=False)
        if not isinstance(connection, SMTPBackend):
            logger.warning("EMAIL_BACKEND %s does not send over SMTP", settings.EMAIL_BACKEND)
            return False
        try:
            connection.open()
            connection.close()
        except Exception as exc:  # noqa: BLE001 - the answer is False plus the logged reason
            logger.warning(
                "SMTP server %s:%s refused: %s: %s",
                connection.host,
                connection.port,
                type(exc).__name__,
                exc,
            )
            return False
        logger.info("SMTP server %s:%s accepted the connection", connection.host, connection.port)
        return True

    @staticmethod
    def _send_about(
        task: Task, execution: TaskExecution | None, email: delivery.Email, to: Recipients
    ) -> bool:
        addresses = recipients.parse_addresses(to)
        task = task if task.pk else None  # a name only: nothing to link the log row to
        return all_sent(delivery.send(email, addresses, task=task, execution=execution))


def _task_and_latest_run(task_name: str) -> tuple[Task, TaskExecution | None]:
    """The task's row and latest run; for an unknown name, an unsaved Task of that name."""
    task = Task.objects.filter(name=str(task_name)).first()
    if task is None:
        return Task(name=str(task_name)), None
    return task, TaskExecution.objects.filter(task=task).order_by("-pk").first()
