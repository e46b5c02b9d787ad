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
SQL UPDATE / DELETE / GROUP BY for the others.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
USERS = 1000
TASKS = 10
CHUNK = 20000

# --- Child side: runs inside a subprocess with DATABASE_URL set ------------------------


def _setup_django() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chirpsyncer.settings")
    import django

    django.setup()


def _ts(moment: datetime, vendor: str):
    # Django stores naive UTC text in SQLite; PostgreSQL takes the aware value.
    return moment.replace(tzinfo=None) if vendor == "sqlite" else moment


def _insert(sql: str, rows) -> None:
    from django.db import connection, transaction

    batch = []
    for row in rows:
        batch.append(row)
        if len(batch) == CHUNK:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.executemany(sql, batch)
            batch = []
    if batch:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.executemany(sql, batch)


def seed(rows: int, tables: list[str]) -> None:
    """Fill the template database: `rows` rows per table, the old/expired share as the issue."""
    from django.db import connection

    vendor = connection.vendor
    if vendor == "sqlite":  # seeding is setup, not measured: skip the fsyncs
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA synchronous=OFF")
    now = datetime.now(UTC)
    rng = random.Random(42)
    json_param = "%s::jsonb" if vendor == "postgresql" else "%s"
    _insert(
        "INSERT INTO auth_user (password, is_superuser, username, first_name, last_name, email, "
        "is_staff, is_active, date_joined) VALUES ('!', %s, %s, '', '', '', %s, %s, %s)",
        ((False, f"user{i}", False, True, _ts(now, vendor)) for i in range(USERS)),
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT min(id) FROM auth_user")
        first_user = cursor.fetchone()[0]

    def user() -> int:
        return first_user + rng.randrange(USERS)

    if "sessions" in tables:  # 90% expired, as the reference (900k of 10^6)
        _insert(
            "INSERT INTO django_session (session_key, session_data, expire_date) VALUES (%s,%s,%s)",
            (
                (
                    f"{i:032x}",
                    "e30:1tQ5dB:" + "x" * 80,
                    _ts(now + timedelta(minutes=(-1 if i % 10 else 1) * (1 + i % 5000)), vendor),
                )
                for i in range(rows)
            ),
        )
    if "errorlogs" in tables:  # 90% older than 30 days
        _insert(
            "INSERT INTO chirpsyncer_errorlog (level, source, message, traceback, created_at) "
            "VALUES (%s,%s,%s,%s,%s)",
            (
                (
                    "ERROR",
                    "sync.mastodon",
                    f"upstream returned 502 ({i})",
                    "Traceback (most recent call last): ...",
                    # Appended in time order: the oldest 90% (31+ days) come first.
                    _ts(
                        now - timedelta(days=300) + timedelta(seconds=i * 300 * 86400 // rows),
                        vendor,
                    ),
                )
                for i in range(rows)
            ),
        )
    if "auditlogs" in tables:  # half older than 90 days (500k of 10^6)
        _insert(
            "INSERT INTO chirpsyncer_auditlog (user_id, action, resource_type, resource_id, "
            "ip_address, user_agent, success, details, created_at) "
            f"VALUES (%s,%s,%s,%s,%s,%s,%s,{json_param},%s)",
            (
                (
                    user(),
                    "login",
                    "account",
                    str(i),
                    f"10.0.{i % 256}.{i % 199}",
                    "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0",
                    bool(i % 7),
                    json.dumps({"session": i, "method": "password"}),
                    # Appended in time order over 180 days: the older half is past 90 days.
                    _ts(
                        now - timedelta(days=180) + timedelta(seconds=i * 180 * 86400 // rows),
                        vendor,
                    ),
                )
                for i in range(rows)
            ),
        )
    if "credentials" in tables:  # half unused for more than 6 months
        _insert(
            "INSERT INTO chirpsyncer_credential (user_id, platform, label, secret, is_active, "
            "last_used_at, created_at) VALUES (%s,%s,%s,%s,%s,%s,%s)",
            (
                (
                    user(),
                    "mastodon",
                    f"account {i}",
                    "token",
                    True,
                    None
                    if i % 10 == 0
                    else _ts(now - timedelta(days=(i % 2) * 200 + i % 150), vendor),
                    _ts(now - timedelta(days=400), vendor),
                )
                for i in range(rows)
            ),
        )
    if "syncrecords" in tables:  # a year of syncs by 1000 users
        _insert(
            "INSERT INTO chirpsyncer_syncrecord (user_id, platform, started_at, success, "
            "posts_synced, duration_ms, error, updated_at) VALUES (%s,%s,%s,%s,%s,%s,%s,%s)",
            (
                (
                    user(),
                    "bluesky",
                    _ts(now - timedelta(seconds=rng.randrange(365 * 86400)), vendor),
                    bool(i % 9),
                    i % 20,
                    1200,
                    "",
                    _ts(now, vendor),
                )
                for i in range(rows)
            ),
        )
    if "executions" in tables:  # 10 tasks, 90% older than 90 days
        _insert(
            "INSERT INTO scheduling_task (name, func, description, trigger_type, cron_expression, "
            "timezone, kwargs, enabled, misfire_grace_seconds, allow_overlap, max_retries, "
            "retry_backoff_seconds, retry_backoff_max_seconds, notify_on_failure, "
            "notify_on_success, notify_recipients, last_status, run_count, success_count, "
            "failure_count, consecutive_failures, created_at, updated_at) VALUES "
            f"(%s,'scheduling.tests.factories.noop','','cron','* * * * *','UTC',{json_param},"
            "true,300,false,0,30,3600,false,false,'','',0,0,0,0,%s,%s)",
            ((f"bench-{t}", "{}", _ts(now, vendor), _ts(now, vendor)) for t in range(TASKS)),
        )
        with connection.cursor() as cursor:
            cursor.execute("SELECT min(id) FROM scheduling_task")
            first_task = cursor.fetchone()[0]
        _insert(
            "INSERT INTO scheduling_taskexecution (task_id, trigger, scheduled_for, status, "
            "created_at, started_at, finished_at, duration_ms, result, error, host, pid, "
            f"attempt, is_overdue) VALUES (%s,'manual',NULL,'success',%s,%s,%s,5,{json_param},"
            "'','bench',1,1,false)",
            (
                (
                    first_task + i % TASKS,
                    created,
                    created,
                    created,
                    '{"ok": true}',
                )
                for i in range(rows)
                for created in [_ts(now - timedelta(days=400) + timedelta(seconds=i * 30), vendor)]
            ),
        )


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
            lambda: plain("DELETE FROM django_session WHERE expire_date < %s", _ts(now, vendor))
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
        cutoff = _ts(now - timedelta(days=30), vendor)
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
        return _plain_archive_stream(workdir, now - timedelta(days=90))
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
        return _bare_backup(workdir)
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
        cutoff = _ts(now - timedelta(days=182), vendor)
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
        return {"seconds": seconds, "rows": result["deactivated"]}
    if case == "stats.plain_group_by":
        return _plain_group_by()
    if case == "stats.task":
        from maintenance.tasks import aggregate_daily_stats

        seconds, result = _timed(aggregate_daily_stats)
        return {"seconds": seconds, "rows": result["upserted"]}
    if case == "executions.plain_delete":
        cutoff = _ts(now - timedelta(days=90), vendor)
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


def _plain_archive_stream(workdir: Path, cutoff: datetime) -> dict:
    """The baseline: one cursor, json.dumps per row, gzip.open in the same thread."""
    import gzip

    from django.db import connection

    columns = "id, user_id, action, resource_type, resource_id, ip_address, user_agent, success, "
    columns += "details, created_at"
    sql = f"SELECT {columns} FROM chirpsyncer_auditlog WHERE created_at < %s ORDER BY id"
    names = [c.strip() for c in columns.split(",")]
    started = time.perf_counter()
    count = 0
    raw = connection.connection if connection.vendor == "sqlite" else None
    connection.ensure_connection()
    with gzip.open(workdir / "plain.jsonl.gz", "wt", encoding="utf-8") as out:
        if connection.vendor == "sqlite":
            raw = __import__("sqlite3").connect(connection.settings_dict["NAME"])
            cursor = raw.execute(sql.replace("%s", "?"), (f"{cutoff:%Y-%m-%d %H:%M:%S}",))
        else:
            cursor = connection.connection.cursor(name="plain_stream", withhold=True)
            cursor.execute(sql, (cutoff,))
        while rows := cursor.fetchmany(2000):
            for row in rows:
                record = dict(zip(names, row, strict=True))
                record["created_at"] = str(record["created_at"])
                out.write(json.dumps(record, default=str) + "\n")
            count += len(rows)
        cursor.close()
    return {"seconds": time.perf_counter() - started, "rows": count}


def _bare_backup(workdir: Path) -> dict:
    from django.db import connection

    target = workdir / "bare-backup"
    if connection.vendor == "sqlite":
        import sqlite3

        started = time.perf_counter()
        src = sqlite3.connect(connection.settings_dict["NAME"])
        dst = sqlite3.connect(target)
        src.backup(dst)
        dst.close()
        src.close()
    else:
        from maintenance.backup import pg_connection_args

        args, env = pg_connection_args(connection.settings_dict)
        name = connection.settings_dict["NAME"]
        started = time.perf_counter()
        subprocess.run(
            ["pg_dump", "--format=custom", f"--file={target}", *args, name], env=env, check=True
        )
    seconds = time.perf_counter() - started
    size = target.stat().st_size
    target.unlink()
    return {"seconds": seconds, "bytes": size, "rows": None}


def _plain_group_by() -> dict:
    from django.db import connection

    day = (
        "date(started_at)"
        if connection.vendor == "sqlite"
        else "(started_at AT TIME ZONE 'UTC')::date"
    )
    sql = (
        f"SELECT user_id, {day} AS day, count(*), sum(CASE WHEN success THEN 1 ELSE 0 END), "
        f"sum(posts_synced) FROM chirpsyncer_syncrecord GROUP BY user_id, {day}"
    )
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(sql)
        rows = 0
        while batch := cursor.fetchmany(5000):
            rows += len(batch)
    return {"seconds": time.perf_counter() - started, "rows": rows}


def child(args: argparse.Namespace) -> None:
    _setup_django()
    if args.child == "seed":
        seed(args.rows, args.tables.split(","))
        print(json.dumps({"peak_rss_mb": _peak_rss_mb()}))
        return
    if args.child == "archive.task":
        _watch_archive_transactions()
    if args.child.split(".")[0] in WRITER_WATCHED:
        with _site_writer() as writer:
            result = measure(args.child, Path(args.workdir))
        result["writer"] = writer
    else:
        result = measure(args.child, Path(args.workdir))
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
    "stats": ("syncrecords", ["stats.plain_group_by", "stats.task"]),
    "executions": ("executions", ["executions.plain_delete", "executions.task"]),
}


class Databases:
    """A seeded template and throw-away clones of it, SQLite files or PostgreSQL databases."""

    def __init__(self, workdir: Path, url: str | None):
        self.workdir = workdir
        self.pg = url if url and url.startswith(("postgres://", "postgresql://")) else None
        self.suffix = f"{os.getpid()}"

    def url(self, which: str) -> str:
        if self.pg:
            parts = urlsplit(self.pg)
            return urlunsplit(parts._replace(path=f"/chirpsyncer_bench_{which}_{self.suffix}"))
        return f"sqlite:///{self.workdir / f'{which}.sqlite3'}"

    def _admin(self, sql: str) -> None:
        import psycopg

        parts = urlsplit(self.pg)
        admin = urlunsplit(parts._replace(path="/postgres", scheme="postgresql"))
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql)

    def _name(self, which: str) -> str:
        return f"chirpsyncer_bench_{which}_{self.suffix}"

    def create_template(self) -> str:
        if self.pg:
            self._admin(f"DROP DATABASE IF EXISTS {self._name('template')}")
            self._admin(f"CREATE DATABASE {self._name('template')}")
        return self.url("template")

    def finish_template(self) -> None:
        if self.pg:  # as autovacuum would leave a table in production: statistics, visibility
            import psycopg

            template = urlsplit(self.url("template"))._replace(scheme="postgresql")
            with psycopg.connect(urlunsplit(template), autocommit=True) as conn:
                conn.execute("VACUUM ANALYZE")
        else:
            import sqlite3

            conn = sqlite3.connect(self.workdir / "template.sqlite3")
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            conn.execute("PRAGMA journal_mode=DELETE")
            conn.close()

    def clone(self) -> str:
        if self.pg:
            self._admin(f"DROP DATABASE IF EXISTS {self._name('run')}")
            self._admin(f"CREATE DATABASE {self._name('run')} TEMPLATE {self._name('template')}")
        else:
            for leftover in self.workdir.glob("run.sqlite3*"):
                leftover.unlink()
            shutil.copyfile(self.workdir / "template.sqlite3", self.workdir / "run.sqlite3")
        # Write the clone's dirty pages out now, or the kernel does it during the
        # measurement: single runs of the backup moved between 2 and 6 s without this.
        os.sync()
        return self.url("run")

    def drop_all(self) -> None:
        if self.pg:
            for which in ("run", "template"):
                self._admin(f"DROP DATABASE IF EXISTS {self._name(which)}")


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
