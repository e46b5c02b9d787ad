"""Scheduler engine performance against django-apscheduler and plain APScheduler, in one run.

    python -m benchmarks.engine [--executions 1000] [--dispatch 200,1000]
                                [--startup-tasks 10000] [--database-url URL]

Measures, side by side with the baselines run in the same process and database:

1. per-execution overhead of a no-op task: our runner's full bookkeeping
   (`runner.run_fire`, `runner.run_now`, and the engine's batch path for fires
   due together: `claim_fires` + `run_claimed` + `record_outcomes`) vs a
   BackgroundScheduler with django-apscheduler's DjangoJobStore recording each
   run (DjangoJobExecution) vs plain APScheduler with a MemoryJobStore (the floor);
2. dispatch latency (actual start minus scheduled time, p50/p99) and runs
   dropped as missed, for N tasks all due at the same instant, through our
   `Engine` vs the two baselines;
3. `manage.py runscheduler` start-up time and peak RSS with 10,000 enabled
   tasks (a real subprocess) vs a process that loads as many jobs into each
   baseline, and the cost of one sync cycle that picks up 1 edited task.

Uses a throwaway database: a temp SQLite file, or a scratch database created
on the server of a postgres:// `--database-url` (or `DATABASE_URL`).
The baselines use APScheduler's defaults (10 threads, 1 s misfire grace); ours
uses the project's settings. Wall times on a shared machine include waiting for
a core, so the overhead section also reports CPU time per execution.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from benchmarks.common import (
    Row,
    format_table,
    setup_django,
    throwaway_database,
)
from benchmarks.engine_dispatch import measure_dispatch
from benchmarks.engine_setup import (
    apscheduler_with,
    make_tasks,
    progress,
    reset_tables,
)
from benchmarks.engine_startup import child_startup, measure_startup

TARGETS: list[tuple[str, Callable[[dict[str, float]], tuple[bool, str]]]] = []


def baseline_throughput(store: str, count: int) -> tuple[float, float]:
    """(wall ms, CPU ms) per execution: `count` due no-op interval jobs run through a scheduler.

    Timed from resume until the last run's EXECUTED event; with DjangoJobStore
    that event is recorded (DjangoJobExecution) before our listener sees it.
    """
    from apscheduler.events import EVENT_JOB_EXECUTED

    scheduler = apscheduler_with(store)
    done = threading.Event()
    executed = [0]

    def on_executed(event: Any) -> None:
        executed[0] += 1
        if executed[0] == count:
            done.set()

    scheduler.start(paused=True)
    scheduler.add_listener(on_executed, EVENT_JOB_EXECUTED)  # after django-apscheduler's
    past = datetime.now(UTC) - timedelta(seconds=1)
    for i in range(count):
        scheduler.add_job(
            "benchmarks.engine_setup:baseline_noop",
            "interval",
            hours=1,
            next_run_time=past,
            id=f"overhead-{i}",
            misfire_grace_time=None,
        )
    started, cpu = time.perf_counter(), time.process_time()
    scheduler.resume()
    if not done.wait(timeout=60 + count * 0.05):
        progress(f"{store}: only {executed[0]} of {count} runs finished")
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    scheduler.shutdown(wait=True)
    runs = max(executed[0], 1)
    return elapsed * 1000 / runs, cpu * 1000 / runs


def baseline_recording_only(count: int) -> float:
    """ms per execution of django-apscheduler's own recording, driven directly.

    What its listeners do for each run: one `atomic_update_or_create` when the
    run is submitted and one when it has executed.
    """
    from django_apscheduler.models import DjangoJob, DjangoJobExecution

    lock = threading.RLock()
    DjangoJob.objects.create(id="recording-only", next_run_time=None, job_state=b"")
    base = datetime(2030, 1, 1, tzinfo=UTC)
    started = time.perf_counter()
    for i in range(count):
        run_time = base + timedelta(seconds=i)
        DjangoJobExecution.atomic_update_or_create(
            lock, "recording-only", run_time, DjangoJobExecution.SENT
        )
        DjangoJobExecution.atomic_update_or_create(
            lock, "recording-only", run_time, DjangoJobExecution.SUCCESS
        )
    return (time.perf_counter() - started) * 1000 / count


# --- 1. per-execution overhead ---------------------------------------------------
def ours_overhead(count: int) -> tuple[float, float, float]:
    """ms per execution of `runner.run_fire` (wall, CPU) and of `runner.run_now`, no-op task.

    CPU time is reported too because wall time on a shared machine includes
    waiting for a core; the CPU figure is what the run itself costs.
    """
    from scheduling.engine import runner
    from scheduling.models import ExecutionStatus, Task, TaskExecution

    task = Task.objects.create(
        name="bench-overhead",
        func="benchmarks.engine_setup.noop_task",
        trigger_type="cron",
        cron_expression="0 3 * * *",
    )
    base = datetime(2030, 1, 1, tzinfo=UTC)
    for i in range(5):  # warm up imports, connections, caches
        runner.run_fire(task.pk, base - timedelta(days=1, seconds=i))
    started, cpu = time.perf_counter(), time.process_time()
    for i in range(count):
        runner.run_fire(task.pk, base + timedelta(seconds=i))
    per_fire = (time.perf_counter() - started) * 1000 / count
    cpu_fire = (time.process_time() - cpu) * 1000 / count
    started = time.perf_counter()
    for _ in range(count):
        runner.run_now(task)
    per_now = (time.perf_counter() - started) * 1000 / count
    ok = TaskExecution.objects.filter(task=task, status=ExecutionStatus.SUCCESS).count()
    if ok != 2 * count + 5:
        raise SystemExit(f"expected {2 * count + 5} successful runs, found {ok}")
    return per_fire, cpu_fire, per_now


def ours_batch_overhead(count: int) -> float:
    """ms per execution of the engine's batch path: `count` fires due together, one claim.

    `claims.claim_fires` for all, `runner.run_claimed` each, `runner.record_outcomes`
    per 100 (the recorder thread takes what has finished, typically a few dozen).
    """
    from scheduling.engine import claims, runner
    from scheduling.models import ExecutionStatus, TaskExecution

    ids = make_tasks("bench-batch", count, "benchmarks.engine_setup.noop_task")
    base = datetime(2030, 1, 1, tzinfo=UTC)
    started = time.perf_counter()
    claimed = claims.claim_fires([(task_id, base) for task_id in ids])
    outcomes = [runner.run_claimed(claim) for claim in claimed]
    for start in range(0, len(outcomes), 100):
        runner.record_outcomes(outcomes[start : start + 100])
    per_exec = (time.perf_counter() - started) * 1000 / count
    ok = TaskExecution.objects.filter(scheduled_for=base, status=ExecutionStatus.SUCCESS).count()
    if ok != count:
        raise SystemExit(f"expected {count} successful batch runs, found {ok}")
    return per_exec


def measure_overhead(count: int) -> list[Row]:
    reset_tables()
    progress(f"overhead: ours, {count} run_fire + {count} run_now")
    per_fire, cpu_fire, per_now = ours_overhead(count)
    reset_tables()
    progress(f"overhead: ours, {count} fires due together (engine batch path)")
    per_batch = ours_batch_overhead(count)
    progress(f"overhead: django-apscheduler scheduler, {count} due jobs")
    reset_tables()
    dja, dja_cpu = baseline_throughput("django", count)
    reset_tables()
    recording = baseline_recording_only(count)
    progress(f"overhead: APScheduler memory store, {count} due jobs")
    memory, memory_cpu = baseline_throughput("memory", count)
    reset_tables()
    return [
        Row("overhead run_fire ms/exec vs django-apscheduler", per_fire, dja),
        Row("overhead run_now ms/exec vs django-apscheduler", per_now, dja),
        Row("overhead batch of due fires ms/exec vs django-apscheduler", per_batch, dja),
        Row("overhead run_fire vs dja recording only (2 writes)", per_fire, recording),
        Row("overhead run_fire vs APScheduler memory (floor)", per_fire, memory),
        Row("overhead run_fire CPU ms/exec vs django-apscheduler", cpu_fire, dja_cpu),
        Row("overhead run_fire CPU ms/exec vs APScheduler memory", cpu_fire, memory_cpu),
    ]


def check_targets(rows: list[Row], startup_tasks: int) -> list[str]:
    """One line per issue target: met or missed, with the figure."""
    by_metric = {row.metric: row for row in rows}
    lines = []

    def check(metric: str, limit: float, label: str, compare_baseline: bool = False) -> None:
        row = by_metric.get(metric)
        if row is None:
            return
        ok = row.ours <= limit
        if compare_baseline and row.baseline:
            ok = ok and row.ours * 2 <= row.baseline
        lines.append(f"{'met   ' if ok else 'MISSED'} {label}: {row.ours:.3f}")

    check(
        "overhead run_fire ms/exec vs django-apscheduler",
        1.0,
        "run_fire <= 1.0 ms/exec and >= 2x better than django-apscheduler",
        True,
    )
    check(
        "overhead batch of due fires ms/exec vs django-apscheduler",
        1.0,
        "engine batch path <= 1.0 ms/exec and >= 2x better than django-apscheduler",
        True,
    )
    for metric in by_metric:
        if metric.startswith("dispatch") and "p99 ms vs django" in metric:
            n = int(metric.split()[1].rstrip(":"))
            check(metric, 100.0 if n <= 200 else 1000.0, f"dispatch {n} p99 ms")
        if metric.startswith("dispatch") and "dropped vs django" in metric:
            check(metric, 0, f"dispatch {metric.split()[1].rstrip(':')} dropped")
    check(f"start-up {startup_tasks} tasks s vs django-apscheduler", 5.0, "start-up < 5 s")
    check(f"peak RSS {startup_tasks} tasks MiB vs django-apscheduler", 300.0, "peak RSS < 300 MB")
    check(f"sync 1 edit of {startup_tasks} ms vs dja reschedule_job", 50.0, "sync cycle < 50 ms")
    return lines


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--executions", type=int, default=1000, help="runs for the overhead")
    parser.add_argument("--dispatch", default="200,1000", help="task counts due at once")
    parser.add_argument(
        "--lead-seconds",
        type=float,
        default=3.0,
        help="extra seconds between loading and the due instant",
    )
    parser.add_argument("--startup-tasks", type=int, default=10_000)
    parser.add_argument("--sync-edits", type=int, default=20, help="edits timed for sync")
    parser.add_argument("--only", default="overhead,dispatch,startup", help="sections to run")
    parser.add_argument(
        "--log-level",
        default="WARNING",
        help="log level here; runscheduler logs at INFO, as in production",
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL", ""),
        help="a postgres:// server URL gets a scratch database",
    )
    parser.add_argument("--child-startup", choices=["django", "memory"], help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def run(args: argparse.Namespace) -> list[Row]:
    sections = set(args.only.split(","))
    rows: list[Row] = []
    if "overhead" in sections:
        rows += measure_overhead(args.executions)
    if "dispatch" in sections:
        for count in (int(n) for n in args.dispatch.split(",") if n):
            # Our engine loads its jobs before the due instant: allow for that.
            rows += measure_dispatch(count, args.lead_seconds + count * 0.01)
    if "startup" in sections:
        rows += measure_startup(args.startup_tasks, args.sync_edits)
    return rows


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child_startup:  # re-invoked by baseline_startup: the database exists already
        setup_django(os.environ["DATABASE_URL"], migrate=False)
        child_startup(args.child_startup, args.startup_tasks)
        return 0
    with throwaway_database(args.database_url, "enginebench") as url:
        setup_django(url, args.log_level)
        # The baselines' missed runs are counted in the table; one warning each is noise.
        logging.getLogger("apscheduler").setLevel(logging.ERROR)
        from django.db import connection

        rows = run(args)
        title = f"\nEngine benchmark on {connection.vendor} (ratio = ours / baseline)"
        print(format_table(title, rows))
        print("\nTargets:")
        for line in check_targets(rows, args.startup_tasks):
            print(f"  {line}")
        connection.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
