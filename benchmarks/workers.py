"""Runs on Celery workers: our engine against a bare send loop and celery beat, in one run.

    python -m benchmarks.workers [--tasks 1000] [--sleep 1] [--workers 1,2,4]
                                 [--concurrency 8] [--database-url URL] [--redis-url URL]

For each worker count, real `celery -A chirpsyncer worker -P prefork -c 8 -Q bench`
processes are started and every measurement below sends its runs to those same
workers (each run sleeps `--sleep` s and records its start and end in Redis):

- ours: `--tasks` queued tasks (`Task.queue`) due at the same instant, sent by the
  leading `manage.py runscheduler`; at the comparison worker count (the largest
  by default) also with two `runscheduler` processes;
- (a) the floor: the same number of messages sent by a bare `apply_async` loop
  of a trivial Celery task with the same body;
- (b) celery beat with django-celery-beat's DatabaseScheduler firing as many
  periodic tasks due at one instant, with one beat, and at the comparison count
  with two beats (each beat sends every task: the runs double).

Reported per measurement: fire-to-start p50/p99 (first start minus the due
instant), makespan (due instant to the last end), runs lost (never started) and
doubled (started more than once). With 1,000 one-second runs on 8-32 slots most
runs wait for a free slot, so saturated fire-to-start is the queue, not the
dispatch. The probe (at the comparison count: 4 waves of one worker's
concurrency, a run's length apart, so no run waits for a free slot) measures
dispatch latency, and is what the "p99 under 1 s" target is checked on.

Uses a throwaway database (temp SQLite file, or a scratch database on the server
of a postgres:// `--database-url`/DATABASE_URL) and one Redis database as both
broker and record: by default a private `redis-server` started for the run (the
machine's shared Redis has test runs flushing database numbers on it); with
`--redis-url`, that database, flushed before and after.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from benchmarks.common import Row, format_table, setup_django, throwaway_database
from benchmarks.engine_setup import progress
from benchmarks.workers_measure import Bench, Outcome, measure_beat, measure_floor, measure_ours
from benchmarks.workers_procs import (
    child_env,
    private_redis,
    start_workers,
    stop_all,
    wait_workers_ready,
)

PROBE_WAVES = 4  # the probe's waves, each of one worker's concurrency, a run's length apart


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=1000, help="runs due at the same instant")
    parser.add_argument("--sleep", type=float, default=1.0, help="seconds each run sleeps")
    parser.add_argument("--workers", default="1,2,4", help="worker process counts to measure")
    parser.add_argument("--concurrency", type=int, default=8, help="prefork children per worker")
    parser.add_argument(
        "--compare-at",
        type=int,
        default=0,
        help="worker count for two schedulers / two beats / the probe (default: the largest)",
    )
    parser.add_argument("--no-probe", action="store_true", help="skip the unsaturated probe")
    parser.add_argument("--queue", default="bench", help="the Celery queue the workers consume")
    parser.add_argument(
        "--lead-seconds", type=float, default=5.0, help="start-up allowance before the due instant"
    )
    parser.add_argument(
        "--settle-seconds",
        type=float,
        default=0.0,
        help="quiet time that ends a measurement, so a late copy shows (default: 2 x sleep, >= 2)",
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL", ""),
        help="a postgres:// server URL gets a scratch database",
    )
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("BENCH_REDIS_URL", ""),
        help="a Redis database it may flush (default: a private redis-server for the run)",
    )
    args = parser.parse_args(argv)
    args.worker_counts = [int(n) for n in args.workers.split(",") if n]
    args.compare_at = args.compare_at or max(args.worker_counts)
    return args


def measure_with(bench: Bench, args: argparse.Namespace, workers: int) -> dict[str, Outcome]:
    """Every measurement that runs on `workers` worker processes, keyed by kind."""
    slots = workers * args.concurrency
    runs = args.tasks
    results = {}
    progress(f"{workers} worker(s): floor, {runs} apply_async")
    results["floor"] = measure_floor(bench, f"floor-{workers}w", runs, slots)
    progress(f"{workers} worker(s): ours, 1 runscheduler")
    results["ours"] = measure_ours(bench, f"ours-{workers}w", runs, slots, schedulers=1)
    progress(f"{workers} worker(s): celery beat, 1 beat")
    results["beat"] = measure_beat(bench, f"beat-{workers}w", runs, slots, beats=1)
    if workers != args.compare_at:
        return results
    progress(f"{workers} worker(s): ours, 2 runscheduler")
    results["ours2"] = measure_ours(bench, f"ours2-{workers}w", runs, slots, schedulers=2)
    progress(f"{workers} worker(s): celery beat, 2 beats")
    results["beat2"] = measure_beat(bench, f"beat2-{workers}w", runs, slots, beats=2)
    if not args.no_probe:
        # Waves of one worker's concurrency: however the broker spreads a wave over the
        # workers, no run waits for a free slot, so what is left is dispatch latency.
        runs, waves = PROBE_WAVES * args.concurrency, PROBE_WAVES
        progress(f"{workers} worker(s): probe, {waves} waves of {args.concurrency}, each sender")
        results["probe-floor"] = measure_floor(bench, f"probe-floor-{workers}w", runs, slots, waves)
        results["probe-ours"] = measure_ours(bench, f"probe-ours-{workers}w", runs, slots, 1, waves)
        results["probe-beat"] = measure_beat(bench, f"probe-beat-{workers}w", runs, slots, 1, waves)
    return results


def run(bench: Bench, args: argparse.Namespace) -> dict[int, dict[str, Outcome]]:
    """Start each worker count's workers, measure everything on them, stop them."""
    from benchmarks.workers_tasks import bench_sleep  # noqa: F401 (registered here too)

    measured = {}
    for workers in args.worker_counts:
        procs = start_workers(workers, args.concurrency, args.queue, bench.env, bench.log_dir)
        try:
            wait_workers_ready(bench.app, procs)
            measured[workers] = measure_with(bench, args, workers)
        finally:
            stop_all(procs)
    return measured


# --- report --------------------------------------------------------------------------
def outcome_table(measured: dict[int, dict[str, Outcome]]) -> str:
    """Every measurement, one line each: what a reader checks the ratios against."""
    head = f"{'measurement':<18} | {'runs':>5} | {'lost':>4} | {'doubled':>7} | "
    head += f"{'p50 s':>7} | {'p99 s':>7} | {'makespan s':>10} | {'runs/s':>6} | off worker"
    lines = [head, "-" * len(head)]
    for outcomes in measured.values():
        for o in outcomes.values():
            lines.append(
                f"{o.label:<18} | {o.runs:>5} | {o.lost:>4} | {o.doubled:>7} | "
                f"{o.p(0.5):>7.3f} | {o.p(0.99):>7.3f} | {o.makespan:>10.2f} | "
                f"{o.throughput:>6.1f} | {o.off_worker}"
            )
    return "\n".join(lines)


def comparison_rows(measured: dict[int, dict[str, Outcome]], compare_at: int) -> list[Row]:
    """Ours against the floor and celery beat, as `ours | baseline | ratio` rows."""
    rows: list[Row] = []
    for workers, m in measured.items():
        ours, floor, beat = m["ours"], m["floor"], m["beat"]
        rows += [
            Row(f"{workers}w makespan vs floor", ours.makespan, floor.makespan, "s"),
            Row(f"{workers}w makespan vs 1 beat", ours.makespan, beat.makespan, "s"),
            Row(f"{workers}w fire-to-start p50 vs floor", ours.p(0.5), floor.p(0.5), "s"),
            Row(f"{workers}w fire-to-start p99 vs floor", ours.p(0.99), floor.p(0.99), "s"),
            Row(f"{workers}w fire-to-start p99 vs 1 beat", ours.p(0.99), beat.p(0.99), "s"),
            Row(f"{workers}w lost vs floor", ours.lost, floor.lost, "count"),
            Row(f"{workers}w doubled vs floor", ours.doubled, floor.doubled, "count"),
        ]
    m = measured.get(compare_at, {})
    if "ours2" in m:
        ours2, beat2 = m["ours2"], m["beat2"]
        rows += [
            Row(f"{compare_at}w 2 schedulers vs 2 beats: lost", ours2.lost, beat2.lost, "count"),
            Row(
                f"{compare_at}w 2 schedulers vs 2 beats: doubled",
                ours2.doubled,
                beat2.doubled,
                "count",
            ),
            Row(
                f"{compare_at}w 2 schedulers vs 2 beats: makespan",
                ours2.makespan,
                beat2.makespan,
                "s",
            ),
        ]
    if "probe-ours" in m:
        probe, floor, beat = m["probe-ours"], m["probe-floor"], m["probe-beat"]
        label = f"probe {PROBE_WAVES}x{probe.runs // PROBE_WAVES} runs"
        rows += [
            Row(f"{label}: p50 vs floor", probe.p(0.5), floor.p(0.5), "s"),
            Row(f"{label}: p99 vs floor", probe.p(0.99), floor.p(0.99), "s"),
            Row(f"{label}: p99 vs 1 beat", probe.p(0.99), beat.p(0.99), "s"),
        ]
    for more in (2, 4):
        if 1 in measured and more in measured:
            rows.append(
                Row(
                    f"throughput 1->{more} workers (x) vs floor's",
                    measured[1]["ours"].makespan / measured[more]["ours"].makespan,
                    measured[1]["floor"].makespan / measured[more]["floor"].makespan,
                    "x",
                )
            )
    return rows


def check_targets(measured: dict[int, dict[str, Outcome]], compare_at: int) -> list[str]:
    """One line per issue target: met or MISSED, with the figure."""
    lines = []

    def line(ok: bool, text: str) -> None:
        lines.append(f"{'met   ' if ok else 'MISSED'} {text}")

    off = sum(o.off_worker for m in measured.values() for o in m.values())
    line(off == 0, f"every run started on a Celery worker: {off} did not")

    for workers, m in measured.items():
        ratio = m["ours"].makespan / m["floor"].makespan
        line(ratio <= 1.2, f"{workers}w makespan within 1.2x the floor: {ratio:.2f}x")
    m = measured.get(compare_at, {})
    if "probe-ours" in m:
        p99 = m["probe-ours"].p(0.99)
        line(p99 < 1.0, f"fire-to-start p99 under 1 s (probe, {compare_at}w): {p99:.3f} s")
    if "ours2" in m:
        o = m["ours2"]
        line(o.lost == 0 and o.doubled == 0, f"two schedulers: {o.lost} lost, {o.doubled} doubled")
        b = m["beat2"]
        lines.append(f"       (two beats, for comparison: {b.lost} lost, {b.doubled} doubled)")
    if 1 in measured and 2 in measured:
        gain = measured[1]["ours"].makespan / measured[2]["ours"].makespan
        line(gain >= 1.8, f"throughput 1 -> 2 workers at least 1.8x: {gain:.2f}x")
    return lines


def report(measured: dict[int, dict[str, Outcome]], args: argparse.Namespace, vendor: str) -> str:
    title = (
        f"\nWorkers benchmark on {vendor}: {args.tasks} runs of {args.sleep:g} s, "
        f"prefork -c {args.concurrency} (ratio = ours / baseline)"
    )
    parts = [
        title,
        outcome_table(measured),
        "",
        format_table("", comparison_rows(measured, args.compare_at)),
    ]
    parts += ["", "Targets:", *(f"  {t}" for t in check_targets(measured, args.compare_at))]
    return "\n".join(parts)


@contextmanager
def redis_for_run(redis_url: str, log_dir: Path) -> Iterator[str]:
    """The Redis URL the run uses: the one given (flushed), else a private server."""
    if redis_url:
        yield redis_url
    elif shutil.which("redis-server"):
        with private_redis(log_dir) as url:
            yield url
    else:
        raise SystemExit("no redis-server on PATH: pass --redis-url of a database it may flush")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import redis

    with (
        tempfile.TemporaryDirectory(prefix="workersbench-") as logs,
        redis_for_run(args.redis_url, Path(logs)) as redis_url,
        throwaway_database(args.database_url, "workersbench") as url,
    ):
        store = redis.Redis.from_url(redis_url)
        store.ping()  # fail here, before any process is started, if Redis is away
        store.flushdb()
        os.environ.update(child_env(redis_url, redis_url))
        setup_django(url, "WARNING")
        from django.db import connection

        from chirpsyncer.celery import app

        bench = Bench(
            app=app,
            redis=store,
            queue=args.queue,
            env={**os.environ, "LOG_LEVEL": "INFO"},
            log_dir=Path(logs),
            sleep=args.sleep,
            lead=args.lead_seconds,
            settle=args.settle_seconds or max(2.0, 2 * args.sleep),
        )
        try:
            measured = run(bench, args)
        finally:
            store.flushdb()
        print(report(measured, args, connection.vendor))
        connection.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
