"""Delete many rows without holding the database's write lock for long.

SQLite has one write lock for the whole file: a single `DELETE` of a million
rows blocks every other writer (the web site, the scheduler's bookkeeping) for
the ten seconds it takes. Deleting in bounded batches, each its own short
transaction, lets other writers in between batches. PostgreSQL only locks the
rows, but short transactions still keep vacuum and replication happy.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connections, transaction
from django.db.models import SET_NULL, QuerySet, signals

logger = logging.getLogger(__name__)

# A batch that takes longer than this halves the next batch; the aim is that no
# single transaction holds SQLite's write lock for more than about a second.
SLOW_BATCH_SECONDS = 0.5
# A batch faster than this doubles the next (up to MAX_GROWTH x batch_size):
# per-batch overhead then stays small next to a single plain DELETE.
FAST_BATCH_SECONDS = 0.1
MAX_GROWTH = 4
# A pause after each batch on SQLite, so a writer sleeping in SQLite's busy
# handler gets a real chance at the lock before the next batch takes it.
SQLITE_PAUSE_SECONDS = 0.002
PROGRESS_EVERY_SECONDS = 5.0
# SQLite only, for the length of a batched delete: a bigger page cache (the
# default 2 MiB re-reads index pages every batch) and checkpoints run by us
# between batches, every few batches, instead of after every commit.
SQLITE_CACHE_KIB = 16384
SQLITE_CHECKPOINT_EVERY = 4


@dataclass
class BatchStats:
    """What a batched delete did; `longest_batch_seconds` is the longest write-lock hold."""

    deleted: int = 0
    batches: int = 0
    longest_batch_seconds: float = 0.0
    batch_seconds: list[float] = field(default_factory=list, repr=False)
    batch_rows: list[int] = field(default_factory=list, repr=False)


def delete_in_batches(
    queryset: QuerySet, *, batch_size: int | None = None, label: str = "", in_pk_order: bool = False
) -> BatchStats:
    """Delete every row of `queryset`, at most `batch_size` rows per transaction.

    Each batch is `DELETE ... WHERE pk IN (SELECT pk ... LIMIT n)`, which both
    SQLite and PostgreSQL run from the queryset's index without fetching rows
    into Python. Django's delete() still applies cascades and signals when the
    model has any. The batch shrinks when a batch is slow (a cold cache, a
    busy disk) so the lock-hold bound survives surprises, and grows (up to 4x)
    while batches are quick, so small batches cost little throughput.

    `in_pk_order` takes each batch in primary-key order: for an integer key that
    follows insertion time, each batch then rewrites a few neighbouring table
    pages instead of pages scattered over the whole table.
    """
    model = queryset.model
    limit = batch_size or settings.MAINTENANCE_BATCH_SIZE
    ceiling = limit * MAX_GROWTH
    using = queryset.db
    is_sqlite = connections[using].vendor == "sqlite"
    stats, label = BatchStats(), label or model._meta.label
    last_report = time.monotonic()
    with _sqlite_tuning(using) if is_sqlite else contextlib.nullcontext():
        while True:
            started = time.perf_counter()
            with transaction.atomic(using=using):
                chunk = queryset.order_by(*["pk"] if in_pk_order else []).values("pk")[:limit]
                deleted = _delete_chunk(model, using, chunk)
            elapsed = time.perf_counter() - started  # how long the write lock was held
            if deleted == 0:
                break
            stats.deleted += deleted
            stats.batches += 1
            stats.batch_seconds.append(elapsed)
            stats.batch_rows.append(deleted)
            stats.longest_batch_seconds = max(stats.longest_batch_seconds, elapsed)
            if time.monotonic() - last_report >= PROGRESS_EVERY_SECONDS:
                logger.info("%s: %d rows deleted so far", label, stats.deleted)
                last_report = time.monotonic()
            if deleted < limit:
                break  # the last, partial batch: nothing is left
            if elapsed > SLOW_BATCH_SECONDS and limit > 100:
                limit //= 2
            elif elapsed < FAST_BATCH_SECONDS and limit < ceiling:
                limit = min(limit * 2, ceiling)
            if is_sqlite:
                if stats.batches % SQLITE_CHECKPOINT_EVERY == 0:
                    _checkpoint(using)
                time.sleep(SQLITE_PAUSE_SECONDS)
    logger.info(
        "%s: deleted %d rows in %d batches (longest %.3f s)",
        label,
        stats.deleted,
        stats.batches,
        stats.longest_batch_seconds,
    )
    return stats


def _delete_chunk(model, using: str, chunk: QuerySet) -> int:
    """Delete the rows whose pk is in `chunk`; returns how many of `model` went.

    Django's Collector loads every row and deletes 100 ids per statement as
    soon as another model points here, even when all it has to do is set
    those pointers to NULL. That case is done in two set-based statements;
    anything else (cascades, signals) goes through Django's delete().
    """
    manager = model._base_manager.using(using)
    relations = [rel for rel in model._meta.related_objects if not rel.many_to_many]
    listeners = signals.pre_delete.has_listeners(model) or signals.post_delete.has_listeners(model)
    if listeners or any(rel.on_delete is not SET_NULL for rel in relations):
        return manager.filter(pk__in=chunk).delete()[1].get(model._meta.label, 0)
    for rel in relations:
        rel.related_model._base_manager.using(using).filter(
            **{f"{rel.field.name}__in": chunk}
        ).update(**{rel.field.name: None})
    doomed = manager.filter(pk__in=chunk)
    return doomed._raw_delete(using)  # what delete() itself runs when nothing else is needed


def _sqlite_pragma(using: str, pragma: str):
    with connections[using].cursor() as cursor:
        cursor.execute(f"PRAGMA {pragma}")
        return cursor.fetchone()


@contextlib.contextmanager
def _sqlite_tuning(using: str) -> Iterator[None]:
    """Bigger cache and manual checkpoints for this connection, restored afterwards.

    SQLite checkpoints after the commit has released the write lock, so
    moving them between batches does not lengthen any lock hold; it only
    makes the measured batch time the real lock-hold time.
    """
    (cache,) = _sqlite_pragma(using, "cache_size")
    (autocheckpoint,) = _sqlite_pragma(using, "wal_autocheckpoint")
    _sqlite_pragma(using, f"cache_size=-{SQLITE_CACHE_KIB}")
    _sqlite_pragma(using, "wal_autocheckpoint=0")
    try:
        yield
    finally:
        _sqlite_pragma(using, f"cache_size={int(cache)}")
        _sqlite_pragma(using, f"wal_autocheckpoint={int(autocheckpoint)}")
        _checkpoint(using)


def _checkpoint(using: str) -> None:
    # Inside a caller's transaction (tests) there is nothing committed to checkpoint.
    if not connections[using].in_atomic_block:
        _sqlite_pragma(using, "wal_checkpoint(PASSIVE)")
