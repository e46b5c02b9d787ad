"""Engine benchmark, part 3: `runscheduler` start-up time and memory, and the sync cycle.

Each start-up is a real subprocess (ours: `manage.py runscheduler`; the
baselines: `python -m benchmarks.engine --child-startup`), read in the
background so it never blocks on a pipe.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta

from benchmarks.common import BASE_DIR, Row, peak_rss_mb
from benchmarks.engine_setup import apscheduler_with, make_tasks, progress, reset_tables, wait_for


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
    make_tasks("bench-startup", count, "benchmarks.engine_setup.noop_task")
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

    scheduler = apscheduler_with(store)
    scheduler.start(paused=True)
    for i in range(count):
        scheduler.add_job(
            "benchmarks.engine_setup:baseline_noop",
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
    from scheduling.engine.loop import Engine
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
    from scheduling.engine.loop import job_id
    from scheduling.models import Task

    scheduler = apscheduler_with("django")
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
