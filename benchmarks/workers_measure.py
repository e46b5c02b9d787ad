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
        keys: list[str],
        due: float,
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
            if self.redis.llen(ends_key) < len(keys) or started != self.redis.llen(ends_key):
                return False
            if self.redis.llen(self.queue) or self.redis.hlen("unacked"):
                return False
            if also_done is not None and not also_done():
                return False
            return time.monotonic() - last_change[0] >= self.settle

        if not poll(settled, timeout, 0.25):
            progress(f"WARNING: {label} not settled after {timeout:.0f} s; counting what ran")
        return self._outcome(label, keys, due)

    def _outcome(self, label: str, keys: list[str], due: float) -> Outcome:
        starts = [s.decode().split() for s in self.redis.lrange(f"bench:{label}:starts", 0, -1)]
        ends = [
            float(e.decode().split()[1]) for e in self.redis.lrange(f"bench:{label}:ends", 0, -1)
        ]
        first: dict[str, float] = {}
        for key, started, _pid, _where in starts:
            first[key] = min(float(started), first.get(key, float("inf")))
        ran = set(first) & set(keys)
        return Outcome(
            label=label,
            runs=len(keys),
            latencies=[first[key] - due for key in ran],
            makespan=max(ends) - due if ends else float("nan"),
            lost=len(keys) - len(ran),
            doubled=len(starts) - len(first),
            off_worker=sum(1 for *_, where in starts if where != "worker"),
        )

    def timeout_for(self, runs: int, slots: int) -> float:
        """Generous: three times the ideal makespan, plus start-up."""
        return self.lead + 3 * self.sleep * max(1, runs / slots) + 60


def keys_for(label: str, runs: int) -> list[str]:
    return [f"{label}-{i:05d}" for i in range(runs)]


# --- (a) the floor: a bare apply_async loop --------------------------------------
def measure_floor(bench: Bench, label: str, runs: int, slots: int) -> Outcome:
    """`runs` messages sent as fast as one loop can; due = when the loop starts."""
    from benchmarks.workers_tasks import floor_sleep

    keys = keys_for(label, runs)
    due = time.time()
    for key in keys:
        floor_sleep.apply_async(args=[label, key, bench.sleep], queue=bench.queue)
    return bench.collect(label, keys, due, bench.timeout_for(runs, slots))


# --- ours: queued tasks, dispatched by runscheduler ------------------------------
def measure_ours(bench: Bench, label: str, runs: int, slots: int, schedulers: int) -> Outcome:
    """`runs` queued interval tasks due at one instant; `schedulers` runscheduler processes."""
    from benchmarks.engine_setup import reset_tables
    from scheduling.models import ExecutionStatus, TaskExecution

    reset_tables()
    keys = keys_for(label, runs)
    due = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=bench.lead + runs * 0.01)
    _create_queued_tasks(bench, label, keys, due)
    procs = start_schedulers(schedulers, bench.env, bench.log_dir, f"{label}-")
    try:
        wait_leader(procs)
        if datetime.now(UTC) > due:
            progress(f"WARNING: {label}: a scheduler led only after the due instant")
        succeeded = TaskExecution.objects.filter(
            task__name__startswith=f"{label}-", status=ExecutionStatus.SUCCESS
        )
        outcome = bench.collect(
            label,
            keys,
            due.timestamp(),
            bench.timeout_for(runs, slots),
            also_done=lambda: succeeded.count() >= runs,
        )
        outcome.recorded = succeeded.count()
    finally:
        stop_all(procs)
    return outcome


def _create_queued_tasks(bench: Bench, label: str, keys: list[str], due: datetime) -> None:
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
            for key in keys
        ),
        batch_size=500,
    )
    # Interval triggers are anchored at created_at: the first fire is exactly `due`.
    Task.objects.filter(name__startswith=f"{label}-").update(created_at=due, next_run_at=due)


# --- (b) celery beat with django-celery-beat's DatabaseScheduler -----------------
def measure_beat(bench: Bench, label: str, runs: int, slots: int, beats: int) -> Outcome:
    """The same runs as hourly periodic tasks starting at one instant, `beats` beat processes."""
    from django_celery_beat.models import IntervalSchedule, PeriodicTask, PeriodicTasks

    PeriodicTask.objects.all().delete()
    hourly, _ = IntervalSchedule.objects.get_or_create(every=1, period=IntervalSchedule.HOURS)
    keys = keys_for(label, runs)
    due = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=bench.lead + runs * 0.005)
    PeriodicTask.objects.bulk_create(
        PeriodicTask(
            name=key,
            task="benchmarks.floor_sleep",
            interval=hourly,
            start_time=due,
            args=json.dumps([label, key, bench.sleep]),
            queue=bench.queue,
        )
        for key in keys
    )
    PeriodicTasks.update_changed()
    procs = start_beats(beats, bench.env, bench.log_dir, f"{label}-")
    try:
        wait_beats_started(procs)
        if datetime.now(UTC) > due:
            progress(f"WARNING: {label}: celery beat started only after the due instant")
        outcome = bench.collect(label, keys, due.timestamp(), bench.timeout_for(runs, slots))
    finally:
        stop_all(procs)
        PeriodicTask.objects.all().delete()
    return outcome
