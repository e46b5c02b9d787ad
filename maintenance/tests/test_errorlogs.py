from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from chirpsyncer.models import ErrorLog
from chirpsyncer.tests.factories import ErrorLogFactory
from maintenance.tasks import cleanup_error_logs

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def test_it_deletes_logs_older_than_thirty_days_in_batches():
    for minute in range(5):
        ErrorLogFactory(created_at=NOW - timedelta(days=40, minutes=minute))
    recent = ErrorLogFactory(created_at=NOW - timedelta(days=2))

    result = cleanup_error_logs(batch_size=2)

    assert result["deleted"] == 5
    assert result["batches"] >= 2
    assert list(ErrorLog.objects.all()) == [recent]


def test_the_cutoff_is_exact():
    kept = ErrorLogFactory(created_at=NOW - timedelta(days=30))
    ErrorLogFactory(created_at=NOW - timedelta(days=30, microseconds=1))

    result = cleanup_error_logs()

    assert result["deleted"] == 1
    assert result["cutoff"] == (NOW - timedelta(days=30)).isoformat()
    assert list(ErrorLog.objects.all()) == [kept]


def test_days_old_comes_from_the_argument_then_the_setting(settings):
    ErrorLogFactory(created_at=NOW - timedelta(days=8))
    settings.ERROR_LOG_RETENTION_DAYS = 10
    assert cleanup_error_logs()["deleted"] == 0
    assert cleanup_error_logs(days_old=7)["deleted"] == 1


def test_it_is_idempotent_and_fine_on_an_empty_table():
    assert cleanup_error_logs()["deleted"] == 0
    ErrorLogFactory(created_at=NOW - timedelta(days=31))
    assert cleanup_error_logs()["deleted"] == 1
    assert cleanup_error_logs()["deleted"] == 0


def test_a_negative_threshold_is_refused():
    with pytest.raises(ValueError, match="days_old"):
        cleanup_error_logs(days_old=-1)
