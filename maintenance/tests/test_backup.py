import errno
import gzip
import os
import shutil
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from django.db import connection, connections

from chirpsyncer.models import AuditLog, ErrorLog
from chirpsyncer.tests.factories import AuditLogFactory, ErrorLogFactory, UserFactory
from maintenance import backup
from maintenance.files import MaintenanceError
from maintenance.tasks import backup_database

sqlite_only = pytest.mark.skipif(
    connection.vendor != "sqlite", reason="exercises the SQLite backup API"
)
postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="exercises pg_dump / pg_restore"
)


def backups(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.glob("chirpsyncer-*"))


def table_counts(conn: sqlite3.Connection) -> dict[str, int]:
    names = [
        row[0]
        for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")
        if not row[0].startswith("sqlite_")
    ]
    return {name: conn.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0] for name in names}


@sqlite_only
@pytest.mark.django_db(transaction=True)
def test_a_sqlite_backup_restores_with_the_same_row_counts(backup_dir, tmp_path):
    AuditLogFactory.create_batch(30)
    ErrorLogFactory.create_batch(7)

    result = backup_database(gzip=False)

    assert result["integrity"] == "ok"
    assert result["engine"] == "sqlite"
    assert Path(result["path"]).stat().st_size == result["bytes"]
    # Restore = copy the backup file into place; here, next to the live one.
    restored = tmp_path / "restored.sqlite3"
    shutil.copyfile(result["path"], restored)
    live = sqlite3.connect(connection.settings_dict["NAME"])
    copy = sqlite3.connect(restored)
    assert table_counts(copy) == table_counts(live)
    assert table_counts(copy)["chirpsyncer_auditlog"] == 30 + 0
    live.close()
    copy.close()


@sqlite_only
@pytest.mark.django_db(transaction=True)
def test_a_gzipped_backup_decompresses_to_a_sound_database(backup_dir, tmp_path):
    ErrorLogFactory.create_batch(5)

    result = backup_database(gzip=True)

    assert result["path"].endswith(".sqlite3.gz")
    restored = tmp_path / "restored.sqlite3"
    with gzip.open(result["path"], "rb") as src, open(restored, "wb") as dst:
        shutil.copyfileobj(src, dst)
    conn = sqlite3.connect(restored)
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert conn.execute("SELECT count(*) FROM chirpsyncer_errorlog").fetchone() == (5,)
    conn.close()
    assert backups(backup_dir) == [Path(result["path"]).name]


@sqlite_only
@pytest.mark.django_db(transaction=True)
def test_a_backup_taken_while_another_thread_writes_passes_integrity_check(backup_dir):
    user = UserFactory()
    AuditLog.objects.bulk_create(
        [
            AuditLog(user=user, action="seed", details={"n": n, "pad": "x" * 200})
            for n in range(20000)
        ]
    )
    stop, written = threading.Event(), []

    def writer():
        try:
            while not stop.is_set():
                AuditLog.objects.create(user_id=user.pk, action="during-backup")
                written.append(1)
        finally:
            connections.close_all()

    thread = threading.Thread(target=writer)
    thread.start()
    deadline = time.monotonic() + 30
    while len(written) < 20 and time.monotonic() < deadline:
        time.sleep(0.01)  # wait until the writer is really writing (polled, with a deadline)
    try:
        before = AuditLog.objects.count()
        result = backup_database()
        writes_during_backup = len(written)
        after = AuditLog.objects.count()
    finally:
        stop.set()
        thread.join()

    assert writes_during_backup >= 20
    copy = sqlite3.connect(result["path"])
    assert copy.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    copied = copy.execute("SELECT count(*) FROM chirpsyncer_auditlog").fetchone()[0]
    copy.close()
    assert before <= copied <= after  # one consistent snapshot from inside the run


@pytest.mark.django_db(transaction=True)
def test_rotation_keeps_the_newest_backups(backup_dir):
    made = [Path(backup_database(keep=3)["path"]).name for _ in range(5)]
    assert backups(backup_dir) == sorted(made[-3:])


@pytest.mark.django_db(transaction=True)
def test_rotation_never_deletes_the_backup_it_just_made(backup_dir):
    backup_dir.mkdir(parents=True)
    # A backup that sorts after today's (a clock that was once wrong).
    future = backup_dir / "chirpsyncer-29991231-000000-000000.sqlite3"
    future.write_bytes(b"")
    if connection.vendor == "postgresql":
        future = future.rename(future.with_suffix(".dump"))

    result = backup_database(keep=1)

    assert Path(result["path"]).exists()
    assert future.exists()
    assert result["rotated"] == []


@pytest.mark.django_db(transaction=True)
def test_rotation_reads_keep_from_settings(backup_dir, settings):
    settings.BACKUP_KEEP = 2
    for _ in range(3):
        backup_database()
    assert len(backups(backup_dir)) == 2


@pytest.mark.django_db(transaction=True)
def test_an_unwritable_backup_dir_fails_clearly_and_leaves_nothing(settings, tmp_path):
    blocker = tmp_path / "file.txt"
    blocker.write_text("a regular file: nothing can be created under it, not even by root")
    settings.BACKUP_DIR = blocker / "sub"

    with pytest.raises(MaintenanceError, match=r"Cannot create backup directory .*file\.txt/sub"):
        backup_database()

    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.txt"]


@sqlite_only
@pytest.mark.django_db(transaction=True)
def test_a_full_disk_fails_clearly_and_removes_the_partial_file(backup_dir, monkeypatch):
    ErrorLogFactory.create_batch(50, message="x" * 2000)
    real_write = os.write
    calls = []

    def write_until_the_disk_fills(fd, data):
        if os.readlink(f"/proc/self/fd/{fd}").endswith(".partial"):
            calls.append(len(data))
            if len(calls) > 1:  # the first block fits, then the disk is full
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, data)

    monkeypatch.setattr(backup.os, "write", write_until_the_disk_fills)
    with pytest.raises(MaintenanceError, match="disk is full"):
        backup_database(gzip=True)

    assert len(calls) >= 2
    assert backups(backup_dir) == []  # neither the copy nor the half-written .gz is left


@sqlite_only
@pytest.mark.django_db(transaction=True)
def test_a_corrupt_copy_is_rejected_and_removed(backup_dir, monkeypatch):
    real_copy = backup.sqlite_copy

    def copy_then_corrupt(source, target):
        real_copy(source, target)
        with open(target, "r+b") as handle:
            handle.seek(4096 + 8)
            handle.write(b"\xff" * 64)  # scribble over the second page

    ErrorLogFactory.create_batch(200)
    monkeypatch.setattr(backup, "sqlite_copy", copy_then_corrupt)
    with pytest.raises(MaintenanceError):
        backup_database()
    assert backups(backup_dir) == []


@pytest.mark.django_db
def test_a_missing_pg_dump_is_named_in_the_error(monkeypatch, backup_dir):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(MaintenanceError, match="pg_dump was not found"):
        backup.backup_postgresql({"NAME": "x"}, backup_dir)


def test_pg_arguments_come_from_the_database_settings():
    args, env = backup.pg_connection_args(
        {
            "HOST": "db.internal",
            "PORT": 6432,
            "USER": "app",
            "PASSWORD": "s3cret",
            "OPTIONS": {"sslmode": "require"},
        }
    )
    assert args == ["--no-password", "--host=db.internal", "--port=6432", "--username=app"]
    assert env["PGPASSWORD"] == "s3cret" and env["PGSSLMODE"] == "require"


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_a_postgresql_backup_restores_with_the_same_row_counts(backup_dir):
    import psycopg

    AuditLogFactory.create_batch(30)
    ErrorLogFactory.create_batch(7)

    result = backup_database()

    assert result["engine"] == "postgresql"
    assert result["path"].endswith(".dump")
    assert result["integrity"].startswith("pg_restore --list: ")
    db = connection.settings_dict
    target = f"{db['NAME']}_restored"
    args, env = backup.pg_connection_args(db)
    admin = dict(host=db["HOST"], port=db["PORT"] or 5432, user=db["USER"], dbname="postgres")
    with psycopg.connect(**admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{target}"')
        conn.execute(f'CREATE DATABASE "{target}"')
    try:
        restore = [shutil.which("pg_restore"), "--no-owner", f"--dbname={target}", *args]
        import subprocess

        subprocess.run([*restore, result["path"]], env=env, check=True, capture_output=True)
        with psycopg.connect(**{**admin, "dbname": target}) as copy:
            for model in (AuditLog, ErrorLog):
                table = model._meta.db_table
                copied = copy.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                assert copied == model.objects.count()
    finally:
        with psycopg.connect(**admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{target}"')
