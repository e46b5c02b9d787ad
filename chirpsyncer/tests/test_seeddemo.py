"""`manage.py seeddemo`: enough realistic data for every maintenance task, never twice the users."""

import datetime as dt
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.db.models import Max, Min
from django.utils import timezone

from chirpsyncer.models import AuditLog, Credential, ErrorLog, SyncRecord
from scheduling.models import Task

pytestmark = pytest.mark.django_db

DAY = dt.timedelta(days=1)


def seeddemo(*args: str) -> str:
    out = StringIO()
    call_command("seeddemo", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def seeded():
    """One scale-1 run, stamped with the time it started."""
    started = timezone.now()
    output = seeddemo()
    return started, output


def span(queryset, field: str) -> tuple[dt.datetime, dt.datetime]:
    bounds = queryset.aggregate(oldest=Min(field), newest=Max(field))
    return bounds["oldest"], bounds["newest"]


def test_scale_one_inserts_the_documented_counts(seeded):
    assert AuditLog.objects.exclude(resource_type="task").count() == 10_000
    assert SyncRecord.objects.count() == 2_000
    assert ErrorLog.objects.count() == 1_000
    assert Session.objects.count() == 1_000


def test_audit_logs_cover_two_hundred_days(seeded):
    started, _ = seeded
    oldest, newest = span(AuditLog.objects, "created_at")

    assert oldest >= started - 200 * DAY
    assert oldest < started - 190 * DAY
    assert newest <= timezone.now()
    # Work for archive_audit_logs(days_old=90) and rows it must keep.
    assert AuditLog.objects.filter(created_at__lt=started - 90 * DAY).exists()
    assert AuditLog.objects.filter(created_at__gt=started - 90 * DAY).exists()


def test_audit_logs_include_system_entries_and_failures(seeded):
    assert AuditLog.objects.filter(user=None).exists()
    assert AuditLog.objects.filter(success=False).exists()
    assert AuditLog.objects.values("action").distinct().count() > 3


def test_sync_records_cover_sixty_days_with_some_failures(seeded):
    started, _ = seeded
    oldest, _newest = span(SyncRecord.objects, "started_at")

    assert started - 60 * DAY <= oldest < started - 50 * DAY
    assert SyncRecord.objects.filter(success=False).exclude(error="").exists()
    assert SyncRecord.objects.filter(success=True, posts_synced__gt=0).exists()


def test_error_logs_cover_sixty_days(seeded):
    started, _ = seeded
    oldest, _newest = span(ErrorLog.objects, "created_at")

    assert started - 60 * DAY <= oldest < started - 50 * DAY
    # Work for cleanup_error_logs(days_old=30) and rows it must keep.
    assert ErrorLog.objects.filter(created_at__lt=started - 30 * DAY).exists()
    assert ErrorLog.objects.filter(created_at__gt=started - 30 * DAY).exists()


def test_sessions_are_both_expired_and_live(seeded):
    now = timezone.now()

    assert Session.objects.filter(expire_date__lt=now).exists()
    assert Session.objects.filter(expire_date__gt=now).exists()


def test_credentials_vary_in_last_use_and_some_were_never_used(seeded):
    started, _ = seeded
    six_months_ago = started - 183 * DAY

    assert Credential.objects.filter(last_used_at=None).exists()
    assert Credential.objects.filter(last_used_at__lt=six_months_ago).exists()
    assert Credential.objects.filter(last_used_at__gte=six_months_ago).exists()


def test_demo_users_are_created_without_usable_passwords(seeded):
    users = get_user_model().objects.filter(username__in=["alice", "bob", "carol", "operator"])

    assert users.count() == 4
    assert not any(user.has_usable_password() for user in users)


def test_running_twice_does_not_duplicate_users(seeded):
    users_before = get_user_model().objects.count()

    seeddemo()

    assert get_user_model().objects.count() == users_before
    assert get_user_model().objects.filter(username="alice").count() == 1
    assert Task.objects.filter(name="simulate-sync").count() == 1


def test_if_empty_skips_when_data_exists(seeded):
    output = seeddemo("--if-empty")

    assert "skipping" in output
    assert AuditLog.objects.exclude(resource_type="task").count() == 10_000


def test_if_empty_seeds_an_empty_database():
    seeddemo("--if-empty")

    assert AuditLog.objects.exclude(resource_type="task").count() == 10_000


def test_it_registers_the_demo_sync_task(seeded):
    task = Task.objects.get(name="simulate-sync")

    assert task.func == "chirpsyncer.demo.simulate_sync"
    assert task.interval_seconds == 20
    assert task.next_run_at is not None


def test_without_a_terminal_it_prints_counts_instead_of_a_bar(seeded):
    _, output = seeded

    assert "14,000 / 14,000 rows" in output
    assert "10,000 audit logs" in output
    assert "\r" not in output


def test_scale_multiplies_the_counts():
    seeddemo("--scale", "2")

    assert AuditLog.objects.exclude(resource_type="task").count() == 20_000
    assert SyncRecord.objects.count() == 4_000


def test_the_same_seed_gives_the_same_data():
    seeddemo("--seed", "7")
    first = list(AuditLog.objects.order_by("id").values_list("ip_address", "resource_id")[:50])
    AuditLog.objects.all().delete()

    seeddemo("--seed", "7")

    assert (
        list(AuditLog.objects.order_by("id").values_list("ip_address", "resource_id")[:50]) == first
    )


def test_scale_below_one_is_refused():
    with pytest.raises(SystemExit) as excinfo:
        call_command("seeddemo", "--scale", "0", stdout=StringIO(), stderr=StringIO())

    assert excinfo.value.code == 2
    assert not AuditLog.objects.exists()
