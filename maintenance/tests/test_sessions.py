from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.contrib.sessions.backends.file import SessionStore as FileSessionStore
from django.contrib.sessions.models import Session

from maintenance.tasks import cleanup_expired_sessions

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def make_session(key: str, expire_date: datetime) -> Session:
    return Session.objects.create(session_key=key, session_data="e30", expire_date=expire_date)


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.mark.django_db
def test_it_deletes_expired_sessions_and_keeps_live_ones(frozen):
    for n in range(7):
        make_session(f"old{n}", NOW - timedelta(days=1, minutes=n))
    make_session("live", NOW + timedelta(days=1))

    result = cleanup_expired_sessions(batch_size=3)

    assert result["deleted"] == 7
    assert result["batches"] >= 2  # bounded batches, not one statement
    assert list(Session.objects.values_list("session_key", flat=True)) == ["live"]


@pytest.mark.django_db
def test_a_session_expiring_exactly_now_is_kept(frozen):
    make_session("boundary", NOW)
    make_session("just-expired", NOW - timedelta(microseconds=1))

    assert cleanup_expired_sessions()["deleted"] == 1
    assert list(Session.objects.values_list("session_key", flat=True)) == ["boundary"]


@pytest.mark.django_db
def test_it_is_idempotent_and_handles_an_empty_table(frozen):
    assert cleanup_expired_sessions() == {"deleted": 0, "batches": 0, "longest_batch_ms": 0}
    make_session("old", NOW - timedelta(hours=1))
    assert cleanup_expired_sessions()["deleted"] == 1
    assert cleanup_expired_sessions()["deleted"] == 0


def test_a_non_database_engine_uses_its_own_clear_expired(settings, tmp_path):
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.file"
    settings.SESSION_FILE_PATH = str(tmp_path)
    expired, live = FileSessionStore(), FileSessionStore()
    expired.set_expiry(-60)
    expired.save()
    live.save()

    result = cleanup_expired_sessions()

    assert result == {"deleted": None, "engine": "django.contrib.sessions.backends.file"}
    remaining = sorted(p.name for p in tmp_path.iterdir())
    assert remaining == [f"sessionid{live.session_key}"]
