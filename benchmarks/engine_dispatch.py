"""Engine benchmark, part 2: how late runs start when many tasks fall due at once.

Ours: a real Engine with `count` tasks due at the same instant, each recording
its start time. The baselines: APScheduler with DjangoJobStore and with the
memory store, each job recording how late it started into BASELINE_STARTS.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from benchmarks.common import Row, percentile
from benchmarks.engine_setup import (
    BASELINE_STARTS,
    apscheduler_with,
    make_tasks,
    progress,
    reset_tables,
    wait_for,
)


# --- 2. dispatch latency ---------------------------------------------------------
def ours_dispatch(count: int, lead: float) -> tuple[list[float], int, float]:
    """Latencies (s) of `count` interval tasks all first due at one instant, via Engine."""
    from apscheduler.schedulers.base import STATE_RUNNING

    from scheduling.engine.loop import Engine
    from scheduling.models import Task, TaskExecution

    reset_tables()
    due = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=lead + 1)
    ids = make_tasks(
        "bench-dispatch",
        count,
        "benchmarks.engine_setup.record_start",
        trigger_type="interval",
        interval_seconds=3600,
        cron_expression="",
    )
    # Interval triggers are anchored at created_at: first fire exactly at `due`.
    Task.objects.filter(pk__in=ids).update(created_at=due, next_run_at=due)
    engine = Engine()
    loading = time.perf_counter()
    engine.start_in_thread()
    loaded = wait_for(
        lambda: len(engine.known) >= count and engine.scheduler.state == STATE_RUNNING,
        120 + count * 0.05,
    )
    load_seconds = time.perf_counter() - loading
    if not loaded or datetime.now(UTC) > due:
        progress(f"WARNING: engine loaded {count} tasks in {load_seconds:.1f}s, after the due time")
    finished = TaskExecution.objects.filter(scheduled_for=due, finished_at__isnull=False)
    wait_for(lambda: finished.count() >= count, (due - datetime.now(UTC)).total_seconds() + 60, 0.2)
    engine.stop()
    results = list(finished.values_list("result", flat=True))
    latencies = [r["started"] - due.timestamp() for r in results if r and "started" in r]
    return latencies, count - len(latencies), load_seconds


def baseline_dispatch(store: str, count: int, lead: float) -> tuple[list[float], int]:
    """Latencies (s) and missed runs of `count` jobs due at one instant (default 1 s grace)."""
    from apscheduler.events import EVENT_JOB_MISSED

    reset_tables()
    BASELINE_STARTS.clear()
    scheduler = apscheduler_with(store)
    missed = [0]
    scheduler.add_listener(lambda event: missed.__setitem__(0, missed[0] + 1), EVENT_JOB_MISSED)
    scheduler.start(paused=True)
    due = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=lead + 1)
    for i in range(count):
        scheduler.add_job(
            "benchmarks.engine_setup:baseline_job",
            "interval",
            hours=1,
            next_run_time=due,
            args=[due.timestamp()],
            id=f"dispatch-{i}",
        )
    if datetime.now(UTC) > due:
        progress(f"WARNING: {store} store loaded {count} jobs after the due time")
    scheduler.resume()
    wait_for(
        lambda: len(BASELINE_STARTS) + missed[0] >= count,
        (due - datetime.now(UTC)).total_seconds() + 60,
        0.1,
    )
    scheduler.shutdown(wait=True)
    return list(BASELINE_STARTS), count - len(BASELINE_STARTS)


def measure_dispatch(count: int, lead: float) -> list[Row]:
    progress(f"dispatch: ours, {count} tasks due at once")
    ours, ours_dropped, load = ours_dispatch(count, lead)
    progress(f"dispatch: django-apscheduler, {count} jobs due at once")
    dja, dja_dropped = baseline_dispatch("django", count, lead)
    progress(f"dispatch: APScheduler memory store, {count} jobs due at once")
    memory, memory_dropped = baseline_dispatch("memory", count, lead)
    reset_tables()
    rows = []
    for name, fraction in (("p50", 0.5), ("p99", 0.99)):
        ours_ms = percentile(ours, fraction) * 1000
        rows.append(
            Row(
                f"dispatch {count}: {name} ms vs django-apscheduler",
                ours_ms,
                percentile(dja, fraction) * 1000,
            )
        )
        rows.append(
            Row(
                f"dispatch {count}: {name} ms vs APScheduler memory",
                ours_ms,
                percentile(memory, fraction) * 1000,
            )
        )
    rows.append(
        Row(f"dispatch {count}: dropped vs django-apscheduler", ours_dropped, dja_dropped, "count")
    )
    rows.append(
        Row(
            f"dispatch {count}: dropped vs APScheduler memory",
            ours_dropped,
            memory_dropped,
            "count",
        )
    )
    progress(f"dispatch: our engine loaded {count} tasks in {load:.2f}s")
    return rows
