"""The workers benchmark's measurements: one sender each, one way of counting.

Every measurement sends `n` sleeping runs to the same running workers and then
reads what actually executed from Redis (`benchmarks.workers_tasks`): the first
start of each run against the instant it was due, the last end, and how many
runs never started (lost) or started more than once (doubled).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.common import percentile
from benchmarks.engine_setup import progress
from benchmarks.workers_procs import (
    poll,
    start_beats,
    start_schedulers,
    stop_all,
    wait_beats_started,
    wait_leader,
)


@dataclass
class Outcome:
    """What executed for one measurement (times in seconds from the due instant)."""

    label: str
    runs: int
    latencies: list[float] = field(default_factory=list)  # first start of each run
    makespan: float = float("nan")  # due instant to the last run's end
    lost: int = 0
    doubled: int = 0
    off_worker: int = 0  # runs that started outside a Celery worker (must be 0)
    recorded: int | None = None  # ours: executions the database recorded as succeeded

    def p(self, fraction: float) -> float:
        return percentile(self.latencies, fraction)

    @property
    def throughput(self) -> float:
        """Runs finished per second of makespan."""
        return self.runs / self.makespan if self.makespan > 0 else float("nan")


@dataclass
class Bench:
    """What every measurement shares: the broker, the workers' queue, the run sizes."""

    app: Any  # the Celery app, for sending the floor's messages
    redis: Any
    queue: str
    env: dict[str, str]
    log_dir: Path
    sleep: float
    lead: float  # seconds between starting a sender process and the due instant
    settle: float  # seconds nothing may change before a measurement is over

    def collect(
        self,
        label: str,
        dues: dict[str, float],
        timeout: float,
        also_done: Callable[[], bool] | None = None,
    ) -> Outcome:
        """Wait until every run ended and nothing moved for a while; count what ran."""
        starts_key, ends_key = f"bench:{label}:starts", f"bench:{label}:ends"
        last_change = [time.monotonic(), -1]

        def settled() -> bool:
            started = self.redis.llen(starts_key)
            if started != last_change[1]:
                last_change[:] = [time.monotonic(), started]
            if self.redis.llen(ends_key) < len(dues) or started != self.redis.llen(ends_key):
                return False
            if self.redis.llen(self.queue) or self.redis.hlen("unacked"):
                return False
            if also_done is not None and not also_done():
                return False
            return time.monotonic() - last_change[0] >= self.settle

        if not poll(settled, timeout, 0.25):
            progress(f"WARNING: {label} not settled after {timeout:.0f} s; counting what ran")
        return self._outcome(label, dues)

    def _outcome(self, label: str, dues: dict[str, float]) -> Outcome:
        """Each run's first start against its own due instant; the rest is counting."""
        starts = [s.decode().split() for s in self.redis.lrange(f"bench:{label}:starts", 0, -1)]
        ends = [
            float(e.decode().split()[1]) for e in self.redis.lrange(f"bench:{label}:ends", 0, -1)
        ]
        first: dict[str, float] = {}
        for key, started, _pid, _where in starts:
            first[key] = min(float(started), first.get(key, float("inf")))
        ran = set(first) & set(dues)
        return Outcome(
            label=label,
            runs=len(dues),
            latencies=[first[key] - dues[key] for key in ran],
            makespan=max(ends) - min(dues.values()) if ends else float("nan"),
            lost=len(dues) - len(ran),
            doubled=len(starts) - len(first),
            off_worker=sum(1 for *_, where in starts if where != "worker"),
        )

    def timeout_for(self, runs: int, slots: int, waves: int = 1) -> float:
        """Generous: three times the ideal makespan, plus start-up."""
        return self.lead + 3 * self.sleep * max(1, runs / slots) + waves * self.gap() + 60

    def gap(self) -> float:
        """Seconds between waves: the previous wave has ended before the next is due."""
        return self.sleep + 1.0

    def plan(self, label: str, runs: int, waves: int, base: float) -> dict[str, float]:
        """Each run's key and due instant: `runs` split into `waves` a gap apart."""
        per_wave = -(-runs // waves)
        return {f"{label}-{i:05d}": base + (i // per_wave) * self.gap() for i in range(runs)}


def by_due(dues: dict[str, float]) -> dict[float, list[str]]:
    """The keys of each wave, in due order."""
    waves: dict[float, list[str]] = {}
    for key, due in sorted(dues.items(), key=lambda item: item[1]):
        waves.setdefault(due, []).append(key)
    return waves


# --- (a) the floor: a bare apply_async loop --------------------------------------
def measure_floor(bench: Bench, label: str, runs: int, slots: int, waves: int = 1) -> Outcome:
    """`runs` messages sent as fast as one loop can; a run is due when its loop starts."""
    from benchmarks.workers_tasks import floor_sleep

    dues = bench.plan(label, runs, waves, time.time())
    for due, keys in by_due(dues).items():
        poll(lambda due=due: time.time() >= due, bench.gap() + 1, 0.005)
        for key in keys:
            floor_sleep.apply_async(args=[label, key, bench.sleep], queue=bench.queue)
    return bench.collect(label, dues, bench.timeout_for(runs, slots, waves))


# --- ours: queued tasks, dispatched by runscheduler ------------------------------
def measure_ours(
    bench: Bench, label: str, runs: int, slots: int, schedulers: int, waves: int = 1
) -> Outcome:
    """`runs` queued interval tasks due at one instant (or `waves`); `schedulers` processes."""
    from benchmarks.engine_setup import reset_tables
    from scheduling.models import ExecutionStatus, TaskExecution

    reset_tables()
    first = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=bench.lead + runs * 0.01)
    dues = bench.plan(label, runs, waves, first.timestamp())
    _create_queued_tasks(bench, label, dues)
    procs = start_schedulers(schedulers, bench.env, bench.log_dir, f"{label}-")
    try:
        wait_leader(procs)
        if datetime.now(UTC) > first:
            progress(f"WARNING: {label}: a scheduler led only after the due instant")
        succeeded = TaskExecution.objects.filter(
            task__name__startswith=f"{label}-", status=ExecutionStatus.SUCCESS
        )
        outcome = bench.collect(
            label,
            dues,
            bench.timeout_for(runs, slots, waves),
            also_done=lambda: succeeded.count() >= runs,
        )
        outcome.recorded = succeeded.count()
    finally:
        stop_all(procs)
    return outcome


def _create_queued_tasks(bench: Bench, label: str, dues: dict[str, float]) -> None:
    from scheduling.models import Task

    Task.objects.bulk_create(
        (
            Task(
                name=key,
                func="bench_sleep",
                trigger_type="interval",
                interval_seconds=3600,
                cron_expression="",
                timezone="UTC",
                queue=bench.queue,
                kwargs={"label": label, "key": key, "seconds": bench.sleep},
            )
            for key in dues
        ),
        batch_size=500,
    )
    # Interval triggers are anchored at created_at: the first fire is exactly the due instant.
    for due, keys in by_due(dues).items():
        when = datetime.fromtimestamp(due, UTC)
        Task.objects.filter(name__in=keys).update(created_at=when, next_run_at=when)


# --- (b) celery beat with django-celery-beat's DatabaseScheduler -----------------
def measure_beat(
    bench: Bench, label: str, runs: int, slots: int, beats: int, waves: int = 1
) -> Outcome:
    """The same runs as hourly periodic tasks first due at one instant (or `waves`); `beats`."""
    from django_celery_beat.models import IntervalSchedule, PeriodicTask, PeriodicTasks

    PeriodicTask.objects.all().delete()
    hourly, _ = IntervalSchedule.objects.get_or_create(every=1, period=IntervalSchedule.HOURS)
    first = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=bench.lead + runs * 0.005)
    dues = bench.plan(label, runs, waves, first.timestamp())
    PeriodicTask.objects.bulk_create(
        PeriodicTask(
            name=key,
            task="benchmarks.floor_sleep",
            interval=hourly,
            start_time=datetime.fromtimestamp(due, UTC),
            args=json.dumps([label, key, bench.sleep]),
            queue=bench.queue,
        )
        for key, due in dues.items()
    )
    PeriodicTasks.update_changed()
    procs = start_beats(beats, bench.env, bench.log_dir, f"{label}-")
    try:
        wait_beats_started(procs)
        if datetime.now(UTC) > first:
            progress(f"WARNING: {label}: celery beat started only after the due instant")
        outcome = bench.collect(label, dues, bench.timeout_for(runs, slots, waves))
    finally:
        stop_all(procs)
        PeriodicTask.objects.all().delete()
    return outcome
