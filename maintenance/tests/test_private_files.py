"""Backups and archives are readable by their owner only (0600), from the first byte.

They hold password hashes, session keys and credential secrets. Each test runs
the real task under the usual umask 022 (under which a plain open() makes
0644 files), forbids chmod so the mode cannot be fixed up after writing, and
looks at the file's mode while its data is being written as well as at the end.
"""

import gzip
import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.db import connection

from chirpsyncer.tests.factories import AuditLogFactory
from maintenance import archive_format, backup
from maintenance.tasks import archive_audit_logs, backup_database

sqlite_only = pytest.mark.skipif(connection.vendor != "sqlite", reason="the SQLite backup")
postgresql_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="pg_dump")


def mode(path: Path | str) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture(autouse=True)
def usual_umask(monkeypatch):
    """umask 022, and no chmod: a file that is 0600 was created 0600."""
    previous = os.umask(0o022)

    def forbidden(*args, **kwargs):
        raise AssertionError(f"chmod{args} after creation: the file was readable until then")

    monkeypatch.setattr(os, "chmod", forbidden)
    monkeypatch.setattr(os, "fchmod", forbidden)
    yield
    os.umask(previous)


@pytest.fixture
def nested_backup_dir(settings, tmp_path):
    settings.BACKUP_DIR = tmp_path / "var" / "backups"
    return settings.BACKUP_DIR


@pytest.fixture
def seen_while_writing(monkeypatch):
    """Modes of the files in the backup directory, taken while the backup is being made."""
    seen: dict[str, int] = {}
    check, write_all = backup.sqlite_integrity, backup.write_all

    def integrity(path):
        seen[Path(path).name] = mode(path)  # the full uncompressed copy, before any rename
        return check(path)

    def write(fd, data):
        seen.setdefault("gzip", stat.S_IMODE(os.fstat(fd).st_mode))  # the first write
        write_all(fd, data)

    monkeypatch.setattr(backup, "sqlite_integrity", integrity)
    monkeypatch.setattr(backup, "write_all", write)
    return seen


@sqlite_only
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
def test_a_sqlite_backup_is_private_from_the_first_byte(
    nested_backup_dir, seen_while_writing, compress
):
    AuditLogFactory.create_batch(5)
    path = backup_database(gzip=compress)["path"]
    assert mode(path) == 0o600
    assert set(seen_while_writing.values()) == {0o600}
    assert len(seen_while_writing) == (2 if compress else 1)
    assert mode(nested_backup_dir) == 0o700  # created here, so not world-readable
    if compress:
        with gzip.open(path) as stream:
            assert stream.read(16) == b"SQLite format 3\x00"


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_a_postgresql_backup_is_private_from_the_first_byte(nested_backup_dir, monkeypatch):
    seen = {}
    run = backup._run

    def spy(argv, env):
        result = run(argv, env)
        if Path(argv[0]).name == "pg_dump":  # the whole dump, before it is checked and renamed
            (partial,) = nested_backup_dir.glob("*.partial")
            seen["pg_dump"] = mode(partial)
        return result

    monkeypatch.setattr(backup, "_run", spy)
    AuditLogFactory.create_batch(5)
    path = backup_database()["path"]
    assert seen == {"pg_dump": 0o600}
    assert mode(path) == 0o600
    assert mode(nested_backup_dir) == 0o700


@pytest.mark.django_db
def test_an_audit_archive_is_private_from_the_first_byte(settings, tmp_path, monkeypatch):
    settings.ARCHIVE_DIR = tmp_path / "var" / "archive"
    seen = []
    write = archive_format._HashingFile.write

    def spy(self, data):
        seen.append(stat.S_IMODE(os.fstat(self.handle.fileno()).st_mode))
        return write(self, data)

    monkeypatch.setattr(archive_format._HashingFile, "write", spy)
    AuditLogFactory.create_batch(5, created_at=datetime.now(UTC) - timedelta(days=200))
    result = archive_audit_logs(rows_per_file=2)
    assert [f["rows"] for f in result["files"]] == [2, 2, 1]
    assert seen and set(seen) == {0o600}
    assert {mode(f["path"]) for f in result["files"]} == {0o600}
    assert mode(settings.ARCHIVE_DIR) == 0o700


@pytest.mark.django_db
def test_an_existing_directory_keeps_the_mode_its_owner_chose(settings, tmp_path):
    shared = tmp_path / "archive"
    shared.mkdir(mode=0o750)
    settings.ARCHIVE_DIR = shared
    AuditLogFactory(created_at=datetime.now(UTC) - timedelta(days=200))
    path = archive_audit_logs()["path"]
    assert mode(shared) == 0o750 and mode(path) == 0o600
