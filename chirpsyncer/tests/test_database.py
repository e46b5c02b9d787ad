"""The live database connection is configured the way settings promise."""

import pytest
from django.db import connection

sqlite_only = pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite PRAGMAs")
postgres_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL driver")


def pragma(name: str):
    with connection.cursor() as cursor:
        cursor.execute(f"PRAGMA {name}")
        return cursor.fetchone()[0]


@sqlite_only
@pytest.mark.django_db
def test_sqlite_runs_in_wal_mode():
    assert pragma("journal_mode") == "wal"


@sqlite_only
@pytest.mark.django_db
def test_sqlite_writers_wait_for_the_lock_instead_of_failing():
    assert pragma("busy_timeout") == 20_000


@sqlite_only
@pytest.mark.django_db
def test_sqlite_transactions_take_the_write_lock_up_front():
    assert connection.transaction_mode == "IMMEDIATE"


@postgres_only
@pytest.mark.django_db
def test_postgresql_runs_on_psycopg_3():
    assert connection.Database.__name__ == "psycopg"
    assert connection.Database.__version__.startswith("3.")
