"""Delete many rows without holding the database's write lock for long.

SQLite has one write lock for the whole file: a single `DELETE` of a million
rows blocks every other writer (the web site, the scheduler's bookkeeping) for
the ten seconds it takes. Deleting in bounded batches, each its own short
transaction, lets other writers in between batches. PostgreSQL only locks the
rows, but short transactions still keep vacuum and replication happy.

A batch is a range of an indexed key, deleted in one pass where the database
allows it. On PostgreSQL each batch starts where the previous one ended: it
keeps the index entries of deleted rows until vacuum, and batches that
started from the top were four times slower than one plain `DELETE`.
"""

from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connections, transaction
from django.db.models import SET_NULL, BooleanField, F, Func, Q, QuerySet, signals

from maintenance import sqlite
from scheduling import progress

logger = logging.getLogger(__name__)

# A batch that takes longer than this halves the next batch; the aim is that no
# single transaction holds SQLite's write lock for more than about a second.
SLOW_BATCH_SECONDS = 0.5
# A batch faster than this doubles the next (up to MAX_GROWTH x batch_size):
# per-batch overhead then stays small next to a single plain DELETE.
FAST_BATCH_SECONDS = 0.1
MAX_GROWTH = 4
# PostgreSQL locks rows, not the database, so the one-second bound is not at
# stake there: batches may grow further while they stay under SLOW_BATCH_SECONDS.
POSTGRESQL_MAX_GROWTH = 32
# A pause after each batch on SQLite, so a writer sleeping in SQLite's busy
# handler gets a real chance at the lock before the next batch takes it.
SQLITE_PAUSE_SECONDS = 0.002
PROGRESS_EVERY_SECONDS = 5.0
# SQLite: checkpoint every few batches (see maintenance.sqlite).
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
    queryset: QuerySet,
    *,
    batch_size: int | None = None,
    label: str = "",
    key: str = "pk",
    before: Any = None,
) -> BatchStats:
    """Delete every row of `queryset`, at most about `batch_size` rows per transaction.

    Batches are taken in `key` order and run from the key's index without
    fetching rows into Python. On SQLite a batch is `DELETE ... WHERE pk IN
    (SELECT pk ... ORDER BY key LIMIT n)`: exactly n rows, since SQLite's write
    lock blocks every other writer, and a scan from the start of the index
    meets only live rows (SQLite removes index entries as it deletes). On
    PostgreSQL, which keeps deleted rows' index entries until vacuum and
    tends to plan `IN (SELECT ... LIMIT n)` as a hash join over the whole
    table, a batch is `DELETE ... WHERE key BETWEEN <where the last batch
    ended> AND <key of the n-th row>`: one index range scan; rows tied with
    the n-th key make it a little larger, which only row locks notice.
    `key` should be indexed and follow the order the rows were written in (the
    primary key, a creation or expiry time), so a batch rewrites neighbouring
    pages; it need not be unique. Django's delete() still applies cascades and
    signals when the model has any.

    `before` limits the delete to rows with `key < before` (a cutoff on the
    key itself, instead of a filter in `queryset`). SQLite then deletes each
    batch as `key < <key of the n-th row>`, one pass down the index: the
    `IN (SELECT ...)` form costs it that one-pass delete (1.9x the time of
    a plain DELETE for the same rows), and with the cutoff as a second upper
    bound in the same WHERE its planner would scan from the cutoff instead.

    The batch shrinks when a batch is slow (a cold cache, a busy disk) so the
    lock-hold bound survives surprises, and grows while batches are quick, so
    small batches cost little throughput.
    """
    model = queryset.model
    limit = batch_size or settings.MAINTENANCE_BATCH_SIZE
    using = queryset.db
    is_sqlite = connections[using].vendor == "sqlite"
    ceiling = limit * (MAX_GROWTH if is_sqlite else POSTGRESQL_MAX_GROWTH)
    stats, label = BatchStats(), label or model._meta.label
    last_report = time.monotonic()
    start = None  # PostgreSQL: every remaining row has key >= start
    below = queryset if before is None else queryset.filter(**{f"{key}__lt": before})
    with sqlite.bulk_write_tuning(using) if is_sqlite else contextlib.nullcontext():
        while True:
            started = time.perf_counter()
            with transaction.atomic(using=using):
                if is_sqlite and before is not None:
                    deleted, finished = _delete_below(queryset, key, limit, before)
                elif is_sqlite:
                    deleted = _delete_first(queryset, key, limit)
                    finished = deleted < limit
                else:
                    deleted, start, finished = _delete_key_range(below, key, limit, start)
            elapsed = time.perf_counter() - started  # how long the write lock was held
            if deleted:
                progress.advance(deleted, f"{label}: deleted")
                stats.deleted += deleted
                stats.batches += 1
                stats.batch_seconds.append(elapsed)
                stats.batch_rows.append(deleted)
                stats.longest_batch_seconds = max(stats.longest_batch_seconds, elapsed)
            if finished:
                break  # fewer than `limit` rows were left, and this batch took them
            if time.monotonic() - last_report >= PROGRESS_EVERY_SECONDS:
                logger.info("%s: %d rows deleted so far", label, stats.deleted)
                last_report = time.monotonic()
            limit = next_batch_size(limit, elapsed, 100, ceiling)
            if is_sqlite:
                between_sqlite_batches(using, stats.batches)
    logger.info(
        "%s: deleted %d rows in %d batches (longest %.3f s)",
        label,
        stats.deleted,
        stats.batches,
        stats.longest_batch_seconds,
    )
    return stats


def next_batch_size(size: int, elapsed: float, floor: int, ceiling: int) -> int:
    """Half the size after a slow batch (not below `floor`), double it after a quick one."""
    if elapsed > SLOW_BATCH_SECONDS and size > floor:
        return max(size // 2, floor)
    if elapsed < FAST_BATCH_SECONDS and size < ceiling:
        return min(size * 2, ceiling)
    return size


def between_sqlite_batches(using: str, batches: int) -> None:
    """SQLite: a checkpoint every few batches, and a pause that lets waiting writers in."""
    if batches % SQLITE_CHECKPOINT_EVERY == 0:
        sqlite.checkpoint(using)
    time.sleep(SQLITE_PAUSE_SECONDS)


def _delete_first(queryset: QuerySet, key: str, limit: int) -> int:
    """SQLite: delete the first `limit` rows in `key` order."""
    model, using = queryset.model, queryset.db
    first = queryset.order_by(key).values("pk")[:limit]
    return _delete_rows(model, using, model._base_manager.using(using).filter(pk__in=first))


def _delete_below(queryset: QuerySet, key: str, limit: int, before: Any) -> tuple[int, bool]:
    """SQLite: delete the rows keyed below the `limit`-th one; (deleted, was it the last)."""
    below = queryset.filter(**{f"{key}__lt": before})
    boundary = next(iter(below.order_by(key).values_list(key, flat=True)[limit - 1 : limit]), None)
    if boundary is None:  # fewer than `limit` rows left: all of them
        return _delete_rows(queryset.model, queryset.db, below), True
    deleted = _delete_rows(queryset.model, queryset.db, queryset.filter(**{f"{key}__lt": boundary}))
    if deleted == 0:  # `limit` rows or more share the lowest key: take exactly `limit` of them
        deleted = _delete_first(below, key, limit)
    return deleted, False


def _delete_key_range(
    queryset: QuerySet, key: str, limit: int, start: Any
) -> tuple[int, Any, bool]:
    """PostgreSQL: delete from `start` to the `limit`-th row's key; (deleted, next start, last)."""
    window = queryset if start is None else queryset.filter(**{f"{key}__gte": start})
    window = window.order_by(key)
    boundary = next(iter(window.values_list(key, flat=True)[limit - 1 : limit]), None)
    rows = window if boundary is None else window.filter(**{f"{key}__lte": boundary})
    deleted = _delete_rows(queryset.model, queryset.db, rows)
    return deleted, start if boundary is None else boundary, boundary is None


def _delete_rows(model, using: str, rows: QuerySet) -> int:
    """Delete `rows`; returns how many of `model` went.

    Django's Collector loads every row and deletes 100 ids per statement as
    soon as another model points here, even when all it has to do is set
    those pointers to NULL. That case is done in two set-based statements;
    anything else (cascades, signals) goes through Django's delete().
    """
    relations = [rel for rel in model._meta.related_objects if not rel.many_to_many]
    listeners = signals.pre_delete.has_listeners(model) or signals.post_delete.has_listeners(model)
    if listeners or any(rel.on_delete is not SET_NULL for rel in relations):
        return rows.delete()[1].get(model._meta.label, 0)
    for rel in relations:
        rel.related_model._base_manager.using(using).filter(
            _in_subquery(rel.field.name, rows.values("pk"), using)
        ).update(**{rel.field.name: None})
    return rows._raw_delete(using)  # what delete() itself runs when nothing else is needed


class _EqualsAny(Func):
    """`field = ANY(array)` as a filter condition (PostgreSQL)."""

    arg_joiner = " = ANY("
    template = "%(expressions)s)"
    output_field = BooleanField()


def _in_subquery(field: str, chunk: QuerySet, using: str) -> Q | Func:
    """`field IN (chunk)`, in the form each database runs as an index lookup.

    PostgreSQL's planner often turns `IN (SELECT ... LIMIT n)` into a hash
    join over a scan of the whole table, once per batch. `= ANY(ARRAY(...))`
    runs the subquery once and probes the index with its result.
    """
    if connections[using].vendor != "postgresql":
        return Q(**{f"{field}__in": chunk})
    from django.contrib.postgres.expressions import ArraySubquery

    return _EqualsAny(F(field), ArraySubquery(chunk))
