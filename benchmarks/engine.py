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
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from benchmarks.common import (
    BASE_DIR,
    Row,
    format_table,
    peak_rss_mb,
    percentile,
    setup_django,
    throwaway_database,
)

TARGETS: list[tuple[str, Callable[[dict[str, float]], tuple[bool, str]]]] = []
BASELINE_STARTS: list[float] = []  # seconds late, appended by `baseline_job`
_starts_lock = threading.Lock()


# --- task functions (module level, so tasks and jobs can reference them) ------
def noop_task(**kwargs: Any) -> None:
    """The no-op our tasks run: nothing to measure but the bookkeeping."""


def record_start(**kwargs: Any) -> dict[str, float]:
    """Our dispatch probe: the start time lands in TaskExecution.result."""
    return {"started": time.time()}


def baseline_noop() -> None:
    """The no-op the APScheduler baselines run."""


def baseline_job(scheduled_ts: float) -> None:
    """The baselines' dispatch probe: how late this run started."""
    late = time.time() - scheduled_ts
    with _starts_lock:
        BASELINE_STARTS.append(late)


def progress(message: str) -> None:
    print(f"  .. {message}", file=sys.stderr, flush=True)


def wait_for(predicate: Callable[[], Any], timeout: float, poll: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(poll)
    return bool(predicate())


def reset_tables() -> None:
    """Empty what a previous measurement left: tasks, executions, jobs, nodes, lease."""
    from django_apscheduler.models import DjangoJob, DjangoJobExecution

    from scheduling.models import SchedulerLease, SchedulerNode, Task, TaskExecution

    TaskExecution.objects.all().delete()
    Task.objects.all().delete()
    DjangoJobExecution.objects.all().delete()
    DjangoJob.objects.all().delete()
    SchedulerNode.objects.all().delete()
    SchedulerLease.objects.all().delete()


def make_tasks(prefix: str, count: int, func: str, **fields: Any) -> list[int]:
    """Bulk-create `count` enabled tasks; returns their ids."""
    from scheduling.models import Task

    defaults = {"trigger_type": "cron", "cron_expression": "0 3 * * *", "timezone": "UTC"}
    defaults.update(fields)
    tasks = Task.objects.bulk_create(
        (Task(name=f"{prefix}-{i:05d}", func=func, **defaults) for i in range(count)),
        batch_size=1000,
    )
    ids = [task.pk for task in tasks]
    return ids or list(
        Task.objects.filter(name__startswith=f"{prefix}-").values_list("pk", flat=True)
    )


# --- APScheduler baselines -------------------------------------------------
def _scheduler(store: str, workers: int = 10):
    from apscheduler.executors.pool import ThreadPoolExecutor
    from apscheduler.jobstores.memory import MemoryJobStore
    from apscheduler.schedulers.background import BackgroundScheduler
    from django_apscheduler.jobstores import DjangoJobStore

    jobstore = DjangoJobStore() if store == "django" else MemoryJobStore()
    return BackgroundScheduler(
        jobstores={"default": jobstore},
        executors={"default": ThreadPoolExecutor(workers)},
        timezone="UTC",
    )


def baseline_throughput(store: str, count: int) -> tuple[float, float]:
    """(wall ms, CPU ms) per execution: `count` due no-op interval jobs run through a scheduler.

    Timed from resume until the last run's EXECUTED event; with DjangoJobStore
    that event is recorded (DjangoJobExecution) before our listener sees it.
    """
    from apscheduler.events import EVENT_JOB_EXECUTED

    scheduler = _scheduler(store)
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
            "benchmarks.engine:baseline_noop",
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
    from scheduling import runner
    from scheduling.models import ExecutionStatus, Task, TaskExecution

    task = Task.objects.create(
        name="bench-overhead",
        func="benchmarks.engine.noop_task",
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
    from scheduling import claims, runner
    from scheduling.models import ExecutionStatus, TaskExecution

    ids = make_tasks("bench-batch", count, "benchmarks.engine.noop_task")
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


# --- 2. dispatch latency ---------------------------------------------------------
def ours_dispatch(count: int, lead: float) -> tuple[list[float], int, float]:
    """Latencies (s) of `count` interval tasks all first due at one instant, via Engine."""
    from apscheduler.schedulers.base import STATE_RUNNING

    from scheduling.engine import Engine
    from scheduling.models import Task, TaskExecution

    reset_tables()
    due = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=lead + 1)
    ids = make_tasks(
        "bench-dispatch",
        count,
        "benchmarks.engine.record_start",
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
    scheduler = _scheduler(store)
    missed = [0]
    scheduler.add_listener(lambda event: missed.__setitem__(0, missed[0] + 1), EVENT_JOB_MISSED)
    scheduler.start(paused=True)
    due = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=lead + 1)
    for i in range(count):
        scheduler.add_job(
            "benchmarks.engine:baseline_job",
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


# --- 3. start-up, memory and sync ------------------------------------------------
class Child:
    """A subprocess whose output is read in the background (it must never block on a pipe)."""

    def __init__(self, args: list[str], env: dict[str, str], watch: tuple[str, ...]) -> None:
        self.started = time.perf_counter()
        self.seen: dict[str, float] = {}
        self.lines = 0
        self.tail: list[str] = []
        self.watch = watch
        self.proc = subprocess.Popen(
            args,
            cwd=BASE_DIR,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines += 1
            self.tail = (self.tail + [line.rstrip()])[-20:]
            for text in self.watch:
                if text in line and text not in self.seen:
                    self.seen[text] = time.perf_counter() - self.started
                    self.seen[text + ":line"] = line  # type: ignore[assignment]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def child_env(**extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONUNBUFFERED": "1", **extra}


def ours_startup(count: int) -> tuple[float, float, float, int]:
    """(seconds to leader, seconds until every task is scheduled, peak RSS MiB, log lines).

    A real `manage.py runscheduler`, logging at INFO as in production.
    """
    from scheduling.models import Task

    reset_tables()
    make_tasks("bench-startup", count, "benchmarks.engine.noop_task")
    # Steady state: tasks were last edited at various times, none a moment ago.
    now = datetime.now(UTC)
    Task.objects.update(updated_at=now - timedelta(days=2))
    last = Task.objects.order_by("-pk").values_list("pk", flat=True)[:10]
    Task.objects.filter(pk__in=list(last)).update(updated_at=now - timedelta(hours=1))
    child = Child(
        [sys.executable, "manage.py", "runscheduler", "--no-sync-defaults"],
        child_env(LOG_LEVEL="INFO"),
        ("is now the leader",),
    )
    scheduled = Task.objects.filter(next_run_at__isnull=False)
    try:
        ok = wait_for(lambda: scheduled.count() >= count, 300, 0.1)
        elapsed = time.perf_counter() - child.started
        rss = peak_rss_mb(child.proc.pid) if child.proc.poll() is None else float("nan")
        if not ok:
            progress(f"runscheduler: only {scheduled.count()} of {count} scheduled; output:")
            progress("\n".join(child.tail))
    finally:
        child.stop()
    return child.seen.get("is now the leader", float("nan")), elapsed, rss, child.lines


def baseline_startup(store: str, count: int) -> tuple[float, float]:
    """(seconds, peak RSS MiB) of a process that loads `count` jobs into a baseline store."""
    child = Child(
        [
            sys.executable,
            "-m",
            "benchmarks.engine",
            "--child-startup",
            store,
            "--startup-tasks",
            str(count),
        ],
        child_env(),
        ("READY",),
    )
    child.proc.wait(300)
    line = child.seen.get("READY:line")
    if not line:
        raise SystemExit(f"baseline start-up ({store}) failed:\n" + "\n".join(child.tail))
    return child.seen["READY"], float(str(line).split()[1])


def child_startup(store: str, count: int) -> None:
    """Child process: load `count` daily jobs into a started scheduler, then report."""
    from apscheduler.triggers.cron import CronTrigger

    scheduler = _scheduler(store)
    scheduler.start(paused=True)
    for i in range(count):
        scheduler.add_job(
            "benchmarks.engine:baseline_noop",
            CronTrigger(hour=3, minute=0, timezone="UTC"),
            id=f"startup-{i}",
            name=f"startup-{i}",
            replace_existing=True,
        )
    scheduler.resume()
    print(f"READY {peak_rss_mb():.1f}", flush=True)
    scheduler.shutdown(wait=False)
    if store == "django":
        from django_apscheduler.models import DjangoJob

        DjangoJob.objects.filter(id__startswith="startup-").delete()


def ours_sync(edits: int) -> tuple[float, float]:
    """(ms of a sync with nothing changed, median ms of a sync that applies 1 edit)."""
    from scheduling.engine import Engine
    from scheduling.models import Task

    engine = Engine()
    engine.scheduler.start(paused=True)
    engine.known = dict(Task.objects.filter(enabled=True).values_list("id", "updated_at"))
    engine.sync()  # warm up
    idle = []
    for _ in range(max(edits, 3)):
        started = time.perf_counter()
        engine.sync()
        idle.append((time.perf_counter() - started) * 1000)
    ids = list(Task.objects.order_by("pk").values_list("pk", flat=True)[:edits])
    edited = []
    for n, task_id in enumerate(ids):
        task = Task.objects.get(pk=task_id)
        task.description = f"edited {n}"
        task.save()
        started = time.perf_counter()
        changed = engine.sync()
        edited.append((time.perf_counter() - started) * 1000)
        if changed != 1:
            raise SystemExit(f"sync applied {changed} changes for 1 edit")
    engine.scheduler.shutdown(wait=False)
    return statistics.median(idle), statistics.median(edited)


def baseline_reschedule(edits: int) -> float:
    """Median ms to apply one edit straight to a DjangoJobStore holding the same jobs."""
    from scheduling import triggers
    from scheduling.engine import job_id
    from scheduling.models import Task

    scheduler = _scheduler("django")
    scheduler.start(paused=True)
    times = []
    for task in Task.objects.order_by("pk")[:edits]:
        started = time.perf_counter()
        scheduler.reschedule_job(job_id(task.pk), trigger=triggers.build_trigger(task))
        times.append((time.perf_counter() - started) * 1000)
    scheduler.shutdown(wait=False)
    return statistics.median(times)


def measure_startup(count: int, edits: int) -> list[Row]:
    progress(f"start-up: django-apscheduler process loading {count} jobs")
    dja_seconds, dja_rss = baseline_startup("django", count)
    progress(f"start-up: APScheduler memory-store process loading {count} jobs")
    memory_seconds, memory_rss = baseline_startup("memory", count)
    progress(f"start-up: runscheduler with {count} tasks")
    leader_seconds, ours_seconds, ours_rss, lines = ours_startup(count)
    progress(f"runscheduler: leader after {leader_seconds:.2f}s, {lines} output lines")
    progress(f"sync: 1 edited task among {count}")
    idle_ms, edit_ms = ours_sync(edits)
    reschedule_ms = baseline_reschedule(edits)
    return [
        Row(f"start-up {count} tasks s vs django-apscheduler", ours_seconds, dja_seconds, "s"),
        Row(f"start-up {count} tasks s vs APScheduler memory", ours_seconds, memory_seconds, "s"),
        Row(f"start-up {count} tasks: to leader s", leader_seconds, None, "s"),
        Row(f"peak RSS {count} tasks MiB vs django-apscheduler", ours_rss, dja_rss, "MiB"),
        Row(f"peak RSS {count} tasks MiB vs APScheduler memory", ours_rss, memory_rss, "MiB"),
        Row(f"sync 1 edit of {count} ms vs dja reschedule_job", edit_ms, reschedule_ms),
        Row(f"sync nothing changed of {count} ms", idle_ms, None),
    ]


# --- targets and main -------------------------------------------------------------
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
    # Run the imported module, not __main__: jobs reference `benchmarks.engine:...`
    # and must share its module state (BASELINE_STARTS).
    from benchmarks.engine import main as module_main

    sys.exit(module_main())
