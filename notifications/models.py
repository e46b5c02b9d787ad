"""The delivery log (one row per email per recipient, one per channel post)
and the channels (Slack, Discord, webhooks... through Apprise).

Every message the app sends (or decides not to send) leaves a row here. The
alert policy reads this log to decide what to send next, the Healthchecks
way: a task failing every minute produces one alert because the log already
shows one, not because of a counter kept somewhere else. The per-recipient
(and per-channel) rate limit is one indexed count over the same rows.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from notifications import channels


class Kind(models.TextChoices):
    TASK_FAILURE = "task_failure", "Task failing"
    TASK_RECOVERED = "task_recovered", "Task recovered"
    TASK_COMPLETION = "task_completion", "Task completed"
    TASK_OVERDUE = "task_overdue", "Task overdue"
    WEEKLY_REPORT = "weekly_report", "Weekly report"
    MESSAGE = "message", "Message"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    SUPPRESSED = "suppressed", "Suppressed (rate limit)"


# A claimed-but-unfinished delivery counts like a sent one, so two processes
# deciding at once do not both alert.
DELIVERED_OR_SENDING = (DeliveryStatus.SENT, DeliveryStatus.PENDING)


class Event(models.TextChoices):
    """What a channel can subscribe to."""

    FAILURE = "failure", "Failures (first alert, reminders, overdue runs)"
    RECOVERY = "recovery", "Recoveries"
    SUCCESS = "success", "Successes (when success notifications are on)"
    WEEKLY_REPORT = "weekly_report", "Weekly report"


# Which channel event each kind of message belongs to.
EVENT_OF_KIND = {
    Kind.TASK_FAILURE: Event.FAILURE,
    Kind.TASK_OVERDUE: Event.FAILURE,
    Kind.TASK_RECOVERED: Event.RECOVERY,
    Kind.TASK_COMPLETION: Event.SUCCESS,
    Kind.WEEKLY_REPORT: Event.WEEKLY_REPORT,
}


def default_events() -> list[str]:
    return [Event.FAILURE, Event.RECOVERY]


def validate_events(value: object) -> None:
    if not isinstance(value, list) or not all(v in Event.values for v in value):
        raise ValidationError(f"Events must be a list of: {', '.join(Event.values)}.")


class ChannelQuerySet(models.QuerySet):
    def for_kind(self, kind: str, task=None) -> list[Channel]:
        """Enabled channels that want messages of `kind` (about `task`, if any).

        A channel with no tasks chosen hears about every task. Events are
        matched in Python: channels are few, and SQLite has no JSON contains.
        """
        event = EVENT_OF_KIND.get(kind)
        rows = self.filter(enabled=True)
        if task is not None:
            rows = rows.filter(Q(tasks=None) | Q(tasks=task)).distinct()
        return [c for c in rows.order_by("pk") if event in c.events]


class Channel(models.Model):
    """Somewhere besides email that hears about tasks: any service Apprise speaks.

    `url` is a secret (it holds tokens and passwords): it is shown only
    masked (`masked_url`), never logged, and never echoed into a form.
    """

    name = models.CharField(max_length=100, unique=True)
    url = models.CharField(
        "Apprise URL",
        max_length=channels.MAX_URL_LENGTH,
        validators=[channels.check_url],
        help_text="For example slack://TokenA/TokenB/TokenC or json://hooks.example.com/alerts.",
    )
    enabled = models.BooleanField(default=True)
    events = models.JSONField(default=default_events, validators=[validate_events])
    tasks = models.ManyToManyField(
        "scheduling.Task",
        blank=True,
        related_name="notification_channels",
        help_text="Leave empty for every task.",
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ChannelQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def masked_url(self) -> str:
        return channels.masked_url(self.url)


class Delivery(models.Model):
    kind = models.CharField(max_length=20, choices=Kind.choices)
    task = models.ForeignKey(
        "scheduling.Task",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="deliveries",
    )
    # Executions are pruned after EXECUTION_RETENTION_DAYS; the log outlives them.
    execution = models.ForeignKey(
        "scheduling.TaskExecution",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="deliveries",
    )
    # Set for a channel post; then `recipient` holds the channel's name.
    channel = models.ForeignKey(
        Channel, on_delete=models.SET_NULL, null=True, blank=True, related_name="deliveries"
    )
    recipient = models.CharField(
        max_length=254,
        help_text="Each mail goes to one address, so no one sees the others; "
        "for a channel post, the channel's name.",
    )
    subject = models.CharField(max_length=255)
    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = "delivery"
        verbose_name_plural = "deliveries"
        indexes = [
            models.Index(fields=["channel", "created_at"], name="delivery_channel_idx"),
            # The few rows still sending, found without reading the whole log.
            models.Index(
                fields=["created_at"],
                condition=Q(status="pending"),
                name="delivery_pending_idx",
            ),
            models.Index(fields=["recipient", "created_at"], name="delivery_recipient_idx"),
            models.Index(fields=["task", "kind", "created_at"], name="delivery_task_kind_idx"),
            models.Index(fields=["created_at"], name="delivery_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} to {self.recipient} ({self.status})"
