"""Post messages to channels and log every attempt, like `delivery` does for mail.

The same two steps as mail, so the alert policy decides and claims for both
inside one short transaction:

1. `claim` writes one `Delivery` row per channel that wants this kind of
   message: `pending`, or `suppressed` past NOTIFY_MAX_PER_HOUR posts to
   that channel in the last hour.
2. `dispatch` hands the pending rows, once committed, to the background
   sender and returns at once. Each post gets NOTIFY_CHANNEL_TIMEOUT_SECONDS;
   its row ends `sent` or `failed` with what the service answered (URL
   secrets masked). A failure is logged and written to `ErrorLog`, never
   raised.

A row left `pending` by a process killed mid-post would count as an alert
forever; `expire_stale` marks such rows failed, so the next failing run
alerts again.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import close_old_connections, connections, transaction
from django.utils import timezone

from chirpsyncer.models import ErrorLog
from notifications import channels, delivery
from notifications.background import sender
from notifications.delivery import Email
from notifications.models import Channel, Delivery, DeliveryStatus, Kind
from scheduling.models import Task, TaskExecution

logger = logging.getLogger(__name__)

# Colour and icon of the message where the service shows one.
TONES = {
    Kind.TASK_FAILURE: "failure",
    Kind.TASK_OVERDUE: "failure",
    Kind.TASK_RECOVERED: "success",
    Kind.TASK_COMPLETION: "success",
}

# Far longer than any post can take (a timeout, plus the queue ahead of it).
STALE_AFTER = timedelta(minutes=15)
INTERRUPTED = "Interrupted: the process posting it stopped before the service answered."


def claim(
    email: Email, *, task: Task | None = None, execution: TaskExecution | None = None
) -> list[Delivery]:
    """One row per channel that wants `email`'s kind (about `task`): pending or suppressed."""
    return [
        delivery.claim_one(
            email,
            channel.name,
            delivery.sent_last_hour(channel=channel),
            channel=channel,
            task=task,
            execution=execution,
        )
        for channel in Channel.objects.for_kind(email.kind, task)
    ]


def dispatch(rows: list[Delivery], email: Email) -> None:
    """Post the pending rows in the background once the claim is committed."""
    pending = [row.pk for row in rows if row.status == DeliveryStatus.PENDING]
    if pending:
        transaction.on_commit(partial(_submit, pending, email))


def post(email: Email, *, task: Task | None = None) -> list[Delivery]:
    """Claim and dispatch in one go, for messages that need no policy decision."""
    rows = claim(email, task=task)
    dispatch(rows, email)
    return rows


def _submit(ids: list[int], email: Email) -> None:
    for pk in ids:
        if not sender.submit(partial(deliver_one, pk, email)):
            note = f"Not sent: {sender.max_waiting} channel posts were already waiting."
            _record(pk, channels.Answer(False, note))


def deliver_one(pk: int, email: Email) -> Delivery:
    """Post one claimed row's message (in a sender thread) and record the answer."""
    close_old_connections()
    try:
        row = Delivery.objects.select_related("channel").get(pk=pk)
        if row.channel is None:
            return _record(pk, channels.Answer(False, "The channel was deleted before posting."))
        answer = channels.send(
            row.channel.url,
            email.subject,
            email.chat or email.text,
            tone=TONES.get(email.kind, "info"),
            timeout=settings.NOTIFY_CHANNEL_TIMEOUT_SECONDS,
        )
        return _record(pk, answer)
    finally:
        connections.close_all()  # this thread's connections only


def _record(pk: int, answer: channels.Answer) -> Delivery:
    """Store the answer unless the row already ended (expired as interrupted)."""
    status = DeliveryStatus.SENT if answer.ok else DeliveryStatus.FAILED
    fields = {"status": status, "error": "" if answer.ok else answer.text}
    if answer.ok:
        fields["sent_at"] = timezone.now()
    Delivery.objects.filter(pk=pk, status=DeliveryStatus.PENDING).update(**fields)
    row = Delivery.objects.get(pk=pk)
    if answer.ok:
        logger.info("Posted %s to channel %s", row.kind, row.recipient)
    else:
        _log_failure(row, answer)
    return row


def _log_failure(row: Delivery, answer: channels.Answer) -> None:
    logger.error("Could not post %s to channel %s: %s", row.kind, row.recipient, answer.text)
    ErrorLog.objects.create(
        level=ErrorLog.Level.ERROR,
        source="notifications.channel",
        message=f"Could not post {row.kind} {row.subject!r} to channel {row.recipient}: "
        f"{answer.text}",
    )


def expire_stale() -> int:
    """Mark channel posts still `pending` after STALE_AFTER as failed (interrupted)."""
    cutoff = timezone.now() - STALE_AFTER
    expired = Delivery.objects.filter(
        status=DeliveryStatus.PENDING, channel__isnull=False, created_at__lt=cutoff
    ).update(status=DeliveryStatus.FAILED, error=INTERRUPTED)
    if expired:
        logger.warning("Marked %d interrupted channel post(s) failed", expired)
    return expired


def send_test(channel: Channel, user: AbstractBaseUser | None = None) -> channels.Answer:
    """Post a test message to `channel` now (the admin waits) and log it."""
    email = channel_test_message(channel, user)
    row = Delivery.objects.create(
        kind=Kind.MESSAGE, channel=channel, recipient=channel.name, subject=email.subject
    )
    answer = channels.send(
        channel.url, email.subject, email.chat, timeout=settings.NOTIFY_CHANNEL_TIMEOUT_SECONDS
    )
    _record(row.pk, answer)
    return answer


def channel_test_message(channel: Channel, user: AbstractBaseUser | None = None) -> Email:
    who = f" by {user.get_username()}" if user is not None else ""
    text = (
        f'A test message for the channel "{channel.name}", sent{who} from {settings.SITE_URL}.\n'
        "If you can read this, task alerts will reach you here."
    )
    subject = "ChirpSyncer Scheduler: test message"
    return Email(kind=Kind.MESSAGE, subject=subject, text=text, chat=text)
