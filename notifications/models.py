"""The delivery log: one row per email per recipient.

Every mail the app sends (or decides not to send) leaves a row here. The
alert policy reads this log to decide what to send next, the Healthchecks
way: a task failing every minute produces one alert because the log already
shows one, not because of a counter kept somewhere else. The per-recipient
rate limit is one indexed count over the same rows.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone


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
    recipient = models.CharField(
        max_length=254, help_text="Each mail goes to one address, so no one sees the others."
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
        verbose_name = "email delivery"
        verbose_name_plural = "email deliveries"
        indexes = [
            models.Index(fields=["recipient", "created_at"], name="delivery_recipient_idx"),
            models.Index(fields=["task", "kind", "created_at"], name="delivery_task_kind_idx"),
            models.Index(fields=["created_at"], name="delivery_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} to {self.recipient} ({self.status})"
