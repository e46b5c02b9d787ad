"""The maintenance benchmark's databases: one seeded template, a fresh clone per measurement.

SQLite: files in the work directory, cloned by copying. PostgreSQL: databases
next to the one DATABASE_URL names, cloned with CREATE DATABASE ... TEMPLATE.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from benchmarks.common import postgres_admin


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
        postgres_admin(urlsplit(self.pg), sql)

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
