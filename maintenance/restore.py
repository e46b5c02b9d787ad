"""Load an audit-log archive back into the database: all of a file, or none of it.

1. Check the whole file, streaming (one line in memory at a time): the gzip
   stream must be intact to its end and every line a valid row
   (`archive_rows`). The first problem raises RestoreError naming the file,
   the line and the problem; nothing has been written yet.
2. Read it again and insert the rows in batches, all inside one transaction:
   ids already in the table are skipped, users deleted since the archive was
   made become NULL. Any error (the file changed since step 1, the database
   refused a row) rolls the whole file back.
3. On PostgreSQL, move the id sequence past the restored ids.

Checking first keeps a bad file from ever taking SQLite's write lock, and a
file found bad at line 2,001 never inserts 2,000 rows only to undo them.
"""

from __future__ import annotations

import gzip
import logging
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.color import no_style
from django.db import DatabaseError, connection, transaction

from chirpsyncer.models import AuditLog
from maintenance.archive_rows import Limits, RowError, database_limits, parse_line
from scheduling import progress

logger = logging.getLogger(__name__)

BATCH = 2000
MAX_LINE_BYTES = 16 << 20  # far above any real row; bounds memory on a file without newlines


class RestoreError(ValueError):
    """An archive file cannot be restored; nothing from it was inserted."""

    def __init__(self, path: Path, problem: str, line: int | None = None) -> None:
        self.path, self.problem, self.line = path, problem, line
        where = f"line {line}: " if line is not None else ""
        super().__init__(f"{path}: {where}{problem}")


def _lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """The file's lines, numbered from 1; RestoreError where the file is unreadable."""
    number = 0
    try:
        with gzip.open(path, "rb") as stream:
            while line := stream.readline(MAX_LINE_BYTES + 1):
                number += 1
                if len(line) > MAX_LINE_BYTES:
                    raise RestoreError(path, f"longer than {MAX_LINE_BYTES >> 20} MiB", number)
                yield number, line
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        problem = f"the file is truncated or damaged ({exc})"
        raise RestoreError(path, problem, number + 1) from None
    except OSError as exc:
        raise RestoreError(path, f"cannot read it ({exc.strerror or exc})") from None


def rows(path: Path, limits: Limits) -> Iterator[dict[str, Any]]:
    """Every row of the archive as AuditLog field values, or RestoreError at the first bad one."""
    for number, line in _lines(path):
        try:
            yield parse_line(line, limits)
        except RowError as exc:
            raise RestoreError(path, str(exc), number) from None


def check_archive(path: Path, limits: Limits) -> int:
    """Step 1: how many rows the file holds; RestoreError if any line is bad."""
    count = 0
    for count, _ in enumerate(rows(path, limits), start=1):
        if count % BATCH == 0:
            progress.advance(BATCH, "audit rows checked")
    if count % BATCH:
        progress.advance(count % BATCH, "audit rows checked")
    return count


def _batches(items: Iterator[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _insert(batch: list[dict[str, Any]]) -> int:
    """Insert the rows whose id is not in the table yet; returns exactly how many.

    Users deleted since the archive was made become NULL, as the foreign key's
    SET_NULL would have done had the row stayed. An id repeated in the file
    counts once, like an id already present.
    """
    present = set(
        AuditLog.objects.filter(id__in={r["id"] for r in batch}).values_list("id", flat=True)
    )
    users = {r["user_id"] for r in batch if r["user_id"] is not None}
    known_users = set(get_user_model().objects.filter(pk__in=users).values_list("pk", flat=True))
    new: dict[int, AuditLog] = {}
    for row in batch:
        if row["id"] in present or row["id"] in new:
            continue
        if row["user_id"] not in known_users:
            row["user_id"] = None
        new[row["id"]] = AuditLog(**row)
    AuditLog.objects.bulk_create(new.values())
    return len(new)


def _insert_all(path: Path, limits: Limits, expected: int) -> int:
    """Step 2, inside the caller's transaction: returns the number of rows inserted."""
    restored = seen = 0
    for batch in _batches(rows(path, limits), BATCH):
        restored += _insert(batch)
        seen += len(batch)
        progress.advance(len(batch), "audit rows restored")
        logger.info("%s: %d of %d rows read, %d restored so far", path, seen, expected, restored)
    if seen != expected:
        raise RestoreError(path, f"the file changed while it was restored ({expected} -> {seen})")
    return restored


def restore_archive(path: Path) -> dict[str, int]:
    """Restore every row of the archive at `path` not already present (by id), or none.

    Returns {"rows": lines in the file, "restored": rows inserted, "skipped": the rest};
    raises RestoreError, with nothing inserted, when any line is bad.
    """
    limits = database_limits()
    total = check_archive(path, limits)
    try:
        with transaction.atomic():
            restored = _insert_all(path, limits, total)
            _reset_sequence()
    except DatabaseError as exc:
        problem = f"the database refused a row, so nothing was restored ({exc})"
        raise RestoreError(path, problem) from exc
    return {"rows": total, "restored": restored, "skipped": total - restored}


def _reset_sequence() -> None:
    """PostgreSQL: explicit ids do not advance the sequence; make sure it is past them."""
    statements = connection.ops.sequence_reset_sql(no_style(), [AuditLog])
    with connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql)
