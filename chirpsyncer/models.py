"""ChirpSyncer's own data: what the maintenance tasks keep clean.

Names are contract (shared/DESIGN.md). Timestamps default to `timezone.now`
rather than `auto_now_add` so demo data and tests can place rows in the past.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone


class Credential(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="credentials"
    )
    platform = models.CharField(max_length=50)
    label = models.CharField(max_length=100, blank=True)
    secret = models.TextField(help_text="API token or password for the platform.")
    is_active = models.BooleanField(default=True)
    last_used_at = models.DateTimeField(null=True, blank=True, help_text="Empty: never used.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["user_id", "platform", "label"]
        indexes = [
            models.Index(fields=["is_active", "last_used_at"], name="credential_activity_idx")
        ]

    def __str__(self) -> str:
        return f"{self.platform}:{self.label or self.pk} ({self.user})"


class AuditLog(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="audit_logs",
    )
    action = models.CharField(max_length=100)
    resource_type = models.CharField(max_length=50, blank=True)
    resource_id = models.CharField(max_length=100, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.TextField(blank=True)
    success = models.BooleanField(default=True)
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.action} by {self.user or 'system'}"


class SyncRecord(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sync_records"
    )
    platform = models.CharField(max_length=50)
    started_at = models.DateTimeField(default=timezone.now, db_index=True)
    success = models.BooleanField(default=True)
    posts_synced = models.PositiveIntegerField(default=0)
    duration_ms = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    # Lets the daily aggregation find records added or changed since its last run,
    # including late records for old days.
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        state = "ok" if self.success else "failed"
        return f"{self.platform} sync for {self.user} at {self.started_at:%Y-%m-%d %H:%M} ({state})"


class DailySyncStat(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="daily_sync_stats"
    )
    date = models.DateField()
    total_syncs = models.PositiveIntegerField(default=0)
    successful_syncs = models.PositiveIntegerField(default=0)
    failed_syncs = models.PositiveIntegerField(default=0)
    posts_synced = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-date", "user_id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "date"], name="daily_sync_stat_user_date")
        ]

    def __str__(self) -> str:
        return f"{self.user} on {self.date}: {self.total_syncs} syncs"


class ErrorLog(models.Model):
    class Level(models.TextChoices):
        DEBUG = "DEBUG"
        INFO = "INFO"
        WARNING = "WARNING"
        ERROR = "ERROR"
        CRITICAL = "CRITICAL"

    level = models.CharField(max_length=10, choices=Level.choices, default=Level.ERROR)
    source = models.CharField(max_length=100)
    message = models.TextField()
    traceback = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.level} {self.source}: {self.message[:60]}"
