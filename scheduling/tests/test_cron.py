"""Crontab semantics as Vixie/Debian cron has them, table-driven."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError

from scheduling import cron

UTC = ZoneInfo("UTC")
MADRID = ZoneInfo("Europe/Madrid")
NEW_YORK = ZoneInfo("America/New_York")


def fires(expression, start, count=5, tz=UTC):
    return [
        t.strftime("%Y-%m-%d %a %H:%M") for t in cron.next_fire_times(expression, tz, count, start)
    ]


@pytest.mark.parametrize(
    "expression, start, expected",
    [
        # 0 and 7 are both Sunday (2026-11-29 is a Sunday).
        ("0 4 * * 0", datetime(2026, 11, 23, tzinfo=UTC), ["2026-11-29 Sun 04:00"]),
        ("0 4 * * 7", datetime(2026, 11, 23, tzinfo=UTC), ["2026-11-29 Sun 04:00"]),
        ("0 4 * * SUN", datetime(2026, 11, 23, tzinfo=UTC), ["2026-11-29 Sun 04:00"]),
        # Names for months and days, any case.
        ("30 9 * jan mon", datetime(2026, 11, 23, tzinfo=UTC), ["2027-01-04 Mon 09:30"]),
        ("0 0 1 JUN *", datetime(2026, 11, 23, tzinfo=UTC), ["2027-06-01 Tue 00:00"]),
        # Steps, ranges, lists.
        ("*/20 * * * *", datetime(2026, 11, 23, 10, 5, tzinfo=UTC), ["2026-11-23 Mon 10:20"]),
        ("0 9-17/4 * * *", datetime(2026, 11, 23, 10, tzinfo=UTC), ["2026-11-23 Mon 13:00"]),
        ("15,45 * * * *", datetime(2026, 11, 23, 10, 20, tzinfo=UTC), ["2026-11-23 Mon 10:45"]),
        ("0 8 * * MON-FRI", datetime(2026, 11, 27, 9, tzinfo=UTC), ["2026-11-30 Mon 08:00"]),
        # Macros.
        ("@hourly", datetime(2026, 11, 23, 10, 5, tzinfo=UTC), ["2026-11-23 Mon 11:00"]),
        ("@daily", datetime(2026, 11, 23, 10, tzinfo=UTC), ["2026-11-24 Tue 00:00"]),
        ("@weekly", datetime(2026, 11, 23, 10, tzinfo=UTC), ["2026-11-29 Sun 00:00"]),
        ("@monthly", datetime(2026, 11, 23, 10, tzinfo=UTC), ["2026-12-01 Tue 00:00"]),
        ("@yearly", datetime(2026, 11, 23, 10, tzinfo=UTC), ["2027-01-01 Fri 00:00"]),
        ("@annually", datetime(2026, 11, 23, 10, tzinfo=UTC), ["2027-01-01 Fri 00:00"]),
        # Leap day: only in leap years.
        ("0 0 29 2 *", datetime(2026, 11, 23, tzinfo=UTC), ["2028-02-29 Tue 00:00"]),
        # Strictly after the start: a fire at exactly `start` is not repeated.
        ("0 0 * * *", datetime(2026, 11, 23, 0, 0, tzinfo=UTC), ["2026-11-24 Tue 00:00"]),
    ],
)
def test_next_fire_time_follows_crontab(expression, start, expected):
    assert fires(expression, start, count=len(expected)) == expected


def test_day_of_month_and_day_of_week_are_ored_when_both_restricted():
    # Vixie cron: the 13th of the month OR any Friday.
    got = fires("0 0 13 * FRI", datetime(2026, 1, 1, tzinfo=UTC), count=5)
    assert got == [
        "2026-01-02 Fri 00:00",
        "2026-01-09 Fri 00:00",
        "2026-01-13 Tue 00:00",
        "2026-01-16 Fri 00:00",
        "2026-01-23 Fri 00:00",
    ]


def test_day_of_month_alone_is_not_ored_with_a_star_weekday():
    got = fires("0 0 13 * *", datetime(2026, 1, 1, tzinfo=UTC), count=2)
    assert got == ["2026-01-13 Tue 00:00", "2026-02-13 Fri 00:00"]


@pytest.mark.parametrize(
    "tz, change_day",
    [
        (MADRID, datetime(2026, 3, 29)),  # spring forward 02:00 -> 03:00
        (MADRID, datetime(2026, 10, 25)),  # fall back 03:00 -> 02:00
        (NEW_YORK, datetime(2026, 3, 8)),
        (NEW_YORK, datetime(2026, 11, 1)),
    ],
)
@pytest.mark.parametrize("time_of_day", ["30 2 * * *", "0 1 * * *", "0 12 * * *", "@daily"])
def test_daily_job_runs_exactly_once_on_dst_change_days(tz, change_day, time_of_day):
    start = (change_day - timedelta(days=2)).replace(tzinfo=tz)
    times = cron.next_fire_times(time_of_day, tz, 6, start)
    on_change_day = [t for t in times if t.date() == change_day.date()]
    assert len(on_change_day) == 1
    # Consecutive runs are distinct real instants, in order.
    utc_times = [t.astimezone(UTC) for t in times]
    assert utc_times == sorted(set(utc_times))


def test_spring_forward_time_that_does_not_exist_runs_once_after_the_gap():
    times = cron.next_fire_times("30 2 * * *", MADRID, 3, datetime(2026, 3, 28, tzinfo=MADRID))
    assert [t.isoformat() for t in times] == [
        "2026-03-28T02:30:00+01:00",
        "2026-03-29T03:00:00+02:00",
        "2026-03-30T02:30:00+02:00",
    ]


def test_fall_back_ambiguous_time_runs_once():
    times = cron.next_fire_times("30 2 * * *", MADRID, 3, datetime(2026, 10, 24, tzinfo=MADRID))
    assert [t.isoformat() for t in times] == [
        "2026-10-24T02:30:00+02:00",
        "2026-10-25T02:30:00+02:00",
        "2026-10-26T02:30:00+01:00",
    ]


def test_hourly_job_in_new_york_fires_every_real_hour_across_fall_back():
    times = cron.next_fire_times(
        "0 * * * *", NEW_YORK, 4, datetime(2026, 11, 1, 0, 30, tzinfo=NEW_YORK)
    )
    utc = [t.astimezone(UTC) for t in times]
    # Wildcard hours fire every real hour, including the repeated 01:00.
    assert {(b - a).total_seconds() for a, b in zip(utc, utc[1:], strict=False)} == {3600.0}


@pytest.mark.parametrize(
    "expression, message",
    [
        ("61 * * * *", "minute: 61 is out of range 0-59"),
        ("0 24 * * *", "hour: 24 is out of range 0-23"),
        ("0 0 0 * *", "day-of-month: 0 is out of range 1-31"),
        ("0 0 32 * *", "day-of-month: 32 is out of range 1-31"),
        ("0 0 * 13 *", "month: 13 is out of range 1-12"),
        ("0 0 * * 8", "day-of-week: 8 is out of range 0-7"),
        ("*/0 * * * *", "minute: step '0' must be a positive whole number"),
        ("5-1 * * * *", "minute: range 5-1 runs backwards"),
        ("0 0 * * FUNDAY", "day-of-week: 'FUNDAY' is not a number or name"),
        ("* * * *", "expected 5 fields"),
        ("* * * * * *", "expected 5 fields"),
        ("", "cron expression: it is empty"),
        ("@fortnightly", "unknown macro '@fortnightly'"),
        ("0 0 30 2 *", "is not valid"),
        ("0 0 L * *", "day-of-month: 'L' is not a number or name"),
    ],
)
def test_invalid_expressions_raise_validation_error_naming_the_field(expression, message):
    with pytest.raises(ValidationError) as excinfo:
        cron.validate(expression)
    assert message in excinfo.value.messages[0]


def test_describe_reads_like_a_sentence():
    assert cron.describe("0 4 * * 0") == "At 04:00, only on Sunday"
    assert cron.describe("0 4 * * 7") == "At 04:00, only on Sunday"
    assert cron.describe("@hourly") == "Every hour"


def test_unknown_timezone_is_rejected():
    with pytest.raises(ValidationError, match="timezone: 'Mars/Olympus' is not an IANA"):
        cron.validate_timezone("Mars/Olympus")
