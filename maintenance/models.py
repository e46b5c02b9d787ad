"""What the maintenance tasks remember between runs."""

from django.db import models
from django.utils import timezone


class AuditArchive(models.Model):
    """One verified file of archived audit-log rows.

    Created in the same transaction that deletes the rows, so a row is either
    still in `AuditLog` or listed here (by id range) inside a checked file.
    A file in ARCHIVE_DIR without a row here is an orphan of a crashed run.
    """

    path = models.CharField(max_length=500, unique=True)
    first_id = models.BigIntegerField()
    last_id = models.BigIntegerField()
    row_count = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    bytes = models.PositiveBigIntegerField(help_text="Size of the compressed file.")
    cutoff = models.DateTimeField(help_text="Rows created before this were archived.")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.path} ({self.row_count} rows)"


class Watermark(models.Model):
    """A named point in time a task has processed data up to (e.g. daily stats)."""

    name = models.CharField(max_length=100, unique=True)
    value = models.DateTimeField()
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.name}: {self.value.isoformat()}"


class SyncRecordChange(models.Model):
    """A sync record's user and start time, noted by a database trigger when it changed or went.

    Triggers on the sync record table (`maintenance.sync_changes`) add a row
    for every deleted record, and for every update of a record's user, start
    time, outcome or post count (its values before and after), however the
    change was made: `delete()`, `update()`, the admin, raw SQL. The daily
    stats task recomputes those (user, day) pairs and deletes the rows it
    handled. `user_id` is a plain number: the user may be gone.
    """

    user_id = models.BigIntegerField()
    started_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"user {self.user_id} at {self.started_at.isoformat()}"
