"""The maintenance benchmark's lower bounds: the plain way to do each task's work.

A single-threaded cursor -> json.dumps -> gzip stream for the archive, the
bare sqlite3 backup API (or bare pg_dump) for the backup, a plain GROUP BY
for the daily stats (and the same rows written by one INSERT ... SELECT).
The plain DELETE / UPDATE bounds are one statement each and live beside
their cases in `benchmarks.maintenance`.
"""

from __future__ import annotations

import json
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path


def plain_archive_stream(workdir: Path, cutoff: datetime) -> dict:
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


def bare_backup(workdir: Path) -> dict:
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


def _utc_day(vendor: str) -> str:
    return "date(started_at)" if vendor == "sqlite" else "(started_at AT TIME ZONE 'UTC')::date"


def plain_group_by() -> dict:
    from django.db import connection

    day = _utc_day(connection.vendor)
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


def plain_upsert() -> dict:
    """The write floor: every day's rows written by one INSERT ... SELECT, one transaction.

    The plain GROUP BY only reads; the task also writes its result (an index
    entry and, on PostgreSQL, a foreign key check at commit for every row).
    """
    from django.db import connection

    day = _utc_day(connection.vendor)
    ok = "sum(CASE WHEN success THEN 1 ELSE 0 END)"
    columns = "total_syncs, successful_syncs, failed_syncs, posts_synced, updated_at"
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns.split(", "))
    sql = (
        f"INSERT INTO chirpsyncer_dailysyncstat (user_id, date, {columns}) "
        f"SELECT user_id, {day}, count(*), {ok}, count(*) - {ok}, sum(posts_synced), %s "
        f"FROM chirpsyncer_syncrecord WHERE 1 = 1 GROUP BY user_id, {day} "
        f"ON CONFLICT (user_id, date) DO UPDATE SET {updates}"
    )
    now = connection.ops.adapt_datetimefield_value(datetime.now(UTC))
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("BEGIN")
        cursor.execute(sql, [now])
        rows = cursor.rowcount
        cursor.execute("COMMIT")
    return {"seconds": time.perf_counter() - started, "rows": rows}
