"""Run a set-based write in short batches whose size follows how long each one takes.

The rules are those of `maintenance.batching` (which deletes this way): each
batch is its own transaction; a batch slower than SLOW_BATCH_SECONDS halves
the next one, one faster than FAST_BATCH_SECONDS doubles it, up to a ceiling
(4x the first size on SQLite, whose write lock blocks every other writer;
32x on PostgreSQL, which locks only rows). On SQLite the WAL is checkpointed
every few batches and a short pause after each batch lets waiting writers in.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.db import connections

from maintenance import sqlite
from maintenance.batching import (
    MAX_GROWTH,
    POSTGRESQL_MAX_GROWTH,
    PROGRESS_EVERY_SECONDS,
    between_sqlite_batches,
    next_batch_size,
)
from scheduling import progress

logger = logging.getLogger(__name__)

# `step(size)` does one batch of about `size` units in its own transaction and
# returns (units done, whether that was the last batch).
Step = Callable[[int], tuple[int, bool]]


@dataclass
class BatchRun:
    """What a batched run did; `longest_batch_seconds` is the longest transaction."""

    done: int = 0
    batches: int = 0
    longest_batch_seconds: float = 0.0


def run_batches(
    step: Step, *, size: int, what: str, smallest: int = 100, using: str = "default"
) -> BatchRun:
    """Call `step` until it reports the last batch; progress and logs count `what`.

    Batches start at `size` units and never go below `smallest` (or `size`,
    if that is smaller).
    """
    is_sqlite = connections[using].vendor == "sqlite"
    floor, ceiling = (
        min(size, smallest),
        size * (MAX_GROWTH if is_sqlite else POSTGRESQL_MAX_GROWTH),
    )
    stats, last_report = BatchRun(), time.monotonic()
    with sqlite.bulk_write_tuning(using) if is_sqlite else contextlib.nullcontext():
        while True:
            started = time.perf_counter()
            done, finished = step(size)
            elapsed = time.perf_counter() - started
            stats.batches += 1
            stats.longest_batch_seconds = max(stats.longest_batch_seconds, elapsed)
            if done:
                stats.done += done
                progress.advance(done, what)
            if finished:
                break
            if time.monotonic() - last_report >= PROGRESS_EVERY_SECONDS:
                logger.info("%s: %d so far", what, stats.done)
                last_report = time.monotonic()
            size = next_batch_size(size, elapsed, floor, ceiling)
            if is_sqlite:
                between_sqlite_batches(using, stats.batches)
    return stats
