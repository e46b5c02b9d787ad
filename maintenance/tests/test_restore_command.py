from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import CommandError, call_command

from chirpsyncer.models import AuditLog
from chirpsyncer.tests.factories import AuditLogFactory, UserFactory
from maintenance.tasks import archive_audit_logs

pytestmark = pytest.mark.django_db

OLD = datetime.now(UTC) - timedelta(days=200)


def snapshot() -> list[tuple]:
    return list(
        AuditLog.objects.order_by("id").values_list(
            "id", "user_id", "action", "ip_address", "success", "details", "created_at"
        )
    )


def test_it_loads_an_archive_back_exactly_and_is_idempotent(archive_dir, capsys):
    AuditLogFactory.create_batch(3, created_at=OLD, details={"k": ["v", 1]})
    AuditLogFactory(created_at=OLD, success=False, ip_address=None, user=None)
    before = snapshot()
    path = archive_audit_logs()["path"]
    assert AuditLog.objects.count() == 0

    call_command("restoreauditarchive", path)
    assert snapshot() == before
    assert "Restored 4 audit-log rows" in capsys.readouterr().out

    call_command("restoreauditarchive", path)
    assert snapshot() == before
    assert "Restored 0 audit-log rows" in capsys.readouterr().out


def test_rows_of_deleted_users_come_back_without_a_user(archive_dir):
    gone = UserFactory()
    AuditLogFactory(created_at=OLD, user=gone)
    path = archive_audit_logs()["path"]
    gone.delete()

    call_command("restoreauditarchive", path)

    assert AuditLog.objects.get().user_id is None


def test_restored_rows_do_not_collide_with_new_ones(archive_dir):
    AuditLogFactory.create_batch(2, created_at=OLD)
    path = archive_audit_logs()["path"]
    call_command("restoreauditarchive", path)
    new = AuditLogFactory()  # PostgreSQL: the sequence must be past the restored ids
    assert AuditLog.objects.count() == 3 and new.pk > max(
        AuditLog.objects.exclude(pk=new.pk).values_list("pk", flat=True)
    )


def test_a_missing_file_is_a_command_error(tmp_path):
    with pytest.raises(CommandError, match="is not a file"):
        call_command("restoreauditarchive", tmp_path / "nope.jsonl.gz")


def test_a_damaged_file_is_a_command_error(tmp_path):
    broken = tmp_path / "broken.jsonl.gz"
    broken.write_bytes(b"not gzip")
    with pytest.raises(CommandError, match="Cannot restore"):
        call_command("restoreauditarchive", broken)
