"""Page latency and query counts of the task pages with a large execution history.

    python -m benchmarks.pages [--tasks 100] [--executions 1000000] [--requests 50]

Builds a throwaway database (a temp SQLite file, or with --database-url a
scratch database created on that PostgreSQL server and dropped after), loads
`--tasks` tasks with `--executions` executions spread hourly over the past
(about 10,000 per task at 10^6: more than a year of an hourly job), then
requests each page through Django's test client and prints median and p95
latency and the number of SQL queries.

The baseline in the same run is the cost of the session/user lookup alone
(`/accounts/login/` for a signed-in user): what any signed-in page pays before
it does any work of its own.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import datetime, timedelta
from typing import Any

from benchmarks.common import percentile, setup_django, throwaway_database

CHUNK = 20_000
STATUSES = ["success"] * 17 + ["failed", "skipped", "success"]


def seed(tasks: int, executions: int, now: datetime | None = None) -> list[Any]:
    """Create `tasks` tasks and `executions` executions (fast: executemany in chunks).

    Usable from tests too: it only needs Django set up and a migrated database.
    """
    from django.db import connection, transaction
    from django.utils import timezone

    from scheduling.models import Task, TaskExecution

    now = now or timezone.now()
    created = Task.objects.bulk_create(
        Task(
            name=f"bench-task-{i:04d}",
            func="scheduling.tests.tasks_for_tests.noop",
            description=f"Benchmark task number {i}.",
            trigger_type="cron",
            cron_expression=f"{i % 60} * * * *",
            timezone="UTC",
            run_count=executions // max(tasks, 1),
            last_status="success",
            last_run_at=now,
            last_duration_ms=100,
            next_run_at=now + timedelta(hours=1),
            created_at=now,
            updated_at=now,
        )
        for i in range(tasks)
    )
    task_ids = [task.pk for task in created] or list(Task.objects.values_list("pk", flat=True))
    table = TaskExecution._meta.db_table
    columns = (
        "task_id, trigger, scheduled_for, status, created_at, started_at, finished_at, "
        "duration_ms, result, error, host, pid, attempt, is_overdue, log"
    )
    sql = f"INSERT INTO {table} ({columns}) VALUES ({', '.join(['%s'] * 15)})"
    per_task = -(-executions // len(task_ids))

    def rows():
        # Oldest first, interleaved across tasks, as a real scheduler writes them.
        made = 0
        for age in range(per_task, 0, -1):
            at = now - timedelta(hours=age)
            for n, task_id in enumerate(task_ids):
                if made == executions:
                    return
                status = STATUSES[(age + n) % len(STATUSES)]
                yield (
                    task_id,
                    "schedule",
                    at,
                    status,
                    at,
                    at,
                    at + timedelta(milliseconds=100 + (age * 37 + n) % 900),
                    100 + (age * 37 + n) % 900,
                    '{"ok": true}' if status == "success" else None,
                    "RuntimeError: boom" if status == "failed" else "",
                    "bench",
                    1,
                    1,
                    False,
                    "",
                )
                made += 1

    with transaction.atomic(), connection.cursor() as cursor:
        batch: list[tuple] = []
        for row in rows():
            batch.append(_adapt(connection, row))
            if len(batch) == CHUNK:
                cursor.executemany(sql, batch)
                batch = []
        if batch:
            cursor.executemany(sql, batch)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {table}")
    elif connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    return created


def _adapt(connection: Any, row: tuple) -> tuple:
    """Datetimes as the backend stores them (SQLite wants naive UTC text)."""
    ops = connection.ops
    return tuple(
        ops.adapt_datetimefield_value(value) if isinstance(value, datetime) else value
        for value in row
    )


def _measure(client: Any, url: str, requests: int) -> tuple[float, float, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    # Over https, as production serves them (with DEBUG off, http is redirected).
    client.get(url, secure=True)  # warm caches (templates, cron descriptions)
    timings = []
    queries = 0
    for _ in range(requests):
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            response = client.get(url, HTTP_ACCEPT="text/html", secure=True)
            timings.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise SystemExit(f"{url} answered {response.status_code}")
        queries = len(captured)
    return statistics.median(timings), percentile(timings, 0.95), queries


def run(tasks: int, executions: int, requests: int) -> list[tuple[str, float, float, int]]:
    """Seed, then measure every page; returns (page, median ms, p95 ms, queries) rows."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Permission
    from django.test import Client

    started = time.perf_counter()
    created = seed(tasks, executions)
    print(f"seeded {tasks} tasks, {executions} executions in {time.perf_counter() - started:.1f}s")
    # Staff with both task permissions: the heaviest view of each page (buttons, form).
    user = get_user_model().objects.create_user("bench", password="bench-password-1", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=["run_task", "change_task"]))
    client = Client()
    client.force_login(user)
    name = created[len(created) // 2].name
    oldest = created[len(created) // 2].executions.order_by("id").values_list("id", flat=True)
    cursor = oldest[min(100, max(executions // max(tasks, 1) - 1, 0))] if executions else 1
    pages = [
        ("baseline: /accounts/login/ (signed in)", "/accounts/login/"),
        ("/tasks/", "/tasks/"),
        (f"/tasks/{name}/", f"/tasks/{name}/"),
        (f"/tasks/{name}/?status=failed", f"/tasks/{name}/?status=failed"),
        (f"/tasks/{name}/?before=<old id>", f"/tasks/{name}/?before={cursor}"),
        ("/api/tasks/status/", "/api/tasks/status/"),
    ]
    return [(label, *_measure(client, url, requests)) for label, url in pages]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=100)
    parser.add_argument("--executions", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument(
        "--database-url",
        default="",
        help="postgres://... to measure on a scratch database created on that server",
    )
    args = parser.parse_args(argv)
    with throwaway_database(args.database_url, label="pages") as url:
        setup_django(url)
        from django.db import connection

        rows = run(args.tasks, args.executions, args.requests)
        print(f"\n{connection.vendor}, {args.tasks} tasks, {args.executions} executions")
        print(f"{'page':<44} {'median ms':>10} {'p95 ms':>8} {'queries':>8}")
        for label, median, p95, queries in rows:
            print(f"{label:<44} {median:>10.1f} {p95:>8.1f} {queries:>8}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
