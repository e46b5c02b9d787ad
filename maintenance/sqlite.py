"""SQLite settings for bulk maintenance writes on one connection.

For the length of a bulk delete or archive run: a bigger page cache (the
default 2 MiB re-reads index pages in every batch) and checkpoints run by us
between batches instead of after every commit. SQLite checkpoints after the
commit has released the write lock, so moving them between batches does not
lengthen any lock hold; it only makes the measured batch time the real
lock-hold time.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from django.db import connections

CACHE_KIB = 16384


def pragma(using: str, statement: str):
    with connections[using].cursor() as cursor:
        cursor.execute(f"PRAGMA {statement}")
        return cursor.fetchone()


@contextlib.contextmanager
def bulk_write_tuning(using: str) -> Iterator[None]:
    """Bigger cache and manual checkpoints for this connection, restored afterwards."""
    (cache,) = pragma(using, "cache_size")
    (autocheckpoint,) = pragma(using, "wal_autocheckpoint")
    pragma(using, f"cache_size=-{CACHE_KIB}")
    pragma(using, "wal_autocheckpoint=0")
    try:
        yield
    finally:
        pragma(using, f"cache_size={int(cache)}")
        pragma(using, f"wal_autocheckpoint={int(autocheckpoint)}")
        checkpoint(using)


def checkpoint(using: str) -> None:
    """A passive WAL checkpoint; nothing to do inside a caller's transaction (tests)."""
    if not connections[using].in_atomic_block:
        pragma(using, "wal_checkpoint(PASSIVE)")
