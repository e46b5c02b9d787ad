"""What the workers benchmark runs: one sleeping body, reached three ways.

Every run, whoever sent it, records its start and end in Redis
(`RPUSH bench:<label>:starts|ends`), so runs lost and runs doubled are counted
by what actually executed, not by anyone's bookkeeping:

- `bench_sleep`: ours, a registered function (`@scheduled_task`) that queued
  tasks name; the engine sends it to the workers.
- `benchmarks.floor_sleep`: a bare Celery task, sent by a `delay()` loop (the
  floor) and by celery beat's DatabaseScheduler (the beat baseline).

The module is listed in SCHEDULER_TASK_MODULES and CELERY_IMPORTS of every
benchmark process, as a deployment lists its own task modules.
"""

from __future__ import annotations

import os
import time
from typing import Any

from celery import shared_task

from scheduling.registry import scheduled_task

_clients: dict[int, Any] = {}  # per pid: a prefork child must not reuse its parent's socket


def _redis() -> Any:
    import redis

    client = _clients.get(os.getpid())
    if client is None:
        client = _clients[os.getpid()] = redis.Redis.from_url(os.environ["BENCH_REDIS_URL"])
    return client


def sleep_and_record(label: str, key: str, seconds: float) -> None:
    """Record the start, sleep `seconds` (the run's work), record the end.

    The start says whether it ran inside a Celery worker's task ("worker") or
    elsewhere ("local", e.g. a scheduler's thread), so a measurement of workers
    cannot silently be a measurement of something else.
    """
    from celery import current_task

    started = time.time()
    where = "worker" if current_task and current_task.request.id else "local"
    _redis().rpush(f"bench:{label}:starts", f"{key} {started:.6f} {os.getpid()} {where}")
    time.sleep(seconds)
    _redis().rpush(f"bench:{label}:ends", f"{key} {time.time():.6f}")


@scheduled_task(name="bench_sleep", schedule=None)
def bench_sleep(label: str = "", key: str = "", seconds: float = 1.0, **kwargs: Any) -> None:
    """Ours: the function 1,000 queued tasks run on the workers."""
    sleep_and_record(label, key, seconds)


@shared_task(name="benchmarks.floor_sleep", ignore_result=True)
def floor_sleep(label: str, key: str, seconds: float) -> None:
    """The baselines' body: the same sleep as a bare Celery task."""
    sleep_and_record(label, key, seconds)
