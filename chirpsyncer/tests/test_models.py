"""Domain model constraints and how rows read in the admin and logs."""

import datetime as dt

import pytest
from django.db import IntegrityError, transaction

from chirpsyncer.models import ErrorLog
from chirpsyncer.tests.factories import (
    AuditLogFactory,
    CredentialFactory,
    DailySyncStatFactory,
    ErrorLogFactory,
    SyncRecordFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

WHEN = dt.datetime(2025, 3, 4, 5, 6, tzinfo=dt.UTC)


def test_one_daily_stat_per_user_and_day():
    stat = DailySyncStatFactory(date=dt.date(2025, 3, 4))

    with pytest.raises(IntegrityError), transaction.atomic():
        DailySyncStatFactory(user=stat.user, date=dt.date(2025, 3, 4))


def test_daily_stats_for_other_days_and_users_coexist():
    stat = DailySyncStatFactory(date=dt.date(2025, 3, 4))

    DailySyncStatFactory(user=stat.user, date=dt.date(2025, 3, 5))
    DailySyncStatFactory(date=dt.date(2025, 3, 4))


def test_credential_str_names_platform_label_and_owner():
    credential = CredentialFactory(user=UserFactory(username="alice"), label="main")

    assert str(credential) == "mastodon:main (alice)"


def test_credential_without_label_falls_back_to_its_id():
    credential = CredentialFactory(user=UserFactory(username="alice"), label="")

    assert str(credential) == f"mastodon:{credential.pk} (alice)"


def test_a_credential_may_never_have_been_used():
    credential = CredentialFactory(last_used_at=None)

    credential.refresh_from_db()
    assert credential.last_used_at is None


def test_audit_log_str_names_time_action_and_user():
    entry = AuditLogFactory(user=UserFactory(username="bob"), created_at=WHEN)

    assert str(entry) == "2025-03-04 05:06 login by bob"


def test_audit_log_without_user_is_by_system():
    entry = AuditLogFactory(user=None, action="sync.start", created_at=WHEN)

    assert str(entry) == "2025-03-04 05:06 sync.start by system"


def test_audit_log_keeps_its_row_when_the_user_is_deleted():
    entry = AuditLogFactory()

    entry.user.delete()

    entry.refresh_from_db()
    assert entry.user is None


def test_sync_record_str_says_whether_it_worked():
    user = UserFactory(username="carol")

    ok = SyncRecordFactory(user=user, started_at=WHEN)
    failed = SyncRecordFactory(user=user, started_at=WHEN, success=False, platform="twitter")

    assert str(ok) == "bluesky sync for carol at 2025-03-04 05:06 (ok)"
    assert str(failed) == "twitter sync for carol at 2025-03-04 05:06 (failed)"


def test_daily_sync_stat_str():
    stat = DailySyncStatFactory(
        user=UserFactory(username="dave"), date=dt.date(2025, 3, 4), total_syncs=12
    )

    assert str(stat) == "dave on 2025-03-04: 12 syncs"


def test_error_log_str_shortens_long_messages():
    entry = ErrorLogFactory(level=ErrorLog.Level.CRITICAL, message="x" * 200)

    assert str(entry) == f"CRITICAL sync.mastodon: {'x' * 60}"


def test_newest_logs_come_first():
    old = ErrorLogFactory(created_at=WHEN)
    new = ErrorLogFactory(created_at=WHEN + dt.timedelta(days=1))

    assert list(ErrorLog.objects.all()) == [new, old]
