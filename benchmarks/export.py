"""History export at 10^6 executions: time and peak memory of a real web process.

    python -m benchmarks.export [--executions 1000000] [--database-url postgres://...]

Seeds one task with `--executions` executions (the page benchmark's seeding),
then, for CSV and for JSON, starts a fresh `gunicorn chirpsyncer.wsgi` (one
gthread worker, as README advises for exports; DEBUG off), downloads
`/tasks/<name>/history.<fmt>` as a user who sees every column, reading the body
1 MiB at a time, and reads the worker's peak RSS (VmHWM) after a warm-up
request and after the download. Flat memory means the peak barely moves while
a million rows go through.

Baselines, measured in the same run on the same rows:
- "plain cursor": a Python process without Django, the database driver's
  cursor read 2,000 rows at a time (fetchmany) into csv.writer or json.dumps,
  written to /dev/null: what the export costs without the web stack;
- the database's own CLI (`sqlite3 -csv`, `psql \\copy ... TO STDOUT CSV`) to
  /dev/null: the floor.
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import subprocess
import sys
import textwrap
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from benchmarks.common import BASE_DIR, Row, format_table, peak_rss_mb, throwaway_database

READ = 1 << 20
GUNICORN = (
    "import chirpsyncer.env\nchirpsyncer.env.read_env_file = lambda path: None\n"
    "import sys\nfrom gunicorn.app.wsgiapp import run\n"
    "sys.argv = ['gunicorn', 'chirpsyncer.wsgi', '--bind', '127.0.0.1:0', '--workers', '1',"
    " '--worker-class', 'gthread', '--no-control-socket']\nrun()\n"
)
COLUMNS_SQL = (
    "e.id, e.status, e.trigger, e.attempt, e.scheduled_for, e.created_at, e.started_at, "
    "e.finished_at, e.duration_ms, e.is_overdue, e.parent_id, u.username, e.host, e.pid, "
    "e.kwargs, e.result, e.error"
)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a live process has used (/proc/<pid>/stat, in clock ticks)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Download:
    seconds: float
    cpu_seconds: float  # the worker's own CPU time: what the machine's load does not change
    rows: int
    bytes: int
    rss_warm_mb: float
    rss_tenth_mb: float  # after the first tenth of the rows had been read
    rss_peak_mb: float


class Server:
    """gunicorn on a free port with only the variables given (no .env), output kept."""

    def __init__(self, database_url: str) -> None:
        env = {
            "PATH": os.environ["PATH"],
            "HOME": os.environ.get("HOME", "/tmp"),
            "PYTHONUNBUFFERED": "1",
            "DJANGO_SETTINGS_MODULE": "chirpsyncer.settings",
            "DATABASE_URL": database_url,
            "DEBUG": "false",
            "SECRET_KEY": "benchmark-only-secret-key-not-used-anywhere-else",
            "SECURE_SSL_REDIRECT": "false",
            "SESSION_COOKIE_SECURE": "false",
            "CSRF_COOKIE_SECURE": "false",
            "LOG_LEVEL": "WARNING",
        }
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            [sys.executable, "-c", GUNICORN],
            cwd=BASE_DIR,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        threading.Thread(target=self._read, daemon=True).start()
        self.port = int(self._wait(r"Listening at: http://127\.0\.0\.1:(\d+)"))
        self.worker_pid = int(self._wait(r"Booting worker with pid: (\d+)"))

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def _wait(self, pattern: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = re.search(pattern, "\n".join(self.lines))
            if found:
                return found.group(1)
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        raise SystemExit("gunicorn did not start:\n" + "\n".join(self.lines))

    def get(
        self, path: str, cookie: str, at_line: int = 0, then=lambda: None
    ) -> tuple[int, int, int, bytes, bytes]:
        """GET `path`, reading the body 1 MiB at a time: (status, bytes, line ends, head, tail).

        `then()` is called once, when `at_line` line ends have been read.
        """
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=900)
        connection.request("GET", path, headers={"Cookie": f"sessionid={cookie}"})
        response = connection.getresponse()
        size = lines = 0
        head = tail = b""
        while block := response.read(READ):
            size += len(block)
            before, lines = lines, lines + block.count(b"\n")
            if before < at_line <= lines:
                then()
            head = head or block[:4096]
            tail = (tail + block)[-4096:]
        connection.close()
        return response.status, size, lines, head, tail

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _signed_in_cookie() -> str:
    """A session for a user who sees every column (view_task): the widest export."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Permission
    from django.test import Client

    user = get_user_model().objects.create_user("bench-export", password="bench-password-1")
    user.user_permissions.add(Permission.objects.get(codename="view_task"))
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


def _check(fmt: str, status: int, lines: int, head: bytes, tail: bytes, expected: int) -> int:
    """Rows in the body, after checking it starts and ends as a whole file should."""
    import json

    if status != 200:
        raise SystemExit(f"history.{fmt} answered {status}")
    if fmt == "csv":
        assert head.startswith(b"id,task,status,") and tail.endswith(b"\r\n")
        rows = lines - 1  # the header (the seeded errors hold no line breaks)
    else:
        assert head.startswith(b"[\n{") and tail.endswith(b"}\n]\n")
        json.loads(head[2:].split(b"\n", 1)[0].rstrip(b","))  # the first object
        json.loads(tail.rsplit(b"\n", 3)[-3])  # the last object
        rows = lines - 2  # "[\n", then an object per line, then "\n]\n"
    if rows != expected:
        raise SystemExit(f"history.{fmt}: {rows} rows, expected {expected}")
    return rows


def download(database_url: str, task_name: str, cookie: str, fmt: str, expected: int) -> Download:
    """One fresh server, one warm-up request, one full download; the worker's peak RSS."""
    server = Server(database_url)
    try:
        # Warm-up: the same view and code path, a handful of rows (imports, templates, caches).
        server.get(f"/tasks/{task_name}/history.{fmt}?status=queued", cookie)
        warm = peak_rss_mb(server.worker_pid)
        tenth: list[float] = []
        started, cpu = time.perf_counter(), cpu_seconds(server.worker_pid)
        status, size, lines, head, tail = server.get(
            f"/tasks/{task_name}/history.{fmt}",
            cookie,
            at_line=expected // 10,
            then=lambda: tenth.append(peak_rss_mb(server.worker_pid)),
        )
        seconds = time.perf_counter() - started
        cpu = cpu_seconds(server.worker_pid) - cpu
        rows = _check(fmt, status, lines, head, tail, expected)
        return Download(seconds, cpu, rows, size, warm, tenth[0], peak_rss_mb(server.worker_pid))
    finally:
        server.stop()


# --- baselines ------------------------------------------------------------------------
PLAIN_CURSOR = textwrap.dedent(
    """
    import csv, json, os, re, sys, time
    vendor, target, task_id, fmt, sql = sys.argv[1:6]
    if vendor == "sqlite":
        import sqlite3
        conn = sqlite3.connect(target)
        sql = sql.replace("%s", "?")
    else:
        import psycopg
        conn = psycopg.connect(target)
    started, cpu = time.perf_counter(), time.process_time()
    # PostgreSQL: a server-side cursor, or the driver would hold every row at once.
    cursor = conn.cursor() if vendor == "sqlite" else conn.cursor(name="export")
    cursor.execute(sql, [int(task_id)])
    names = [column[0] for column in cursor.description]
    rows = 0
    with open(os.devnull, "w") as out:
        writer = csv.writer(out, lineterminator="\\r\\n")
        while chunk := cursor.fetchmany(2000):
            rows += len(chunk)
            if fmt == "csv":
                writer.writerows(chunk)
            else:
                objects = (json.dumps(dict(zip(names, row)), default=str) for row in chunk)
                out.write(",\\n".join(objects))
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    status = open("/proc/self/status").read()
    peak = int(re.search(r"VmHWM:\\s+(\\d+)", status).group(1)) / 1024
    print(rows, seconds, cpu, peak)
    """
)


def plain_cursor(
    vendor: str, target: str, task_id: int, fmt: str
) -> tuple[float, float, float, int]:
    """(seconds, CPU seconds, peak RSS MiB, rows): the driver's cursor into csv/json, /dev/null."""
    sql = (
        f"SELECT {COLUMNS_SQL} FROM scheduling_taskexecution e "
        "LEFT JOIN auth_user u ON u.id = e.requested_by_id WHERE e.task_id = %s ORDER BY e.id"
    )
    done = subprocess.run(
        [sys.executable, "-c", PLAIN_CURSOR, vendor, target, str(task_id), fmt, sql],
        capture_output=True,
        text=True,
        check=True,
    )
    rows, seconds, cpu, peak = done.stdout.split()
    return float(seconds), float(cpu), float(peak), int(rows)


def database_cli(vendor: str, target: str, task_id: int) -> tuple[float, float]:
    """(seconds, peak RSS MiB) of sqlite3 -csv / psql \\copy writing the rows to /dev/null."""
    select = (
        f"SELECT {COLUMNS_SQL} FROM scheduling_taskexecution e LEFT JOIN auth_user u "
        f"ON u.id = e.requested_by_id WHERE e.task_id = {int(task_id)} ORDER BY e.id"
    )
    if vendor == "sqlite":
        command = ["sqlite3", "-csv", "-header", target, select]
    else:
        command = ["psql", "-X", "-q", target, "-c", f"\\copy ({select}) TO STDOUT WITH CSV HEADER"]
    started = time.perf_counter()
    with open(os.devnull, "wb") as out:
        proc = subprocess.Popen(command, stdout=out)
        _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    if status != 0:
        raise SystemExit(f"{command[0]} failed ({status})")
    return seconds, usage.ru_maxrss / 1024


def run(database_url: str, executions: int) -> list[Row]:
    from django.db import connection

    from benchmarks.pages import seed

    started = time.perf_counter()
    (task,) = seed(1, executions)
    print(f"seeded {executions:,} executions in {time.perf_counter() - started:.1f} s")
    cookie = _signed_in_cookie()
    connection.close()
    vendor = connection.vendor
    target = (
        connection.settings_dict["NAME"]
        if vendor == "sqlite"
        else urlsplit(database_url)._replace(scheme="postgresql").geturl()
    )
    cli_seconds, cli_rss = database_cli(vendor, target, task.pk)
    rows: list[Row] = []
    for fmt in ("csv", "json"):
        ours = download(database_url, task.name, cookie, fmt, executions)
        plain_seconds, plain_cpu, plain_rss, plain_rows = plain_cursor(vendor, target, task.pk, fmt)
        assert plain_rows == executions
        rate = executions / ours.seconds
        print(
            f"{fmt}: {ours.rows:,} rows, {ours.bytes / 2**20:.0f} MiB in {ours.seconds:.1f} s "
            f"({rate:,.0f} rows/s); worker peak RSS {ours.rss_warm_mb:.1f} MiB after warm-up, "
            f"{ours.rss_tenth_mb:.1f} MiB after a tenth of the rows, "
            f"{ours.rss_peak_mb:.1f} MiB after all"
        )
        rows += [
            Row(f"{fmt}: time for all rows vs plain cursor", ours.seconds, plain_seconds, "s"),
            Row(f"{fmt}: CPU for all rows vs plain cursor", ours.cpu_seconds, plain_cpu, "s"),
            Row(f"{fmt}: time for all rows vs {vendor} CLI (CSV)", ours.seconds, cli_seconds, "s"),
            Row(f"{fmt}: worker peak RSS vs plain cursor", ours.rss_peak_mb, plain_rss, "MiB"),
            Row(
                f"{fmt}: peak RSS vs itself after warm-up",
                ours.rss_peak_mb,
                ours.rss_warm_mb,
                "MiB",
            ),
            Row(
                f"{fmt}: peak RSS vs itself at 1/10 of the rows",
                ours.rss_peak_mb,
                ours.rss_tenth_mb,
                "MiB",
            ),  # fmt: skip
        ]
    rows.append(Row(f"{vendor} CLI peak RSS", cli_rss, None, "MiB"))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--executions", type=int, default=1_000_000)
    parser.add_argument(
        "--database-url",
        default="",
        help="postgres://... to measure on a scratch database created on that server",
    )
    args = parser.parse_args(argv)
    from benchmarks.common import setup_django

    with throwaway_database(args.database_url, label="export") as url:
        setup_django(url)
        from django.db import connection

        rows = run(url, args.executions)
        title = f"\n{connection.vendor}, {args.executions:,} executions of one task"
        print(format_table(title, rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
