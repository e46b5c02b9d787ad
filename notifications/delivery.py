"""Send one rendered email to many recipients and log every attempt.

Sending happens in two steps so the alert policy can decide and claim inside
one short transaction, then talk to the mail server outside it:

1. `claim` writes one `Delivery` row per recipient: `pending`, or
   `suppressed` when the recipient already had NOTIFY_MAX_PER_HOUR mails in
   the last hour (the count is read from this same log).
2. `deliver` sends the pending rows over one connection, one message per
   recipient, throttled, and marks each row `sent` or `failed`. A failure is
   logged here and in `ErrorLog`; it is never raised to the caller.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.utils import timezone

from chirpsyncer.models import ErrorLog
from notifications.models import DELIVERED_OR_SENDING, Channel, Delivery, DeliveryStatus
from scheduling.models import Task, TaskExecution

logger = logging.getLogger(__name__)

# Pause between two messages of one batch, so a report to many people does
# not trip the mail provider's own rate limits.
THROTTLE_SECONDS = 0.2


@dataclass(frozen=True)
class Email:
    """A rendered message: the same subject and bodies go to every recipient.

    `chat` is the short text channels post (chat services want a few lines,
    not the mail's full page).
    """

    kind: str
    subject: str
    text: str
    html: str = ""
    chat: str = ""


def sent_last_hour(recipient: str | None = None, channel: Channel | None = None) -> int:
    """Messages sent (or being sent) in the last hour to an address, or to a channel."""
    since = timezone.now() - timedelta(hours=1)
    who = {"channel": channel} if channel else {"recipient": recipient, "channel": None}
    return Delivery.objects.filter(
        **who, status__in=DELIVERED_OR_SENDING, created_at__gte=since
    ).count()


def claim(
    email: Email,
    recipients: Iterable[str],
    *,
    task: Task | None = None,
    execution: TaskExecution | None = None,
) -> list[Delivery]:
    """One row per recipient: `pending`, or `suppressed` past the hourly limit."""
    return [
        claim_one(email, recipient, sent_last_hour(recipient), task=task, execution=execution)
        for recipient in recipients
    ]


def claim_one(
    email: Email,
    recipient: str,
    sent_recently: int,
    *,
    channel: Channel | None = None,
    task: Task | None = None,
    execution: TaskExecution | None = None,
) -> Delivery:
    """A `pending` row, or `suppressed` when `sent_recently` reached NOTIFY_MAX_PER_HOUR."""
    over_limit = sent_recently >= settings.NOTIFY_MAX_PER_HOUR
    note = ""
    if over_limit:
        what = "posts" if channel else "mails"
        note = f"{settings.NOTIFY_MAX_PER_HOUR} {what} in the last hour (NOTIFY_MAX_PER_HOUR)"
        logger.warning("Suppressed %s to %s: hourly limit reached", email.kind, recipient)
    return Delivery.objects.create(
        kind=email.kind,
        channel=channel,
        task=task,
        execution=execution,
        recipient=recipient,
        subject=email.subject,
        status=DeliveryStatus.SUPPRESSED if over_limit else DeliveryStatus.PENDING,
        error=note,
    )


def deliver(deliveries: list[Delivery], email: Email) -> list[Delivery]:
    """Send the pending rows; every row ends `sent`, `failed` or `suppressed`."""
    pending = [d for d in deliveries if d.status == DeliveryStatus.PENDING]
    if not pending:
        return deliveries
    try:
        connection = get_connection(fail_silently=False)
        connection.open()
    except Exception as exc:  # noqa: BLE001 - any transport error is logged as a failed delivery
        _fail(pending, email, exc)
        return deliveries
    try:
        for index, item in enumerate(pending):
            if index:
                time.sleep(THROTTLE_SECONDS)
            _send_one(connection, item, email)
    finally:
        _close_quietly(connection)
    return deliveries


def send(
    email: Email,
    recipients: Iterable[str],
    *,
    task: Task | None = None,
    execution: TaskExecution | None = None,
) -> list[Delivery]:
    """Claim and deliver in one go, for mail that needs no policy decision."""
    return deliver(claim(email, recipients, task=task, execution=execution), email)


def _message(email: Email, recipient: str, connection) -> EmailMultiAlternatives:
    message = EmailMultiAlternatives(
        email.subject, email.text, to=[recipient], connection=connection
    )
    if email.html:
        message.attach_alternative(email.html, "text/html")
    return message


def _send_one(connection, item: Delivery, email: Email) -> None:
    try:
        _message(email, item.recipient, connection).send()
    except Exception as exc:  # noqa: BLE001 - recorded on the row and in ErrorLog
        _fail([item], email, exc)
        # The server may have dropped us; the next send opens a fresh connection.
        _close_quietly(connection)
        return
    item.status, item.sent_at = DeliveryStatus.SENT, timezone.now()
    item.save(update_fields=["status", "sent_at"])


def _fail(items: list[Delivery], email: Email, exc: BaseException) -> None:
    reason = f"{type(exc).__name__}: {exc}"
    Delivery.objects.filter(pk__in=[d.pk for d in items]).update(
        status=DeliveryStatus.FAILED, error=reason
    )
    for item in items:
        item.status, item.error = DeliveryStatus.FAILED, reason
    addresses = ", ".join(d.recipient for d in items)
    logger.error("Could not send %s mail to %s: %s", email.kind, addresses, reason)
    ErrorLog.objects.create(
        level=ErrorLog.Level.ERROR,
        source="notifications.email",
        message=f"Could not send {email.kind} mail {email.subject!r} to {addresses}: {reason}",
        traceback="".join(traceback.format_exception(exc)),
    )


def _close_quietly(connection) -> None:
    try:
        connection.close()
    except Exception:  # a dead connection may fail to say goodbye; nothing to do
        logger.debug("Closing the mail connection failed", exc_info=True)
