"""Local days across DST and other offset changes, on both databases."""

import random
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from chirpsyncer.tests.factories import SyncRecordFactory, UserFactory
from maintenance.local_days import local_date, offsets
from maintenance.models import SyncRecordChange
from maintenance.tasks import aggregate_daily_stats
from maintenance.tests.stats_tables import expected_table, table


def test_offsets_list_each_change_at_its_exact_second():
    paris = ZoneInfo("Europe/Paris")
    spans = offsets(datetime(2025, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC), paris)
    assert spans == [
        (datetime(2025, 3, 30, 1, 0, tzinfo=UTC), 3600),
        (datetime(2025, 10, 26, 1, 0, tzinfo=UTC), 7200),
        (None, 3600),
    ]


def test_offsets_of_a_zone_without_changes_are_one_span():
    spans = offsets(datetime(2025, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC), UTC)
    assert spans == [(None, 0)]


# (zone, a year with offset changes): whole-hour DST, half-hour DST (Lord Howe),
# a +05:45 zone without DST, a -03:30 zone with DST, changes at local midnight
# (Santiago), and clocks set back across midnight (Goose Bay before 2011).
ZONES = [
    ("Europe/Paris", 2025),
    ("America/New_York", 2025),
    ("Australia/Lord_Howe", 2025),
    ("Asia/Kathmandu", 2025),
    ("America/St_Johns", 2025),
    ("America/Santiago", 2025),
    ("America/Goose_Bay", 2010),
]


def instants_that_test_day_edges(zone: str, year: int) -> list[datetime]:
    """Instants around each offset change and each nearby local midnight, and some at random."""
    tz = ZoneInfo(zone)
    start, end = datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC)
    moments = []
    for change, _ in offsets(start, end, tz)[:-1]:
        for minutes in (-61, -60, -59, -30, -1, 0, 1, 30, 59, 60, 61):
            moments.append(change + timedelta(minutes=minutes))
        for days in (-1, 0, 1):
            day = local_date(change, tz) + timedelta(days=days)
            midnight = datetime(day.year, day.month, day.day, tzinfo=tz).astimezone(UTC)
            moments += [
                midnight - timedelta(microseconds=1),
                midnight,
                midnight + timedelta(hours=1),
            ]
    rng = random.Random(f"{zone}{year}")
    moments += [start + timedelta(seconds=rng.randrange(365 * 86400)) for _ in range(150)]
    return moments


@pytest.mark.django_db
@pytest.mark.parametrize(("zone", "year"), ZONES)
def test_stats_count_each_record_on_its_local_day(settings, monkeypatch, zone, year):
    settings.TIME_ZONE = zone
    monkeypatch.setattr("maintenance.stats.DAYS_PER_BATCH", 3)  # batches end near changes too
    SyncRecordChange.objects.all().delete()  # see test_stats_changes.no_leftover_notes
    users = [UserFactory(), UserFactory()]
    moments = instants_that_test_day_edges(zone, year)
    for number, moment in enumerate(moments):
        SyncRecordFactory(
            user=users[number % 2], started_at=moment, success=number % 3 > 0, posts_synced=number
        )

    with time_machine.travel(datetime(year + 1, 2, 1, tzinfo=UTC), tick=False) as clock:
        aggregate_daily_stats()  # every day: local days found by Python
        assert table() == expected_table(zone)

        clock.shift(timedelta(days=1))
        for number, moment in enumerate(moments[::7]):  # late records: days found in SQL
            SyncRecordFactory(user=users[number % 2], started_at=moment + timedelta(seconds=1))
        result = aggregate_daily_stats()
        assert table() == expected_table(zone)
        assert result["since"] is not None


@pytest.mark.django_db
def test_a_new_york_day_runs_from_local_midnight_to_local_midnight(settings):
    settings.TIME_ZONE = "America/New_York"
    user = UserFactory()
    # 9 March 2025 has 23 hours there: 05:00 UTC (midnight EST) to 04:00 UTC the next day (EDT).
    for moment in [
        datetime(2025, 3, 9, 4, 59, 59, tzinfo=UTC),  # the 8th
        datetime(2025, 3, 9, 5, 0, tzinfo=UTC),
        datetime(2025, 3, 10, 3, 59, 59, 999999, tzinfo=UTC),
        datetime(2025, 3, 10, 4, 0, tzinfo=UTC),  # the 10th
    ]:
        SyncRecordFactory(user=user, started_at=moment)
    with time_machine.travel(datetime(2025, 3, 12, tzinfo=UTC), tick=False):
        aggregate_daily_stats()
    assert [(row[1], row[2]) for row in table()] == [
        (date(2025, 3, 8), 1),
        (date(2025, 3, 9), 2),
        (date(2025, 3, 10), 1),
    ]
