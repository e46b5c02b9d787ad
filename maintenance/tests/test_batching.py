from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from chirpsyncer.models import ErrorLog
from chirpsyncer.tests.factories import ErrorLogFactory
from maintenance import batching
from maintenance.batching import delete_in_batches

pytestmark = pytest.mark.django_db


@pytest.fixture
def steady_batches(monkeypatch):
    clock = iter([n * 0.2 for n in range(10_000)])  # 200 ms batches: neither grow nor shrink
    monkeypatch.setattr(batching.time, "perf_counter", lambda: next(clock))


@pytest.mark.usefixtures("steady_batches")
def test_it_deletes_only_the_matching_rows_in_bounded_batches():
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


def test_quick_batches_grow_up_to_a_ceiling_that_depends_on_the_database(monkeypatch):
    ErrorLogFactory.create_batch(200)
    clock = iter([n * 0.01 for n in range(10_000)])  # every batch takes 10 ms
    monkeypatch.setattr(batching.time, "perf_counter", lambda: next(clock))

    stats = delete_in_batches(ErrorLog.objects.all(), batch_size=3)

    if connection.vendor == "sqlite":  # one write lock for the whole file: stay near 4x
        assert stats.batch_rows[:6] == [3, 6, 12, 12, 12, 12]
    else:  # row locks only: batches keep growing while they stay quick
        assert stats.batch_rows == [3, 6, 12, 24, 48, 96, 11]
    assert stats.deleted == 200


@pytest.mark.usefixtures("steady_batches")
@pytest.mark.parametrize(
    ("as_cutoff", "sqlite_batches"),
    [(False, [4, 4, 4, 1]), (True, [4, 4, 2, 3])],  # never more than batch_size on SQLite
    ids=["filter", "before"],
)
def test_rows_sharing_one_key_value_are_all_deleted_across_batches(as_cutoff, sqlite_batches):
    moment = timezone.now() - timedelta(days=3)
    ErrorLogFactory.create_batch(10, created_at=moment)  # more ties than one batch holds
    ErrorLogFactory.create_batch(3, created_at=moment + timedelta(seconds=1))
    kept = ErrorLogFactory(created_at=timezone.now())
    older = {"before": kept.created_at} if as_cutoff else {}
    rows = ErrorLog.objects.all() if as_cutoff else ErrorLog.objects.exclude(pk=kept.pk)

    stats = delete_in_batches(rows, batch_size=4, key="created_at", **older)

    assert stats.deleted == 13
    if connection.vendor == "sqlite":
        assert stats.batch_rows == sqlite_batches
    else:  # a key range: the rows tied with the 4th key go in the same batch
        assert stats.batch_rows == [10, 3]
    assert list(ErrorLog.objects.all()) == [kept]


@pytest.mark.usefixtures("steady_batches")
def test_each_batch_is_one_bounded_statement_that_never_rescans_deleted_rows():
    logs = ErrorLogFactory.create_batch(9)

    with CaptureQueriesContext(connection) as queries:
        delete_in_batches(ErrorLog.objects.all(), batch_size=4)

    deletes = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("DELETE")]
    assert len(deletes) == 3
    if connection.vendor == "sqlite":  # deleted rows leave the index at once: LIMIT from the start
        assert all("LIMIT 4" in sql for sql in deletes)
    else:  # dead index entries stay until vacuum: each batch starts where the last one ended
        assert ">=" not in deletes[0] and f'"id" <= {logs[3].pk}' in deletes[0]
        assert f'"id" >= {logs[3].pk}' in deletes[1] and f'"id" <= {logs[7].pk}' in deletes[1]
        assert f'"id" >= {logs[7].pk}' in deletes[2]
    assert not ErrorLog.objects.exists()


@pytest.mark.usefixtures("steady_batches")
def test_on_sqlite_a_cutoff_batch_is_one_range_of_the_key_with_a_single_upper_bound():
    """Two upper bounds on one column make SQLite's planner scan from the wrong one."""
    logs = ErrorLogFactory.create_batch(9)

    with CaptureQueriesContext(connection) as queries:
        delete_in_batches(ErrorLog.objects.all(), batch_size=4, key="id", before=logs[8].pk)

    deletes = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("DELETE")]
    assert list(ErrorLog.objects.all()) == [logs[8]]
    if connection.vendor == "sqlite":
        assert deletes == [
            f'DELETE FROM "chirpsyncer_errorlog" WHERE "chirpsyncer_errorlog"."id" < {pk}'
            for pk in (logs[3].pk, logs[6].pk, logs[8].pk)
        ]
