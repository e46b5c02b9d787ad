"""The site's writes during a maintenance run: how long does each one wait?

    python -m benchmarks.concurrent_writer DATABASE_URL

A separate process, as a web server would be, commits one small insert every
WRITE_EVERY seconds, each in its own `BEGIN IMMEDIATE` transaction on SQLite
(as Django is configured here) with the same busy timeout, until stdin
closes. It prints "ready" after its first write, and at the end one JSON line:
how many writes, how many failed (busy timeout), and the slowest waits.
SQLite has one write lock: a plain million-row DELETE makes every such write
wait for all of it; batched deletes should keep each wait short.
"""

from __future__ import annotations

import json
import sqlite3
import sys
import threading
import time
from datetime import UTC, datetime
from urllib.parse import urlsplit

WRITE_EVERY = 0.01
BUSY_TIMEOUT = 20.0
INSERT = (
    "INSERT INTO chirpsyncer_errorlog (level, source, message, traceback, created_at) "
    "VALUES ('INFO', 'benchmark.writer', 'a write from the site', '', {param})"
)


def _sqlite_writer(url: str):
    conn = sqlite3.connect(urlsplit(url).path, timeout=BUSY_TIMEOUT, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")  # as the site's connections set it

    def write() -> None:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(INSERT.format(param="?"), (f"{datetime.now(UTC):%Y-%m-%d %H:%M:%S.%f}",))
        conn.execute("COMMIT")

    return write, sqlite3.OperationalError


def _postgres_writer(url: str):
    import psycopg

    conn = psycopg.connect(url.replace("postgres://", "postgresql://", 1))

    def write() -> None:
        with conn.transaction():
            conn.execute(INSERT.format(param="%s"), (datetime.now(UTC),))

    return write, psycopg.OperationalError


def main(url: str) -> None:
    write, busy = (_sqlite_writer if url.startswith("sqlite") else _postgres_writer)(url)
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    waits: list[float] = []
    failed = 0
    while not stop.is_set():
        started = time.perf_counter()
        try:
            write()
        except busy:
            failed += 1
        waits.append(time.perf_counter() - started)
        if len(waits) == 1:
            print("ready", flush=True)
        stop.wait(WRITE_EVERY)
    waits.sort()
    print(
        json.dumps(
            {
                "writes": len(waits),
                "failed": failed,
                "max_ms": round(waits[-1] * 1000, 1),
                "p99_ms": round(waits[int(len(waits) * 0.99)] * 1000, 1),
                "median_ms": round(waits[len(waits) // 2] * 1000, 1),
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main(sys.argv[1])
