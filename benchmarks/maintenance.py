"""Maintenance tasks at scale, each against its lower bound measured in the same run.

    python -m benchmarks.maintenance --rows 1000000
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/x python -m benchmarks.maintenance

Builds its own fresh database (a temporary SQLite file, or, when DATABASE_URL
points to PostgreSQL, a new database next to the named one), seeds it once as
a template, and clones the template before every measurement so a task and
its baseline start from the same rows. Each measurement runs in its own
subprocess, so the peak RSS printed is that task's alone (Django included).

Baselines: one plain SQL DELETE (and Django's `clearsessions`) for the batched
deletes; a plain single-threaded cursor -> json.dumps -> gzip stream for the
archive; the bare sqlite3 backup API (or bare pg_dump) for the backup; plain
SQL UPDATE / DELETE / GROUP BY for the others (and, for the daily stats, the
same GROUP BY written by one INSERT ... SELECT: the floor of writing them).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from benchmarks.maintenance_baselines import (
    bare_backup,
    plain_archive_stream,
    plain_group_by,
    plain_upsert,
)
from benchmarks.maintenance_dbs import Databases
from benchmarks.maintenance_seed import seed, ts

ROOT = Path(__file__).resolve().parent.parent


# --- Child side: runs inside a subprocess with DATABASE_URL set ------------------------


def _setup_django() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chirpsyncer.settings")
    import django

    django.setup()


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _timed(func) -> tuple[float, object]:
    started = time.perf_counter()
    value = func()
    return time.perf_counter() - started, value


def measure(case: str, workdir: Path) -> dict:
    """Run one measurement; returns seconds, rows and anything else worth printing."""
    from django.db import connection

    vendor = connection.vendor
    now = datetime.now(UTC)

    def plain(sql: str, *params) -> int:
        with connection.cursor() as cursor:
            cursor.execute("BEGIN")
            cursor.execute(sql, params)
            count = cursor.rowcount
            cursor.execute("COMMIT")
        return count

    if case == "sessions.plain_delete":
        seconds, rows = _timed(
            lambda: plain("DELETE FROM django_session WHERE expire_date < %s", ts(now, vendor))
        )
        return {"seconds": seconds, "rows": rows}
    if case == "sessions.clearsessions":
        from django.core.management import call_command

        seconds, _ = _timed(lambda: call_command("clearsessions"))
        return {"seconds": seconds, "rows": None}
    if case == "sessions.task":
        from maintenance.tasks import cleanup_expired_sessions

        seconds, result = _timed(cleanup_expired_sessions)
        return {
            "seconds": seconds,
            "rows": result["deleted"],
            "lock_ms": result["longest_batch_ms"],
        }
    if case == "errorlogs.plain_delete":
        cutoff = ts(now - timedelta(days=30), vendor)
        seconds, rows = _timed(
            lambda: plain("DELETE FROM chirpsyncer_errorlog WHERE created_at < %s", cutoff)
        )
        return {"seconds": seconds, "rows": rows}
    if case == "errorlogs.task":
        from maintenance.tasks import cleanup_error_logs

        seconds, result = _timed(cleanup_error_logs)
        return {
            "seconds": seconds,
            "rows": result["deleted"],
            "lock_ms": result["longest_batch_ms"],
        }
    if case == "archive.plain_stream":
        return plain_archive_stream(workdir, now - timedelta(days=90))
    if case == "archive.task":
        from django.conf import settings

        from maintenance.tasks import archive_audit_logs

        settings.ARCHIVE_DIR = workdir / "archive"
        seconds, result = _timed(archive_audit_logs)
        return {
            "seconds": seconds,
            "rows": result["archived"],
            "files": len(result["files"]),
            "phases": result["seconds"],
            "lock_ms": round(max(_ARCHIVE_LOCKS, default=0) * 1000),
        }
    if case == "backup.bare_api":
        return bare_backup(workdir)
    if case == "backup.task":
        from django.conf import settings

        from maintenance.tasks import backup_database

        settings.BACKUP_DIR = workdir / "backups"
        seconds, result = _timed(backup_database)
        return {
            "seconds": result["copy_seconds"],
            "total_seconds": seconds,
            "check_seconds": result["check_seconds"],
            "bytes": result["bytes"],
            "rows": None,
        }
    if case == "credentials.plain_update":
        cutoff = ts(now - timedelta(days=182), vendor)
        seconds, rows = _timed(
            lambda: plain(
                "UPDATE chirpsyncer_credential SET is_active = false WHERE is_active AND "
                "(last_used_at < %s OR (last_used_at IS NULL AND created_at < %s))",
                cutoff,
                cutoff,
            )
        )
        return {"seconds": seconds, "rows": rows}
    if case == "credentials.task":
        from maintenance.tasks import cleanup_inactive_credentials

        seconds, result = _timed(cleanup_inactive_credentials)
        return {"seconds": seconds, "rows": result["deactivated"], "lock_ms": _longest_batch_ms()}
    if case == "stats.plain_group_by":
        return plain_group_by()
    if case == "stats.plain_upsert":
        return plain_upsert()
    if case == "stats.task":
        from maintenance.tasks import aggregate_daily_stats

        seconds, result = _timed(aggregate_daily_stats)
        return {"seconds": seconds, "rows": result["upserted"], "lock_ms": _longest_batch_ms()}
    if case == "executions.plain_delete":
        cutoff = ts(now - timedelta(days=90), vendor)
        seconds, rows = _timed(
            lambda: plain("DELETE FROM scheduling_taskexecution WHERE created_at < %s", cutoff)
        )
        return {"seconds": seconds, "rows": rows}
    if case == "executions.task":
        from maintenance.tasks import prune_task_executions

        seconds, result = _timed(prune_task_executions)
        return {"seconds": seconds, "rows": result["deleted"]}
    raise SystemExit(f"unknown case {case}")


_ARCHIVE_LOCKS: list[float] = []


def _watch_archive_transactions() -> None:
    """Time each delete-and-record transaction of the archive (its write-lock hold)."""
    from maintenance import archive

    original = archive.delete_and_record

    def timed(*args, **kwargs):
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            _ARCHIVE_LOCKS.append(time.perf_counter() - started)

    archive.delete_and_record = timed


_BATCH_RUNS: list = []


def _watch_batch_runs() -> None:
    """Keep what each `maintenance.batch_loop` run reports (its longest transaction)."""
    from maintenance import batch_loop, credentials, stats

    original = batch_loop.run_batches

    def kept(*args, **kwargs):
        run = original(*args, **kwargs)
        _BATCH_RUNS.append(run)
        return run

    credentials.run_batches = stats.run_batches = kept


def _longest_batch_ms() -> int:
    return round(max((run.longest_batch_seconds for run in _BATCH_RUNS), default=0) * 1000)


def child(args: argparse.Namespace) -> None:
    _setup_django()
    if args.child == "seed":
        seed(args.rows, args.tables.split(","))
        print(json.dumps({"peak_rss_mb": _peak_rss_mb()}))
        return
    if args.child == "archive.task":
        _watch_archive_transactions()
    if args.child in ("credentials.task", "stats.task"):
        _watch_batch_runs()
    cpu = time.process_time()
    if args.child.split(".")[0] in WRITER_WATCHED:
        with _site_writer() as writer:
            result = measure(args.child, Path(args.workdir))
        result["writer"] = writer
    else:
        result = measure(args.child, Path(args.workdir))
    result["cpu_seconds"] = time.process_time() - cpu
    result["peak_rss_mb"] = round(_peak_rss_mb(), 1)
    print(json.dumps(result))


WRITER_WATCHED = {"sessions", "errorlogs", "executions"}


@contextlib.contextmanager
def _site_writer():
    """The site's small writes in another process meanwhile (benchmarks.concurrent_writer)."""
    writer = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.concurrent_writer", os.environ["DATABASE_URL"]],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    if writer.stdout.readline().strip() != "ready":
        raise SystemExit("the concurrent writer did not start")
    stats: dict = {}
    try:
        yield stats
    finally:
        out, _ = writer.communicate("", timeout=60)
        stats.update(json.loads(out.strip().splitlines()[-1]))


# --- Parent side: databases, cloning, the table -----------------------------------------

CASES = {
    "sessions": ("sessions", ["sessions.plain_delete", "sessions.clearsessions", "sessions.task"]),
    "errorlogs": ("errorlogs", ["errorlogs.plain_delete", "errorlogs.task"]),
    "archive": ("auditlogs", ["archive.plain_stream", "archive.task"]),
    "backup": (None, ["backup.bare_api", "backup.task"]),
    "credentials": ("credentials", ["credentials.plain_update", "credentials.task"]),
    "stats": ("syncrecords", ["stats.plain_group_by", "stats.plain_upsert", "stats.task"]),
    "executions": ("executions", ["executions.plain_delete", "executions.task"]),
}


def run_child(url: str, workdir: Path, case: str, rows: int, tables: str = "") -> dict:
    # DEBUG off as in production: with it on, Django keeps every query's SQL.
    env = dict(os.environ, DATABASE_URL=url, LOG_LEVEL="WARNING", DEBUG="false")
    env.setdefault("SECRET_KEY", "benchmark-only-secret-key")
    argv = [sys.executable, "-m", "benchmarks.maintenance", "--child", case]
    argv += ["--rows", str(rows), "--workdir", str(workdir), "--tables", tables]
    done = subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{case} failed:\n{done.stdout}\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _rate(result: dict) -> str:
    rows = result.get("rows")
    return f"{rows / result['seconds']:,.0f}" if rows else "-"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--only", default=",".join(CASES), help="comma-separated task groups")
    parser.add_argument("--workdir", default="")
    parser.add_argument("--child", default="")
    parser.add_argument("--tables", default="")
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="runs per measurement, each on a fresh clone; the table shows the median run",
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON too")
    args = parser.parse_args(argv)
    if args.child:
        child(args)
        return 0
    groups = [g for g in args.only.split(",") if g]
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="chirpsyncer-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    dbs = Databases(workdir, os.environ.get("DATABASE_URL"))
    try:
        return _run(args, groups, workdir, dbs)
    finally:
        dbs.drop_all()
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)


def _run(args, groups: list[str], workdir: Path, dbs: Databases) -> int:
    tables = sorted({CASES[g][0] for g in groups if CASES[g][0]})
    if "backup" in groups and not tables:
        tables = ["auditlogs"]
    template = dbs.create_template()
    env = dict(os.environ, DATABASE_URL=template)
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"], env=env, cwd=ROOT, check=True
    )
    run_child(template, workdir, "seed", args.rows, ",".join(tables))
    dbs.finish_template()
    engine = "postgresql" if dbs.pg else "sqlite"
    print(
        f"# {engine}, {args.rows:,} rows per table ({', '.join(tables)}), "
        f"seeded in {time.perf_counter() - started:.1f} s"
    )
    header = f"{'measurement':<28}{'rows':>10}{'seconds':>9}{'rows/s':>12}{'peak RSS MB':>13}"
    print(header + f"{'ratio':>8}  notes")
    results = {}
    for group in groups:
        baseline = None
        # Rounds of (bound, task, ...), so a slow spell of the disk hits both sides alike.
        rounds = [
            {case: run_child(dbs.clone(), workdir, case, args.rows) for case in CASES[group][1]}
            for _ in range(args.repeat)
        ]
        for case in CASES[group][1]:
            runs = [one_round[case] for one_round in rounds]
            result = sorted(runs, key=lambda run: run["seconds"])[(len(runs) - 1) // 2]  # median
            results[case] = result
            baseline = baseline or result
            ratio = result["seconds"] / baseline["seconds"] if baseline["seconds"] else 0
            notes = []
            if args.repeat > 1:
                spread = sorted(run["seconds"] for run in runs)
                notes.append(f"median of {args.repeat} ({spread[0]:.2f}-{spread[-1]:.2f} s)")
            if case == "stats.task" and results.get("stats.plain_upsert", {}).get("seconds"):
                floor = result["seconds"] / results["stats.plain_upsert"]["seconds"]
                notes.append(f"{floor:.2f}x the plain upsert")
            if "cpu_seconds" in result:  # on a busy machine, steadier than the wall clock
                notes.append(f"process CPU {result['cpu_seconds']:.2f} s")
            if "lock_ms" in result:
                notes.append(f"longest write transaction {result['lock_ms']} ms")
            if "writer" in result:
                w = result["writer"]
                notes.append(
                    f"site writes meanwhile: {w['writes']}, slowest {w['max_ms']:.0f} ms, "
                    f"p99 {w['p99_ms']:.0f} ms, {w['failed']} failed"
                )
            if "check_seconds" in result:
                notes.append(
                    f"copy only; integrity check {result['check_seconds']:.2f} s, "
                    f"task total {result['total_seconds']:.2f} s"
                )
            if "files" in result:
                phases = result["phases"]
                notes.append(
                    f"{result['files']} files; write {phases['write']:.2f} s "
                    f"(ratio {phases['write'] / baseline['seconds']:.2f}), "
                    f"verify {phases['verify']:.2f} s, delete {phases['delete']:.2f} s"
                )
            rows = f"{result['rows']:,}" if result.get("rows") is not None else "-"
            print(
                f"{case:<28}{rows:>10}{result['seconds']:>9.2f}{_rate(result):>12}"
                f"{result['peak_rss_mb']:>13.1f}{ratio:>8.2f}  {'; '.join(notes)}",
                flush=True,
            )
    if args.json:
        print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
