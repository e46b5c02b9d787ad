"""Daily stats follow records that are deleted or moved, however that is done."""

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.urls import reverse

from chirpsyncer.models import SyncRecord
from chirpsyncer.tests.factories import DailySyncStatFactory, SyncRecordFactory, UserFactory
from maintenance import sync_changes
from maintenance.models import SyncRecordChange, Watermark
from maintenance.stats import WATERMARK
from maintenance.tasks import aggregate_daily_stats
from maintenance.tests.stats_tables import expected_table, table

NOW = datetime(2025, 3, 12, 6, 0, tzinfo=UTC)
MONDAY = datetime(2025, 3, 10, 9, 0, tzinfo=UTC)
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture(autouse=True)
def no_leftover_notes():
    """Start without notes: on SQLite, Django's flush after a transactional test elsewhere
    may empty the sync records after the notes, and the triggers note those deletes."""
    SyncRecordChange.objects.all().delete()


@pytest.fixture
def ann():
    return UserFactory(username="ann")


def next_run(clock) -> dict:
    """The next day's run, past the look-back that covers slow commits."""
    clock.shift(timedelta(days=1))
    return aggregate_daily_stats()


def test_a_record_moved_by_update_leaves_its_old_day_and_joins_the_new_one(clock, ann):
    moved = SyncRecordFactory(user=ann, started_at=MONDAY, posts_synced=4)
    SyncRecordFactory(user=ann, started_at=MONDAY + timedelta(hours=1), posts_synced=1)
    aggregate_daily_stats()
    assert table() == [(ann.pk, date(2025, 3, 10), 2, 2, 0, 5)]

    # update() does not touch updated_at: only the trigger knows.
    SyncRecord.objects.filter(pk=moved.pk).update(started_at=MONDAY - timedelta(days=30))
    result = next_run(clock)

    assert table() == [
        (ann.pk, date(2025, 2, 8), 1, 1, 0, 4),
        (ann.pk, date(2025, 3, 10), 1, 1, 0, 1),
    ]
    assert result["days"] == 2
    assert not SyncRecordChange.objects.exists()


def test_a_user_day_with_no_records_left_loses_its_row(clock, ann):
    only = SyncRecordFactory(user=ann, started_at=MONDAY)
    bob_record = SyncRecordFactory(started_at=MONDAY)
    aggregate_daily_stats()

    SyncRecord.objects.filter(pk=only.pk).update(started_at=MONDAY + timedelta(days=1))
    next_run(clock)

    assert table() == [
        (ann.pk, date(2025, 3, 11), 1, 1, 0, 3),
        (bob_record.user_id, date(2025, 3, 10), 1, 1, 0, 3),
    ]


def _delete_with_queryset(record, client):
    SyncRecord.objects.filter(pk=record.pk).delete()


def _delete_the_instance(record, client):
    record.delete()


def _delete_with_raw_sql(record, client):
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM chirpsyncer_syncrecord WHERE id = %s", [record.pk])


def _delete_in_the_admin(record, client):
    url = reverse("admin:chirpsyncer_syncrecord_delete", args=[record.pk])
    assert client.post(url, {"post": "yes"}).status_code == 302


def _delete_with_the_admin_action(record, client):
    response = client.post(
        reverse("admin:chirpsyncer_syncrecord_changelist"),
        {"action": "delete_selected", "_selected_action": [record.pk], "post": "yes"},
    )
    assert response.status_code == 302


@pytest.mark.parametrize(
    "delete",
    [
        _delete_with_queryset,
        _delete_the_instance,
        _delete_with_raw_sql,
        _delete_in_the_admin,
        _delete_with_the_admin_action,
    ],
)
def test_deleted_records_are_taken_out_of_their_day(clock, ann, admin_client_, delete):
    kept = SyncRecordFactory(user=ann, started_at=MONDAY, posts_synced=2)
    gone = SyncRecordFactory(user=ann, started_at=MONDAY + timedelta(hours=2), success=False)
    alone = SyncRecordFactory(user=ann, started_at=MONDAY - timedelta(days=40))
    aggregate_daily_stats()
    assert len(table()) == 2

    delete(gone, admin_client_)
    delete(alone, admin_client_)
    next_run(clock)

    assert not SyncRecord.objects.filter(pk__in=[gone.pk, alone.pk]).exists()
    assert table() == [(ann.pk, kept.started_at.date(), 1, 1, 0, 2)]


def test_deleting_a_user_takes_their_stats_and_leaves_others_right(clock, ann):
    SyncRecordFactory.create_batch(3, user=ann, started_at=MONDAY)
    SyncRecordFactory(started_at=MONDAY)
    aggregate_daily_stats()

    ann.delete()
    next_run(clock)

    assert table() == expected_table("UTC")
    assert len(table()) == 1


def test_a_record_given_to_another_user_moves_its_stat(clock, ann):
    bob = UserFactory(username="bob")
    record = SyncRecordFactory(user=ann, started_at=MONDAY)
    SyncRecordFactory(user=ann, started_at=MONDAY)
    aggregate_daily_stats()

    SyncRecord.objects.filter(pk=record.pk).update(user=bob)
    next_run(clock)

    assert table() == [(ann.pk, MONDAY.date(), 1, 1, 0, 3), (bob.pk, MONDAY.date(), 1, 1, 0, 3)]


def test_an_outcome_changed_by_update_is_recomputed(clock, ann):
    record = SyncRecordFactory(user=ann, started_at=MONDAY, posts_synced=5)
    aggregate_daily_stats()

    SyncRecord.objects.filter(pk=record.pk).update(success=False, posts_synced=0)
    next_run(clock)

    assert table() == [(ann.pk, MONDAY.date(), 1, 0, 1, 0)]


def test_changes_that_do_not_count_are_not_noted(ann):
    record = SyncRecordFactory(user=ann, started_at=MONDAY)
    SyncRecord.objects.filter(pk=record.pk).update(error="timeout", duration_ms=99)
    record.refresh_from_db()
    record.save()  # every column written again, none changed
    assert not SyncRecordChange.objects.exists()


def test_runs_after_changes_are_idempotent(clock, ann):
    records = SyncRecordFactory.create_batch(6, user=ann, started_at=MONDAY)
    aggregate_daily_stats()
    SyncRecord.objects.filter(pk__in=[r.pk for r in records[:3]]).update(
        started_at=MONDAY - timedelta(days=2)
    )
    SyncRecord.objects.filter(pk=records[3].pk).delete()

    next_run(clock)
    after_changes = table()
    assert next_run(clock)["days"] == 0
    assert table() == after_changes == expected_table("UTC")


def test_a_record_deleted_during_a_run_is_noted_for_the_next(clock, ann, monkeypatch):
    from maintenance import stats

    first = SyncRecordFactory(user=ann, started_at=MONDAY)
    later = SyncRecordFactory(user=ann, started_at=MONDAY - timedelta(days=9))
    aggregate_daily_stats()
    SyncRecord.objects.filter(pk=first.pk).delete()
    real_recompute = stats.recompute

    def recompute_then_delete_another(days, tz):
        upserted = real_recompute(days, tz)
        SyncRecord.objects.filter(pk=later.pk).delete()  # its day is not in this run
        return upserted

    monkeypatch.setattr(stats, "recompute", recompute_then_delete_another)
    next_run(clock)
    monkeypatch.undo()
    assert table() == [(ann.pk, later.started_at.date(), 1, 1, 0, 3)]

    next_run(clock)
    assert table() == []


def test_a_run_without_watermark_removes_rows_it_did_not_refresh(clock, ann):
    SyncRecordFactory(user=ann, started_at=MONDAY)
    stale = DailySyncStatFactory(user=ann, date=date(2024, 1, 1), total_syncs=9)
    clock.shift(timedelta(seconds=1))
    aggregate_daily_stats()
    assert table() == [(ann.pk, MONDAY.date(), 1, 1, 0, 3)]
    assert not type(stale).objects.filter(pk=stale.pk).exists()

    DailySyncStatFactory(user=ann, date=date(2024, 1, 1))  # with a watermark: left alone
    assert next_run(clock)["removed"] == 0
    Watermark.objects.filter(name=WATERMARK).delete()
    assert next_run(clock)["removed"] == 1


def test_the_triggers_are_put_back_when_missing(ann):
    sync_changes.uninstall(connection)
    assert sync_changes.installed(connection) == set()
    record = SyncRecordFactory(user=ann, started_at=MONDAY)
    record.delete()
    assert not SyncRecordChange.objects.exists()

    assert sync_changes.ensure_installed(connection) is True
    assert sync_changes.ensure_installed(connection) is False  # nothing missing now
    SyncRecordFactory(user=ann, started_at=MONDAY).delete()
    assert list(SyncRecordChange.objects.values_list("user_id", "started_at")) == [(ann.pk, MONDAY)]
