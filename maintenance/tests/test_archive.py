import gzip
import hashlib
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from django.conf import settings as django_settings
from django.db import connection

from chirpsyncer.models import AuditLog
from chirpsyncer.tests.factories import AuditLogFactory
from maintenance import archive
from maintenance.files import MaintenanceError
from maintenance.models import AuditArchive
from maintenance.tasks import archive_audit_logs

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
CUTOFF = NOW - timedelta(days=90)


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def old_rows(count: int, **fields) -> list[AuditLog]:
    return AuditLogFactory.create_batch(count, created_at=CUTOFF - timedelta(days=1), **fields)


def lines(path: str) -> list[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def archive_files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.glob("auditlog-*"))


@pytest.mark.django_db
class TestArchiveAuditLogs:
    @pytest.fixture(autouse=True)
    def _setup(self, frozen, archive_dir):
        self.dir = archive_dir

    def test_it_moves_old_rows_into_a_verified_file_and_records_it(self):
        old = old_rows(3, details={"ip": "é", "n": [1, 2]})
        recent = AuditLogFactory(created_at=NOW - timedelta(days=1))

        result = archive_audit_logs()

        assert list(AuditLog.objects.all()) == [recent]
        record = AuditArchive.objects.get()
        data = Path(record.path).read_bytes()
        assert result == {
            "archived": 3,
            "path": record.path,
            "bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
            "files": [
                {"path": record.path, "rows": 3, "bytes": len(data), "sha256": record.sha256}
            ],
            "orphans_removed": 0,
            "cutoff": CUTOFF.isoformat(),
            "seconds": result["seconds"],
        }
        assert set(result["seconds"]) == {"write", "verify", "delete"}
        assert (record.first_id, record.last_id, record.row_count) == (old[0].pk, old[-1].pk, 3)
        assert record.sha256 == result["sha256"] and record.bytes == len(data)
        first = lines(record.path)[0]
        assert first == {
            "id": old[0].pk,
            "user_id": old[0].user_id,
            "action": "login",
            "resource_type": "account",
            "resource_id": "1",
            "ip_address": "10.0.0.1",
            "user_agent": "",
            "success": True,
            "details": {"ip": "é", "n": [1, 2]},
            "created_at": (CUTOFF - timedelta(days=1)).isoformat(),
        }
        assert archive_files(self.dir) == [Path(record.path).name]

    def test_awkward_values_come_back_exactly_as_json_would_write_them(self):
        awkward = old_rows(
            1,
            user=None,
            ip_address=None,
            success=False,
            action='say "hi" \\ then\nleave',
            user_agent="Mozilla/5.0 \u2603 \x01 \u2028 tab\t",
            details={"text": "two\nlines", "nested": {"ok": None}, "emoji": "\U0001f600"},
        )[0]

        path = archive_audit_logs()["path"]

        with gzip.open(path, "rt", encoding="utf-8") as stream:
            (line,) = stream.readlines()
        expected = {
            "id": awkward.pk,
            "user_id": None,
            "action": 'say "hi" \\ then\nleave',
            "resource_type": "account",
            "resource_id": "1",
            "ip_address": None,
            "user_agent": "Mozilla/5.0 \u2603 \x01 \u2028 tab\t",
            "success": False,
            "created_at": (CUTOFF - timedelta(days=1)).isoformat(),
        }
        assert json.loads(line) == {**expected, "details": awkward.details}
        # Byte for byte what json.dumps would write, apart from `details` (stored JSON text).
        head = json.dumps(expected, ensure_ascii=False, separators=(",", ":"))[:-1]
        assert line.startswith(head + ',"details":') and line.endswith("}\n")

    def test_the_cutoff_is_exact(self):
        at_cutoff = AuditLogFactory(created_at=CUTOFF)
        just_older = AuditLogFactory(created_at=CUTOFF - timedelta(microseconds=1))

        result = archive_audit_logs(days_old=90)

        assert result["archived"] == 1
        assert [row["id"] for row in lines(result["path"])] == [just_older.pk]
        assert list(AuditLog.objects.all()) == [at_cutoff]

    def test_days_old_comes_from_the_argument_then_the_setting(self, settings):
        AuditLogFactory(created_at=NOW - timedelta(days=20))
        settings.AUDIT_LOG_RETENTION_DAYS = 30
        assert archive_audit_logs()["archived"] == 0
        assert archive_audit_logs(days_old=10)["archived"] == 1

    def test_a_large_backlog_is_split_into_files_each_committed_on_its_own(self):
        rows = old_rows(10)

        result = archive_audit_logs(rows_per_file=4)

        records = list(AuditArchive.objects.order_by("first_id"))
        assert [r.row_count for r in records] == [4, 4, 2]
        assert [(r.first_id, r.last_id) for r in records] == [
            (rows[0].pk, rows[3].pk),
            (rows[4].pk, rows[7].pk),
            (rows[8].pk, rows[9].pk),
        ]
        archived_ids = [row["id"] for r in records for row in lines(r.path)]
        assert archived_ids == [r.pk for r in rows]
        assert result["archived"] == 10 and len(result["files"]) == 3
        assert not AuditLog.objects.exists()

    def test_it_is_idempotent_and_fine_on_an_empty_table(self):
        empty = archive_audit_logs()
        assert (empty["archived"], empty["path"], empty["sha256"]) == (0, None, None)
        old_rows(2)
        assert archive_audit_logs()["archived"] == 2
        assert archive_audit_logs()["archived"] == 0
        assert AuditArchive.objects.count() == 1
        assert len(archive_files(self.dir)) == 1

    def test_a_failure_before_the_commit_loses_no_row_and_a_rerun_archives_once(self, monkeypatch):
        rows = old_rows(5)

        def crash(*args, **kwargs):
            raise RuntimeError("power cut after the file was written and the rows deleted")

        monkeypatch.setattr(archive, "record_archive", crash)
        with pytest.raises(RuntimeError, match="power cut"):
            archive_audit_logs()
        assert AuditLog.objects.count() == 5  # the delete rolled back
        assert not AuditArchive.objects.exists()
        assert len(archive_files(self.dir)) == 1  # written, verified, never recorded

        monkeypatch.undo()
        result = archive_audit_logs()

        assert result["orphans_removed"] == 1
        assert result["archived"] == 5
        assert AuditArchive.objects.count() == 1
        assert archive_files(self.dir) == [Path(result["path"]).name]
        assert [row["id"] for row in lines(result["path"])] == [r.pk for r in rows]

    def test_a_file_that_fails_verification_is_removed_and_nothing_is_deleted(self, monkeypatch):
        old_rows(3)
        real_read_back = archive.read_back

        def corrupted(path):
            sha256, count, first, last = real_read_back(path)
            return sha256, count - 1, first, last  # a line went missing on disk

        monkeypatch.setattr(archive, "read_back", corrupted)
        with pytest.raises(MaintenanceError, match="failed verification"):
            archive_audit_logs()
        assert AuditLog.objects.count() == 3
        assert archive_files(self.dir) == []

    def test_rows_changed_between_read_and_delete_abort_the_file(self, monkeypatch):
        rows = old_rows(3)
        real_verify = archive.verify

        def verify_then_backdate_a_row(path, written):
            real_verify(path, written)
            AuditLog.objects.filter(pk=rows[1].pk).update(created_at=NOW)  # now too new

        monkeypatch.setattr(archive, "verify", verify_then_backdate_a_row)
        with pytest.raises(MaintenanceError, match="changed while archiving"):
            archive_audit_logs()
        assert AuditLog.objects.count() == 3
        assert not AuditArchive.objects.exists()

    def test_orphans_of_crashed_runs_are_removed_and_recorded_archives_kept(self):
        old_rows(1)
        kept = Path(archive_audit_logs()["path"])
        self.dir.joinpath("auditlog-20250101T000000000000.jsonl.gz.partial").write_bytes(b"x")
        self.dir.joinpath("auditlog-20250101T000000000001-1-9.jsonl.gz").write_bytes(b"x")
        unrelated = self.dir / "README.txt"
        unrelated.write_text("not ours")

        assert archive_audit_logs()["orphans_removed"] == 2

        assert archive_files(self.dir) == [kept.name]
        assert unrelated.exists()

    def test_a_second_run_at_the_same_time_is_refused(self):
        old_rows(1)
        self.dir.mkdir(parents=True, exist_ok=True)
        from maintenance.files import exclusive_lock

        with exclusive_lock(self.dir, "test"), pytest.raises(MaintenanceError, match="running"):
            archive_audit_logs()
        assert AuditLog.objects.count() == 1

    def test_an_unwritable_archive_dir_fails_clearly(self, settings, tmp_path):
        blocker = tmp_path / "file.txt"
        blocker.write_text("a file, not a directory")
        settings.ARCHIVE_DIR = blocker / "archive"
        old_rows(1)
        with pytest.raises(MaintenanceError, match="Cannot create archive directory"):
            archive_audit_logs()
        assert AuditLog.objects.count() == 1


CRASH_SCRIPT = """
import os, sys
import django
django.setup()
from maintenance import archive
from maintenance.tasks import archive_audit_logs

def die(*args, **kwargs):
    os._exit(3)  # the process dies inside the transaction: no rollback, no cleanup

archive.record_archive = die
archive_audit_logs(days_old=90)
"""


def database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.mark.django_db(transaction=True)
def test_a_process_killed_mid_transaction_loses_no_row_and_the_rerun_cleans_up(archive_dir):
    rows = AuditLogFactory.create_batch(4, created_at=timezone_now() - timedelta(days=200))
    env = dict(
        os.environ,
        DATABASE_URL=database_url(),
        ARCHIVE_DIR=str(archive_dir),
        DJANGO_SETTINGS_MODULE="chirpsyncer.settings",
    )
    died = subprocess.run(
        [sys.executable, "-c", CRASH_SCRIPT],
        env=env,
        cwd=django_settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert died.returncode == 3, died.stderr
    assert AuditLog.objects.count() == 4
    assert not AuditArchive.objects.exists()
    assert len(archive_files(archive_dir)) == 1  # the orphan

    result = archive_audit_logs(days_old=90)

    assert result["orphans_removed"] == 1
    assert result["archived"] == 4
    assert AuditArchive.objects.count() == 1
    assert [row["id"] for row in lines(result["path"])] == [r.pk for r in rows]
    assert archive_files(archive_dir) == [Path(result["path"]).name]


def timezone_now() -> datetime:
    return datetime.now(UTC)
