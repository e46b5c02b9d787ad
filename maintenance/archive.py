"""Move old audit-log rows into verified, compressed JSON Lines files.

The order of steps is what makes this safe; a crash between any two of them
loses no row and never leaves rows deleted without a recorded archive:

1. Remove orphans of crashed runs: `*.partial` files, and finished-looking
   files with no `AuditArchive` row (their rows were never deleted).
2. Stream up to `rows_per_file` old rows, in id order, into `NAME.partial`
   (gzip JSON Lines; compression runs in a second thread while the first
   reads and encodes), then fsync it.
3. Re-read the file from disk: its sha256 and line count must match what was
   written. Rename it to `NAME` and fsync the directory.
4. In one transaction: delete exactly the archived id range (the deleted
   count must equal the archived count, else roll back) and insert the
   `AuditArchive` row.
5. Repeat from 2 until no old rows remain. Each file is bounded so each
   step-4 transaction holds SQLite's write lock only briefly.
"""

from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from chirpsyncer.models import AuditLog
from maintenance import sqlite
from maintenance.archive_format import (
    COLUMNS,
    PARTIAL,
    PREFIX,
    SUFFIX,
    CompressingWriter,
    encode_row,
    read_back,
)
from maintenance.files import (
    MaintenanceError,
    describe_os_error,
    exclusive_lock,
    fsync_directory,
    prepare_directory,
    remove_quietly,
)
from maintenance.models import AuditArchive
from scheduling import progress

logger = logging.getLogger(__name__)

FETCH_ROWS = 2000


@dataclass(frozen=True)
class WrittenFile:
    path: Path
    first_id: int
    last_id: int
    row_count: int
    sha256: str
    bytes: int


def archive_cutoff(days_old: int, now: datetime | None = None) -> datetime:
    """Rows created strictly before this instant get archived."""
    if days_old < 0:
        raise ValueError(f"days_old must be zero or more, got {days_old}")
    return (now or timezone.now()) - timedelta(days=days_old)


# --- 2. Streaming rows into a file -------------------------------------------------


def _select_old_rows(cutoff: datetime, after_id: int, upper_id: int, limit: int) -> tuple[str, Any]:
    rows = (
        AuditLog.objects.filter(created_at__lt=cutoff, id__gt=after_id, id__lte=upper_id)
        .order_by("id")
        .values_list(*COLUMNS)[:limit]
    )
    return rows.query.sql_with_params()


def write_rows(path: Path, cutoff: datetime, after_id: int, upper_id: int, limit: int) -> dict:
    """Stream the next `limit` old rows after `after_id` into `path`; returns what was written.

    A server-side cursor on PostgreSQL (Django's `chunked_cursor`) and
    SQLite's lazy cursor keep only FETCH_ROWS rows in memory.
    """
    sql, params = _select_old_rows(cutoff, after_id, upper_id, limit)
    writer = CompressingWriter(path)
    first_id = last_id = None
    count = 0
    try:
        with connection.chunked_cursor() as cursor:
            cursor.execute(sql, params)
            while rows := cursor.fetchmany(FETCH_ROWS):
                writer.write("".join(map(encode_row, rows)).encode())
                if first_id is None:
                    first_id = rows[0][0]
                last_id, count = rows[-1][0], count + len(rows)
    except BaseException:
        _abort(writer)
        raise
    sha256, size = writer.close()
    return {
        "first_id": first_id,
        "last_id": last_id,
        "row_count": count,
        "sha256": sha256,
        "bytes": size,
    }


def _abort(writer: CompressingWriter) -> None:
    try:
        writer.close()
    except BaseException:  # the original error is the one to report
        logger.debug("Archive writer failed while aborting", exc_info=True)
    remove_quietly(writer.path)


# --- 3. Verifying the file on disk ---------------------------------------------------


def verify(path: Path, written: dict) -> None:
    """Raise MaintenanceError unless the file on disk is exactly what was written."""
    sha256, lines, first_id, last_id = read_back(path)
    expected = (written["sha256"], written["row_count"], written["first_id"], written["last_id"])
    if (sha256, lines, first_id, last_id) != expected:
        raise MaintenanceError(
            f"Archive {path} failed verification: wrote {expected}, "
            f"read back {(sha256, lines, first_id, last_id)}"
        )


# --- 4. Deleting the rows and recording the archive ------------------------------------


def delete_and_record(written: WrittenFile, cutoff: datetime) -> AuditArchive:
    """Delete the archived id range and record the archive, atomically.

    The count check catches rows that changed between the read and the
    delete (an edited `created_at`, an insert with an explicit id): then
    nothing is deleted and the run fails, to be retried.
    """
    with transaction.atomic():
        in_range = AuditLog.objects.filter(
            id__gte=written.first_id, id__lte=written.last_id, created_at__lt=cutoff
        )
        deleted = in_range.delete()[1].get(AuditLog._meta.label, 0)
        if deleted != written.row_count:
            raise MaintenanceError(
                f"Audit rows {written.first_id}..{written.last_id} changed while archiving "
                f"({written.row_count} archived, {deleted} to delete); nothing was deleted"
            )
        return record_archive(written, cutoff)


def record_archive(written: WrittenFile, cutoff: datetime) -> AuditArchive:
    return AuditArchive.objects.create(
        path=str(written.path),
        first_id=written.first_id,
        last_id=written.last_id,
        row_count=written.row_count,
        sha256=written.sha256,
        bytes=written.bytes,
        cutoff=cutoff,
    )


# --- The whole run ---------------------------------------------------------------------


def remove_orphans(directory: Path) -> int:
    """Delete partial files and archive files no AuditArchive row knows (crashed runs)."""
    candidates = [p for p in directory.glob(f"{PREFIX}*") if p.is_file()]
    finished = [p for p in candidates if p.name.endswith(SUFFIX)]
    recorded = set(
        AuditArchive.objects.filter(path__in=[str(p) for p in finished]).values_list(
            "path", flat=True
        )
    )
    orphans = [p for p in candidates if p.name.endswith(PARTIAL) or str(p) not in recorded]
    for path in orphans:
        logger.warning("Removing %s, left by an archive run that did not finish", path)
        remove_quietly(path)
    if orphans:
        fsync_directory(directory)
    return len(orphans)


def archive_one_file(
    directory: Path,
    cutoff: datetime,
    after_id: int,
    upper_id: int,
    limit: int,
    seconds: dict[str, float] | None = None,
) -> AuditArchive | None:
    """Steps 2-4 for one file; None when no old rows are left.

    `seconds` accumulates the time spent writing, verifying and deleting.
    """
    seconds = {} if seconds is None else seconds
    clock = time.perf_counter()
    stamp = timezone.now().strftime("%Y%m%dT%H%M%S%f")
    partial = directory / f"{PREFIX}{stamp}{SUFFIX}{PARTIAL}"
    final = None
    try:
        written = write_rows(partial, cutoff, after_id, upper_id, limit)
        clock = _lap(seconds, "write", clock)
        if written["row_count"] == 0:
            remove_quietly(partial)
            return None
        verify(partial, written)
        final = directory / f"{PREFIX}{stamp}-{written['first_id']}-{written['last_id']}{SUFFIX}"
        partial.rename(final)
        fsync_directory(directory)
        clock = _lap(seconds, "verify", clock)
    except BaseException as exc:
        # Nothing was deleted yet, so the file is worthless.
        remove_quietly(partial)
        if final is not None:
            remove_quietly(final)
        if isinstance(exc, OSError):
            raise MaintenanceError(
                f"Cannot write archive in {directory}: {describe_os_error(exc)}"
            ) from exc
        raise
    # If this fails the file stays: only the database knows whether the
    # transaction committed, and remove_orphans() asks it on the next run.
    archive = delete_and_record(WrittenFile(path=final, **written), cutoff)
    _lap(seconds, "delete", clock)
    return archive


def _lap(seconds: dict[str, float], phase: str, since: float) -> float:
    now = time.perf_counter()
    seconds[phase] = seconds.get(phase, 0.0) + now - since
    return now


def archive_old_audit_logs(days_old: int, rows_per_file: int | None = None) -> dict:
    """Archive and delete audit-log rows older than `days_old` days; see the module docstring."""
    cutoff = archive_cutoff(days_old)
    limit = rows_per_file or settings.ARCHIVE_ROWS_PER_FILE
    directory = prepare_directory(Path(settings.ARCHIVE_DIR), "archive")
    started = time.monotonic()
    tuning = sqlite.bulk_write_tuning(connection.alias) if connection.vendor == "sqlite" else None
    with exclusive_lock(directory, "audit-log archive run"), tuning or contextlib.nullcontext():
        orphans = remove_orphans(directory)
        # Rows inserted from now on wait for the next run, so the loop ends.
        upper_id = AuditLog.objects.aggregate(top=Max("id"))["top"] or 0
        archives: list[AuditArchive] = []
        after_id, seconds = 0, {"write": 0.0, "verify": 0.0, "delete": 0.0}
        while archive := archive_one_file(directory, cutoff, after_id, upper_id, limit, seconds):
            archives.append(archive)
            after_id = archive.last_id
            progress.advance(archive.row_count, "audit rows archived")
            if tuning:
                sqlite.checkpoint(connection.alias)
            logger.info(
                "Archived %d audit rows so far (%s, %d bytes)",
                sum(a.row_count for a in archives),
                archive.path,
                archive.bytes,
            )
    total = sum(a.row_count for a in archives)
    logger.info(
        "Archived %d audit rows older than %s into %d files in %.1f s",
        total,
        cutoff.isoformat(),
        len(archives),
        time.monotonic() - started,
    )
    last = archives[-1] if archives else None
    return {
        "archived": total,
        "path": last.path if last else None,
        "bytes": sum(a.bytes for a in archives),
        "sha256": last.sha256 if last else None,
        "files": [
            {"path": a.path, "rows": a.row_count, "bytes": a.bytes, "sha256": a.sha256}
            for a in archives
        ],
        "orphans_removed": orphans,
        "cutoff": cutoff.isoformat(),
        "seconds": {phase: round(value, 3) for phase, value in seconds.items()},
    }
