"""Seeding for the maintenance benchmark: 10^6 rows per table, shaped as the issue describes.

Raw multi-row INSERTs in 20,000-row transactions (setup, not measured), with
timestamps spread so the expired or old share of each table is the issue's:
90% of sessions expired, 90% of error logs past 30 days, half the audit log
past 90 days, a year of sync records, 10 tasks' executions.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

USERS = 1000
TASKS = 10
CHUNK = 20000


def ts(moment: datetime, vendor: str) -> datetime:
    """`moment` as the database takes it: naive UTC text on SQLite, aware on PostgreSQL."""
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
        ((False, f"user{i}", False, True, ts(now, vendor)) for i in range(USERS)),
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
                    ts(now + timedelta(minutes=(-1 if i % 10 else 1) * (1 + i % 5000)), vendor),
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
                    ts(
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
                    ts(
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
                    else ts(now - timedelta(days=(i % 2) * 200 + i % 150), vendor),
                    ts(now - timedelta(days=400), vendor),
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
                    ts(now - timedelta(seconds=rng.randrange(365 * 86400)), vendor),
                    bool(i % 9),
                    i % 20,
                    1200,
                    "",
                    ts(now, vendor),
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
            "failure_count, consecutive_failures, created_at, updated_at, after_status, queue) "
            f"VALUES (%s,'scheduling.tests.tasks_for_tests.noop','','cron','* * * * *','UTC',"
            f"{json_param},true,300,false,0,30,3600,false,false,'','',0,0,0,0,%s,%s,'success','')",
            ((f"bench-{t}", "{}", ts(now, vendor), ts(now, vendor)) for t in range(TASKS)),
        )
        with connection.cursor() as cursor:
            cursor.execute("SELECT min(id) FROM scheduling_task")
            first_task = cursor.fetchone()[0]
        _insert(
            "INSERT INTO scheduling_taskexecution (task_id, trigger, scheduled_for, status, "
            "created_at, started_at, finished_at, duration_ms, result, error, host, pid, "
            f"attempt, is_overdue, log) VALUES (%s,'manual',NULL,'success',%s,%s,%s,5,{json_param},"
            "'','bench',1,1,false,'')",
            (
                (
                    first_task + i % TASKS,
                    created,
                    created,
                    created,
                    '{"ok": true}',
                )
                for i in range(rows)
                for created in [ts(now - timedelta(days=400) + timedelta(seconds=i * 30), vendor)]
            ),
        )
