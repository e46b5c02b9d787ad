from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine

from chirpsyncer.tests.factories import SyncRecordFactory, UserFactory
from maintenance.tasks import aggregate_daily_stats
from maintenance.tests.stats_tables import table

NOW = datetime(2025, 3, 12, 6, 0, tzinfo=UTC)
pytestmark = pytest.mark.django_db


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def test_it_sums_posts_and_counts_successes_per_user_per_day(clock):
    ann, bob = UserFactory(), UserFactory()
    day = datetime(2025, 3, 10, 9, 0, tzinfo=UTC)
    SyncRecordFactory(user=ann, started_at=day, posts_synced=4)
    SyncRecordFactory(user=ann, started_at=day + timedelta(hours=3), posts_synced=6)
    SyncRecordFactory(user=ann, started_at=day + timedelta(hours=5), success=False, posts_synced=0)
    SyncRecordFactory(user=bob, started_at=day + timedelta(days=1), posts_synced=1)

    result = aggregate_daily_stats()

    assert table() == [
        (ann.pk, date(2025, 3, 10), 3, 2, 1, 10),
        (bob.pk, date(2025, 3, 11), 1, 1, 0, 1),
    ]
    assert result["days"] == 2
    assert result["upserted"] == 2


def test_day_boundaries_follow_time_zone(clock, settings):
    settings.TIME_ZONE = "America/New_York"
    user = UserFactory()
    # 03:30 UTC on the 10th is 23:30 on the 9th in New York (EDT, after the DST change).
    SyncRecordFactory(user=user, started_at=datetime(2025, 3, 10, 3, 30, tzinfo=UTC))
    # Exactly local midnight starts the 10th.
    SyncRecordFactory(user=user, started_at=datetime(2025, 3, 10, 4, 0, tzinfo=UTC))
    SyncRecordFactory(user=user, started_at=datetime(2025, 3, 10, 3, 59, 59, tzinfo=UTC))

    aggregate_daily_stats()

    assert [(row[1], row[2]) for row in table()] == [(date(2025, 3, 9), 2), (date(2025, 3, 10), 1)]


def test_running_twice_gives_the_same_table(clock):
    user = UserFactory()
    for hours in range(0, 72, 5):
        SyncRecordFactory(user=user, started_at=NOW - timedelta(hours=hours + 1))
    aggregate_daily_stats()
    first = table()
    clock.shift(timedelta(minutes=1))
    aggregate_daily_stats()
    assert table() == first
    assert len(first) == 4  # 06:00 on the 12th back to 02:00 on the 9th


def test_a_late_record_for_an_old_day_is_picked_up(clock):
    user = UserFactory()
    old_day = datetime(2025, 1, 5, 12, 0, tzinfo=UTC)
    SyncRecordFactory(user=user, started_at=old_day, posts_synced=2)
    aggregate_daily_stats()

    clock.shift(timedelta(days=1))
    SyncRecordFactory(user=user, started_at=old_day + timedelta(hours=1), posts_synced=5)
    result = aggregate_daily_stats()

    assert table() == [(user.pk, date(2025, 1, 5), 2, 2, 0, 7)]
    assert result["days"] == 1


def test_an_edited_record_updates_its_day(clock):
    record = SyncRecordFactory(started_at=NOW - timedelta(days=3), success=True)
    aggregate_daily_stats()
    clock.shift(timedelta(days=1))
    record.success = False
    record.save()
    aggregate_daily_stats()
    assert table()[0][2:] == (1, 0, 1, 3)


def test_unchanged_days_are_not_recomputed(clock):
    SyncRecordFactory(started_at=NOW - timedelta(days=2))
    clock.shift(timedelta(hours=1))  # past the look-back that covers slow commits
    aggregate_daily_stats()
    clock.shift(timedelta(days=1))
    assert aggregate_daily_stats()["days"] == 0


def test_it_is_fine_with_no_records(clock):
    assert aggregate_daily_stats() == {
        "days": 0,
        "upserted": 0,
        "removed": 0,
        "first_day": None,
        "last_day": None,
        "since": None,
    }
    assert table() == []
