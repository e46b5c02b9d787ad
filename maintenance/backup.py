"""Consistent online backups of the default database, with rotation.

SQLite: the backup API copies the database from one read snapshot (WAL lets
the site keep writing meanwhile), then `PRAGMA integrity_check` proves the
copy. Copying the file itself is not safe: of 8 `shutil.copy`s of a live WAL
database, 8 were corrupt. PostgreSQL: `pg_dump -Fc`, proved by `pg_restore
--list`. Every backup is written as `NAME.partial` and renamed only once
checked, so a failed run (unwritable directory, full disk) leaves nothing
that looks like a backup.
"""

from __future__ import annotations

import gzip
import logging
import os
import shutil
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.db import connections
from django.utils import timezone

from maintenance.files import (
    MaintenanceError,
    create_private,
    describe_os_error,
    exclusive_lock,
    fsync_directory,
    prepare_directory,
    remove_quietly,
)

logger = logging.getLogger(__name__)

PREFIX, PARTIAL = "chirpsyncer-", ".partial"
BACKUP_SUFFIXES = (".sqlite3", ".sqlite3.gz", ".dump")
COPY_BLOCK = 1 << 20
SIDE_FILES = ("journal", "wal", "shm")


def backup_name(vendor: str, compressed: bool) -> str:
    """Timestamped (UTC) so names sort in the order the backups were made."""
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S-%f")
    suffix = ".dump" if vendor == "postgresql" else ".sqlite3.gz" if compressed else ".sqlite3"
    return f"{PREFIX}{stamp}{suffix}"


# --- SQLite ----------------------------------------------------------------------------


def sqlite_copy(source: str, target: Path) -> None:
    """Copy `source` into a new database file `target` with the backup API, in one step.

    One step means one read transaction: the copy is a consistent snapshot,
    and (in WAL mode) writers are never blocked. Stepping page by page would
    restart the copy each time another connection writes.
    """
    os.close(create_private(target))  # SQLite keeps the mode of an (empty) existing file
    src = sqlite3.connect(source, timeout=settings.SQLITE_BUSY_TIMEOUT)
    try:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)
            # The copy inherits WAL mode; a rollback-journal file stands alone
            # (no -wal/-shm beside it) and Django switches it back on connect.
            dst.execute("PRAGMA journal_mode=DELETE")
        finally:
            dst.close()
    finally:
        src.close()


def sqlite_integrity(path: Path) -> str:
    """`PRAGMA integrity_check` of the copy; raises MaintenanceError unless it says ok."""
    check = sqlite3.connect(f"file:{quote(str(path))}?mode=ro", uri=True)
    try:
        problems = [row[0] for row in check.execute("PRAGMA integrity_check")]
    finally:
        check.close()
    if problems != ["ok"]:
        raise MaintenanceError(f"Backup {path} failed integrity_check: {problems[:5]}")
    return "ok"


def write_all(fd: int, data: bytes) -> None:
    """The one place compressed backups reach the disk (os.write may write less than asked)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


class _FdWriter:
    def __init__(self, fd: int):
        self.fd = fd

    def write(self, data: bytes) -> int:
        write_all(self.fd, data)
        return len(data)

    def flush(self) -> None:
        pass


def gzip_file(source: Path, target: Path) -> None:
    """Compress `source` into a new file `target` and fsync it."""
    fd = create_private(target)
    try:
        with (
            open(source, "rb") as raw,
            gzip.GzipFile(filename="", mode="wb", fileobj=_FdWriter(fd), compresslevel=6) as out,
        ):
            shutil.copyfileobj(raw, out, COPY_BLOCK)
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def backup_sqlite(source: str, directory: Path, compress: bool) -> dict[str, Any]:
    if not source or source == ":memory:" or "mode=memory" in source:
        raise MaintenanceError("An in-memory SQLite database cannot be backed up")
    final = directory / backup_name("sqlite", compress)
    partial = directory / f"{final.name}{PARTIAL}"  # what gets renamed to `final`
    raw_copy = directory / f"{final.stem}{PARTIAL}" if compress else partial
    try:
        started = time.perf_counter()
        sqlite_copy(source, raw_copy)
        copy_seconds = time.perf_counter() - started
        started = time.perf_counter()
        integrity = sqlite_integrity(raw_copy)
        check_seconds = time.perf_counter() - started
        if compress:
            gzip_file(raw_copy, partial)
        else:
            fsync_file(partial)
        partial.rename(final)
        fsync_directory(directory)
    except (OSError, sqlite3.Error) as exc:
        message = describe_os_error(exc) if isinstance(exc, OSError) else str(exc)
        raise MaintenanceError(f"SQLite backup into {directory} failed: {message}") from exc
    finally:
        for leftover in (raw_copy, partial, *(Path(f"{raw_copy}-{x}") for x in SIDE_FILES)):
            remove_quietly(leftover)  # nothing is left on success: `partial` was renamed
    return {
        "path": str(final),
        "integrity": integrity,
        "copy_seconds": round(copy_seconds, 3),
        "check_seconds": round(check_seconds, 3),
    }


# --- PostgreSQL ------------------------------------------------------------------------


def require_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise MaintenanceError(
            f"{name} was not found on PATH; install the PostgreSQL client tools "
            "(Debian/Ubuntu: apt-get install postgresql-client) matching the server version"
        )
    return path


def pg_connection_args(db: dict[str, Any]) -> tuple[list[str], dict[str, str]]:
    """libpq command-line arguments and environment for Django's database settings."""
    args = ["--no-password"]
    for flag, key in (("--host", "HOST"), ("--port", "PORT"), ("--username", "USER")):
        if db.get(key):
            args.append(f"{flag}={db[key]}")
    env = dict(os.environ)
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = str(db["PASSWORD"])
    if db.get("OPTIONS", {}).get("sslmode"):
        env["PGSSLMODE"] = db["OPTIONS"]["sslmode"]
    return args, env


def _run(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    """Run a PostgreSQL client tool; what it creates (pg_dump's file) is private (umask 077)."""
    result = subprocess.run(argv, env=env, capture_output=True, text=True, check=False, umask=0o077)
    if result.returncode != 0:
        raise MaintenanceError(
            f"{Path(argv[0]).name} exited with {result.returncode}: "
            f"{result.stderr.strip()[-2000:] or 'no error output'}"
        )
    return result


def backup_postgresql(db: dict[str, Any], directory: Path) -> dict[str, Any]:
    pg_dump, pg_restore = require_tool("pg_dump"), require_tool("pg_restore")
    final = directory / backup_name("postgresql", compressed=False)
    partial = directory / f"{final.name}{PARTIAL}"
    args, env = pg_connection_args(db)
    try:
        started = time.perf_counter()
        _run([pg_dump, "--format=custom", f"--file={partial}", *args, db["NAME"]], env)
        copy_seconds = time.perf_counter() - started
        started = time.perf_counter()
        listing = _run([pg_restore, "--list", str(partial)], env).stdout
        check_seconds = time.perf_counter() - started
        entries = sum(1 for line in listing.splitlines() if line and not line.startswith(";"))
        if entries == 0:
            raise MaintenanceError(f"pg_restore --list found nothing in {partial}")
        fsync_file(partial)
        partial.rename(final)
        fsync_directory(directory)
    except OSError as exc:
        raise MaintenanceError(
            f"PostgreSQL backup into {directory} failed: {describe_os_error(exc)}"
        ) from exc
    finally:
        remove_quietly(partial)
    return {
        "path": str(final),
        "integrity": f"pg_restore --list: {entries} entries",
        "copy_seconds": round(copy_seconds, 3),
        "check_seconds": round(check_seconds, 3),
    }


# --- Rotation and the whole run --------------------------------------------------------


def existing_backups(directory: Path) -> list[Path]:
    """Finished backups in `directory`, oldest first (names carry a sortable timestamp)."""
    return sorted(
        p for p in directory.glob(f"{PREFIX}*") if p.is_file() and p.name.endswith(BACKUP_SUFFIXES)
    )


def rotate(directory: Path, keep: int, just_made: Path) -> list[str]:
    """Delete all but the newest `keep` backups; never the one just made."""
    if keep < 1:
        raise ValueError(f"keep must be at least 1, got {keep}")
    backups = existing_backups(directory)
    doomed = [p for p in backups[: max(len(backups) - keep, 0)] if p != just_made]
    for path in doomed:
        logger.info("Rotating out old backup %s", path)
        path.unlink()
    return [p.name for p in doomed]


def remove_stale_partials(directory: Path) -> None:
    for path in directory.glob(f"{PREFIX}*{PARTIAL}"):
        logger.warning("Removing %s, left by a backup that did not finish", path)
        remove_quietly(path)


def backup_default_database(keep: int | None = None, compress: bool | None = None) -> dict:
    """Back up the default database into BACKUP_DIR, check the copy, rotate old ones."""
    keep = settings.BACKUP_KEEP if keep is None else keep
    compress = settings.BACKUP_GZIP if compress is None else compress
    directory = prepare_directory(Path(settings.BACKUP_DIR), "backup")
    db = connections["default"].settings_dict
    vendor = connections["default"].vendor
    with exclusive_lock(directory, "backup"):
        remove_stale_partials(directory)
        if vendor == "sqlite":
            made = backup_sqlite(str(db["NAME"]), directory, compress)
        elif vendor == "postgresql":
            made = backup_postgresql(db, directory)
        else:
            raise MaintenanceError(f"Backups of {vendor} databases are not supported")
        path = Path(made["path"])
        rotated = rotate(directory, keep, path)
    size = path.stat().st_size
    logger.info("Backed up the %s database to %s (%d bytes)", vendor, path, size)
    return {"engine": vendor, "bytes": size, "rotated": rotated, **made}
