"""Load an audit-log archive back into the database."""

from __future__ import annotations

import gzip
import json
import logging
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.color import no_style
from django.db import connection, transaction

from chirpsyncer.models import AuditLog

logger = logging.getLogger(__name__)

BATCH = 2000


def read_archive(path: Path) -> Iterator[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            try:
                yield json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}: line {number} is not JSON ({exc})") from exc


def _restore_batch(records: list[dict]) -> int:
    """Insert the records whose id is not in the table yet; returns how many were inserted.

    Users deleted since the archive was made become NULL, as the foreign key's
    SET_NULL would have done had the row stayed.
    """
    ids = [r["id"] for r in records]
    present = set(AuditLog.objects.filter(id__in=ids).values_list("id", flat=True))
    users = {r["user_id"] for r in records if r.get("user_id") is not None}
    known_users = set(get_user_model().objects.filter(pk__in=users).values_list("pk", flat=True))
    rows = [
        AuditLog(
            id=r["id"],
            user_id=r["user_id"] if r.get("user_id") in known_users else None,
            action=r["action"],
            resource_type=r.get("resource_type", ""),
            resource_id=r.get("resource_id", ""),
            ip_address=r.get("ip_address"),
            user_agent=r.get("user_agent", ""),
            success=r.get("success", True),
            details=r.get("details", {}),
            created_at=datetime.fromisoformat(r["created_at"]),
        )
        for r in records
        if r["id"] not in present
    ]
    with transaction.atomic():
        AuditLog.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


def restore_archive(path: Path) -> dict:
    """Load every row of the archive at `path` that is not already present (matched by id)."""
    restored = skipped = 0
    batch: list[dict] = []
    for record in read_archive(path):
        batch.append(record)
        if len(batch) == BATCH:
            inserted = _restore_batch(batch)
            restored, skipped = restored + inserted, skipped + len(batch) - inserted
            batch = []
            logger.info("%s: %d rows restored so far", path, restored)
    if batch:
        inserted = _restore_batch(batch)
        restored, skipped = restored + inserted, skipped + len(batch) - inserted
    _reset_sequence()
    return {"restored": restored, "skipped": skipped}


def _reset_sequence() -> None:
    """PostgreSQL: explicit ids do not advance the sequence; make sure it is past them."""
    statements = connection.ops.sequence_reset_sql(no_style(), [AuditLog])
    with connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql)
