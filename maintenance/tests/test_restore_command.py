import gzip
import json
import tracemalloc
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection

from chirpsyncer.models import AuditLog
from chirpsyncer.tests.factories import AuditLogFactory, UserFactory
from maintenance import restore
from maintenance.archive_format import encode_row
from maintenance.archive_rows import database_limits, parse_line
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


# --- All or nothing per file -------------------------------------------------------------


ROW = b'{"id": 1, "action": "a", "created_at": "2024-01-01T00:00:00+00:00"'


def old_rows(count: int) -> None:
    """`count` old audit rows, inserted in one statement (factories would take seconds)."""
    user = UserFactory()
    AuditLog.objects.bulk_create(
        AuditLog(
            user=user if i % 3 else None,
            action=f"action-{i}",
            resource_type="account",
            resource_id=str(i),
            ip_address="10.0.0.1" if i % 2 else "2001:db8::1",
            details={"n": i, "tags": ["a", "é"]},
            created_at=OLD + timedelta(seconds=i),
        )
        for i in range(count)
    )


@pytest.fixture
def archive_2500(archive_dir) -> tuple[Path, list[tuple]]:
    """A real archive of 2,500 rows, written by the real task, and the rows it holds."""
    old_rows(2500)
    before = snapshot()
    path = Path(archive_audit_logs()["path"])
    assert AuditLog.objects.count() == 0
    return path, before


def archive_lines(count: int) -> list[bytes]:
    """`count` lines exactly as the archive task writes them (its own encoder), no database."""
    return [
        encode_row(
            (i, None, f"action-{i}", "account", str(i), "10.0.0.1", "ua", True, '{"n": 1}', OLD)
        ).encode()
        for i in range(1, count + 1)
    ]


def decompressed_lines(path: Path) -> list[bytes]:
    with gzip.open(path, "rb") as stream:
        return stream.readlines()


def write_lines(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(gzip.compress(b"".join(lines)))
    return path


def refused(path: Path, line: int | None, problem: str) -> CommandError:
    with pytest.raises(CommandError) as caught:
        call_command("restoreauditarchive", str(path))
    message = str(caught.value)
    assert str(path) in message
    if line is not None:
        assert f"line {line}: " in message
    assert problem in message, message
    assert AuditLog.objects.count() == 0  # not one row from the file
    return caught.value


def test_a_truncated_gzip_of_2500_rows_restores_nothing_and_names_the_line(archive_2500, tmp_path):
    path, _ = archive_2500
    data = path.read_bytes()
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(data[: len(data) * 9 // 10])
    complete = zlib.decompressobj(wbits=31).decompress(cut.read_bytes()).count(b"\n")
    assert complete > 2000  # the old restore had committed 2,000 rows by then
    refused(cut, complete + 1, "the file is truncated or damaged")


def test_a_bad_line_after_line_2000_restores_nothing(archive_2500, tmp_path):
    path, _ = archive_2500
    lines = decompressed_lines(path)
    lines[2100] = b'{"id": 5, "action": "x", \n'
    refused(write_lines(tmp_path / "bad.jsonl.gz", lines), 2101, "not JSON")


def test_the_lines_the_bad_line_tests_start_from_restore_as_they_are(tmp_path):
    call_command("restoreauditarchive", str(write_lines(tmp_path / "ok.gz", archive_lines(2500))))
    assert AuditLog.objects.count() == 2500


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda row: [1, 2], "expected a JSON object, found an array"),
        (lambda row: {**row, "created_at": 1718000000}, "created_at: expected an ISO 8601"),
        (lambda row: {**row, "action": None}, "action: expected a string, found null"),
        (lambda row: {k: v for k, v in row.items() if k != "action"}, "missing required key"),
        (lambda row: {**row, "ip_address": "10.0.0.999"}, "ip_address: '10.0.0.999' is not"),
        (lambda row: {**row, "id": "7"}, "id: expected an integer, found a string"),
        (lambda row: {**row, "id": True}, "id: expected an integer, found true/false"),
        (lambda row: {**row, "id": 2**63}, "id: 9223372036854775808 is out of range"),
        (lambda row: {**row, "user_id": 1.5}, "user_id: expected an integer, found a number"),
        (lambda row: {**row, "success": "yes"}, "success: expected true or false"),
        (lambda row: {**row, "details": None}, "details: expected a JSON value other than null"),
        (lambda row: {**row, "action": "a" * 101}, "action: longer than 100 characters"),
        (lambda row: {**row, "created_at": "2024-01-01T00:00:00"}, "has no UTC offset"),
        (lambda row: {**row, "created_at": "9999-12-31T23:59:00-12:00"}, "out of range"),
        (lambda row: {**row, "actoin": "x"}, "unknown key(s) actoin"),
    ],
)
def test_a_line_with_a_wrong_shape_or_type_restores_nothing(tmp_path, change, problem):
    lines = archive_lines(2500)
    lines[1500] = json.dumps(change(json.loads(lines[1500]))).encode() + b"\n"
    refused(write_lines(tmp_path / "bad.jsonl.gz", lines), 1501, problem)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (ROW + b', "details": NaN}', "NaN is not a JSON value"),
        (ROW + b', "details": 1e999}', "the number 1e999 is too large"),
        (ROW + b', "resource_id": "\\ud800"}', "resource_id: contains a lone surrogate"),
        (ROW + b', "details": {"k": ["\\udfff"]}}', "details: contains a lone surrogate"),
        (b"\xff\xfe{}", "not UTF-8 text"),
        (b"   ", "the line is empty"),
        (b"[" * 100_000, "not JSON"),
    ],
)
def test_values_no_database_stores_are_refused_before_anything_is_inserted(tmp_path, text, problem):
    lines = archive_lines(2500)
    lines.insert(2200, text + b"\n")
    refused(write_lines(tmp_path / "bad.jsonl.gz", lines), 2201, problem)


def test_a_nul_character_is_restored_where_the_database_can_store_it(archive_dir, tmp_path):
    path = write_lines(tmp_path / "nul.jsonl.gz", [ROW + b', "resource_id": "a\\u0000b"}\n'])
    if connection.vendor == "postgresql":
        refused(path, 1, "resource_id: contains a NUL character, which PostgreSQL cannot store")
    else:
        call_command("restoreauditarchive", str(path))
        assert AuditLog.objects.get().resource_id == "a\x00b"


def test_a_good_archive_of_2500_rows_round_trips_exactly(archive_2500, capsys):
    path, before = archive_2500
    call_command("restoreauditarchive", str(path))
    assert snapshot() == before
    assert f"Restored 2500 audit-log rows from {path} (0 already present)." in (
        capsys.readouterr().out
    )


def test_the_count_is_exactly_the_rows_inserted(archive_2500, tmp_path, capsys):
    path, _ = archive_2500
    lines = decompressed_lines(path)
    AuditLog.objects.bulk_create(  # 100 rows are back already
        AuditLog(**{**parse_line(line, database_limits()), "user_id": None}) for line in lines[:100]
    )
    # Ids repeated within one batch (2401, 2500) and across batches (501).
    repeated = [*lines, lines[2400], lines[-1], lines[500]]
    call_command("restoreauditarchive", str(write_lines(tmp_path / "r.jsonl.gz", repeated)))
    assert "Restored 2400 audit-log rows from" in (out := capsys.readouterr().out)
    assert "(103 already present)" in out
    assert AuditLog.objects.count() == 2500


def test_several_files_each_all_or_nothing_and_a_bad_one_does_not_stop_the_rest(
    archive_dir, tmp_path, capsys
):
    old_rows(30)
    result = archive_audit_logs(rows_per_file=10)
    first, second, third = (Path(f["path"]) for f in result["files"])
    lines = decompressed_lines(second)
    lines[4] = b"[1, 2]\n"
    write_lines(second, lines)

    with pytest.raises(CommandError) as caught:
        call_command("restoreauditarchive", str(first), str(second), str(third))

    out, err = capsys.readouterr()
    assert AuditLog.objects.count() == 20  # the first and the third, none of the second
    assert f"Restored 10 audit-log rows from {first}" in out
    assert f"Restored 10 audit-log rows from {third}" in out
    assert f"Refused {second}: line 5: expected a JSON object, found an array" in err
    assert "2 of 3 files restored, 20 audit-log rows in all." in out
    assert str(caught.value).startswith("1 of 3 files refused, nothing restored from them: ")
    assert f"{second}: line 5" in str(caught.value)


def test_the_file_changing_between_the_check_and_the_insert_rolls_back(archive_2500, monkeypatch):
    path, _ = archive_2500
    check = restore.check_archive

    def check_then_damage(target, limits):
        count = check(target, limits)
        lines = decompressed_lines(target)
        lines[2300] = b"{}\n"
        write_lines(target, lines)
        return count

    monkeypatch.setattr(restore, "check_archive", check_then_damage)
    refused(path, 2301, "missing required key(s) id, action, created_at")


def test_a_database_error_mid_file_rolls_the_whole_file_back(archive_2500, monkeypatch):
    path, _ = archive_2500
    insert, calls = restore._insert, []

    def insert_then_fail(batch):
        calls.append(len(batch))
        if len(calls) == 2:
            raise IntegrityError("duplicate key value violates unique constraint")
        return insert(batch)

    monkeypatch.setattr(restore, "_insert", insert_then_fail)
    refused(path, None, "the database refused a row, so nothing was restored")
    assert calls == [2000, 500]


def test_checking_a_file_holds_one_line_at_a_time(tmp_path):
    agent = "x" * 10_000
    path = tmp_path / "wide.jsonl.gz"
    with gzip.open(path, "wb") as out:
        for i in range(1, 2001):
            row = (i, None, "a", "t", str(i), None, agent, True, "{}", OLD)
            out.write(encode_row(row).encode())
    tracemalloc.start()
    try:
        assert restore.check_archive(path, database_limits()) == 2000
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2_000_000  # the file holds 20 MB of text
