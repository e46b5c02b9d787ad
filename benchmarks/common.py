"""Helpers the benchmark scripts share: a throwaway database, peak memory, result tables.

Benchmarks must never touch a real database, so every script runs against a
database made for the run and removed after it: a temp SQLite file by default,
or, given a PostgreSQL URL, a new scratch database on that server (the URL's own
database is left alone).
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

BASE_DIR = Path(__file__).resolve().parents[1]


@contextmanager
def throwaway_database(database_url: str = "", label: str = "bench") -> Iterator[str]:
    """Yield the URL of a fresh, empty database; drop it on exit.

    No URL: a SQLite file in a temp directory. A postgres:// URL: a database
    named `<its name>_<label>_<pid>` created on the same server. A sqlite:///
    URL is used as given (the caller vouches that it is throwaway).
    """
    if not database_url:
        with tempfile.TemporaryDirectory(prefix=f"{label}-") as tmp:
            yield f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"
        return
    if not database_url.startswith(("postgres://", "postgresql://", "pgsql://")):
        yield database_url
        return
    parts = urlsplit(database_url)
    base_name = parts.path.lstrip("/") or "postgres"
    scratch = re.sub(r"[^a-z0-9_]", "_", f"{base_name}_{label}_{os.getpid()}".lower())[:63]
    postgres_admin(parts, f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')
    postgres_admin(parts, f'CREATE DATABASE "{scratch}"')
    try:
        yield urlunsplit(parts._replace(path=f"/{scratch}"))
    finally:
        _close_django_connections()
        postgres_admin(parts, f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')


def postgres_admin(parts, statement: str) -> None:
    """Run CREATE/DROP DATABASE through the server's `postgres` database (autocommit)."""
    import psycopg

    admin_url = urlunsplit(parts._replace(scheme="postgresql", path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(statement)


def _close_django_connections() -> None:
    from django.apps import apps

    if apps.ready:  # Django may never have been set up (it failed before setup)
        from django.db import connections

        connections.close_all()


def setup_django(database_url: str, log_level: str = "WARNING", migrate: bool = True) -> None:
    """Point Django at `database_url`, set it up and (optionally) migrate the schema."""
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chirpsyncer.settings")
    os.environ.setdefault("DEBUG", "false")
    os.environ.setdefault("SECRET_KEY", "benchmark-only-secret-key-not-used-anywhere-else")
    os.environ["LOG_LEVEL"] = log_level
    # The task functions the benchmarks run; child processes inherit it.
    os.environ.setdefault("SCHEDULER_TASK_MODULES", "benchmarks.engine_setup")
    import django

    django.setup()
    if migrate:
        from django.core.management import call_command

        call_command("migrate", verbosity=0)


def peak_rss_mb(pid: int | str = "self") -> float:
    """Peak resident set size (VmHWM) of a live process, in MiB."""
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
    return int(match.group(1)) / 1024 if match else float("nan")


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (`fraction` in 0..1); NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[rank]


@dataclass
class Row:
    """One comparison: our figure, the baseline's, and the unit both are in."""

    metric: str
    ours: float
    baseline: float | None
    unit: str = "ms"

    @property
    def ratio(self) -> str:
        if self.baseline is None or self.baseline == 0 or self.ours != self.ours:
            return "-"
        return f"{self.ours / self.baseline:.2f}"


def _figure(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if value != value:  # NaN: nothing measured
        return "n/a"
    if unit in ("count", "jobs"):
        return f"{value:.0f}"
    return f"{value:.3f} {unit}" if abs(value) < 10 else f"{value:.1f} {unit}"


def format_table(title: str, rows: Sequence[Row]) -> str:
    """A plain-text table, one `metric | ours | baseline | ratio` line per row.

    The ratio is ours / baseline: below 1 means ours is smaller (faster, leaner).
    """
    width = max([len("metric"), *(len(row.metric) for row in rows)])
    lines = [title, f"{'metric':<{width}} | {'ours':>12} | {'baseline':>12} | ratio"]
    lines.append("-" * len(lines[-1]))
    for row in rows:
        ours, baseline = _figure(row.ours, row.unit), _figure(row.baseline, row.unit)
        lines.append(f"{row.metric:<{width}} | {ours:>12} | {baseline:>12} | {row.ratio}")
    return "\n".join(lines)
