import pytest

from chirpsyncer.models import ErrorLog
from chirpsyncer.tests.factories import ErrorLogFactory
from maintenance import batching
from maintenance.batching import delete_in_batches

pytestmark = pytest.mark.django_db


def test_it_deletes_only_the_matching_rows_in_bounded_batches(monkeypatch):
    clock = iter([n * 0.2 for n in range(10_000)])  # 200 ms batches: neither grow nor shrink
    monkeypatch.setattr(batching.time, "perf_counter", lambda: next(clock))
    doomed = ErrorLogFactory.create_batch(7, source="doomed")
    kept = ErrorLogFactory(source="kept")

    stats = delete_in_batches(ErrorLog.objects.filter(source="doomed"), batch_size=3)

    assert (stats.deleted, stats.batches) == (len(doomed), 3)
    assert list(ErrorLog.objects.all()) == [kept]
    assert len(stats.batch_seconds) == 3
    assert stats.longest_batch_seconds == max(stats.batch_seconds)


def test_a_slow_batch_halves_the_next_one(monkeypatch):
    ErrorLogFactory.create_batch(1000)
    ticks = iter(range(10_000))  # every perf_counter() call is one "second" later
    monkeypatch.setattr(batching.time, "perf_counter", lambda: next(ticks))

    stats = delete_in_batches(ErrorLog.objects.all(), batch_size=400)

    assert stats.batch_rows == [400, 200, 100, 100, 100, 100]  # never below 100
    assert stats.deleted == 1000
    assert not ErrorLog.objects.exists()


def test_quick_batches_grow_up_to_four_times_the_batch_size(monkeypatch):
    ErrorLogFactory.create_batch(60)
    clock = iter([n * 0.01 for n in range(10_000)])  # every batch takes 10 ms
    monkeypatch.setattr(batching.time, "perf_counter", lambda: next(clock))

    stats = delete_in_batches(ErrorLog.objects.all(), batch_size=3)

    assert stats.batch_rows[:6] == [3, 6, 12, 12, 12, 12]
    assert stats.deleted == 60
