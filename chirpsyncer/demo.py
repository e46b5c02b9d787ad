"""Demo data: what a small ChirpSyncer install accumulates over months.

Rows are inserted with `executemany` in chunks inside one transaction per
table: the ORM's `bulk_create` spends most of its time building model
instances, and a million audit rows must load in well under a minute.
Timestamps grow with the row id, as in a real log, which also keeps the
`created_at` index append-only while loading.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.db import connection, transaction
from django.utils import timezone

from chirpsyncer.models import AuditLog, Credential, ErrorLog, SyncRecord

PLATFORMS = ["twitter", "bluesky", "mastodon", "threads"]
ACTIONS = ["login", "logout", "sync.start", "sync.finish", "credential.update", "settings.change"]
USER_AGENTS = ["Mozilla/5.0 (X11; Linux x86_64)", "ChirpSyncer-CLI/2.1", "curl/8.5.0"]
DEMO_USERS = ["alice", "bob", "carol", "dave"]
CHUNK = 20_000

Progress = Callable[[int], None]


@dataclass(frozen=True)
class Sizes:
    audit_logs: int
    sync_records: int
    error_logs: int
    sessions: int
    credentials_per_user: int = 5

    @classmethod
    def for_scale(cls, scale: int) -> Sizes:
        return cls(
            audit_logs=10_000 * scale,
            sync_records=2_000 * scale,
            error_logs=1_000 * scale,
            sessions=1_000 * scale,
        )


def ensure_users() -> list[Any]:
    """The demo's regular users and a staff operator; idempotent."""
    User = get_user_model()
    users = []
    for name in DEMO_USERS:
        user, created = User.objects.get_or_create(
            username=name, defaults={"email": f"{name}@example.com"}
        )
        if created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
        users.append(user)
    operator, created = User.objects.get_or_create(
        username="operator", defaults={"email": "operator@example.com", "is_staff": True}
    )
    if created:
        operator.set_unusable_password()
        operator.save(update_fields=["password"])
    return users


def _insert(model: type, columns: Sequence[str], rows: Iterator[tuple], progress: Progress) -> int:
    """Stream `rows` into `model`'s table in one transaction; returns how many."""
    table = connection.ops.quote_name(model._meta.db_table)
    names = ", ".join(connection.ops.quote_name(c) for c in columns)
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            return _copy(cursor.cursor, f"COPY {table} ({names}) FROM STDIN", rows, progress)
        # 128 MB of page cache for this connection: index pages stay in
        # memory instead of being re-read for every chunk.
        cursor.execute("PRAGMA cache_size=-131072")
        placeholders = ", ".join(["%s"] * len(columns))
        sql = f"INSERT INTO {table} ({names}) VALUES ({placeholders})"
        return _executemany(cursor, sql, rows, progress)


def _executemany(cursor: Any, sql: str, rows: Iterator[tuple], progress: Progress) -> int:
    total = 0
    batch: list[tuple] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= CHUNK:
            cursor.executemany(sql, batch)
            total += len(batch)
            progress(len(batch))
            batch = []
    if batch:
        cursor.executemany(sql, batch)
        total += len(batch)
        progress(len(batch))
    return total


def _copy(cursor: Any, sql: str, rows: Iterator[tuple], progress: Progress) -> int:
    """PostgreSQL's COPY: one data stream instead of a statement per row.

    `executemany` costs a round trip per row there, several minutes at 10^6 rows.
    """
    total = 0
    with cursor.copy(sql) as copy:
        for row in rows:
            copy.write_row(row)
            total += 1
            if total % CHUNK == 0:
                progress(CHUNK)
    if total % CHUNK:
        progress(total % CHUNK)
    return total


def _past(now: datetime, days: int) -> Callable[[float], Any]:
    """A fast `fraction -> column value` for a moment in the last `days` days.

    Django's `adapt_datetimefield_value` costs about 10 µs a call, a quarter of
    the whole load at a million rows; on SQLite this produces the same naive
    UTC text it would, and PostgreSQL takes aware datetimes as they are.
    """
    span = days * 86_400
    if connection.vendor == "sqlite":
        base = timezone.make_naive(now, connection.timezone)
        return lambda fraction: str(base - timedelta(seconds=int(fraction * span)))
    return lambda fraction: now - timedelta(seconds=int(fraction * span))


def audit_rows(rng: random.Random, user_ids: list[int], count: int) -> Iterator[tuple]:
    # random() and getrandbits() are several times faster than randrange()/choice().
    rand, bits = rng.random, rng.getrandbits
    when = _past(timezone.now(), 200)
    kinds = [(a, "account" if a.startswith("log") else "sync") for a in ACTIONS]
    n_users = len(user_ids)
    for i in range(count):
        action, resource_type = kinds[i % len(kinds)]
        ip = bits(24)
        yield (
            user_ids[int(rand() * n_users)] if i % 10 else None,
            action,
            resource_type,
            str(1 + int(rand() * 4999)),
            f"10.{ip >> 16}.{(ip >> 8) & 255}.{(ip & 255) or 1}",
            USER_AGENTS[i % len(USER_AGENTS)],
            i % 17 != 0,
            f'{{"request": {i}, "platform": "{PLATFORMS[i % 4]}"}}',  # json.dumps' output
            when(1 - (i + rand()) / count),  # oldest first, as a real log grows
        )


def sync_rows(rng: random.Random, user_ids: list[int], count: int) -> Iterator[tuple]:
    rand = rng.random
    now = timezone.now()
    when = _past(now, 60)
    adapted_now = connection.ops.adapt_datetimefield_value(now)
    n_users = len(user_ids)
    for i in range(count):
        ok = i % 9 != 0
        yield (
            user_ids[int(rand() * n_users)],
            PLATFORMS[i % 4],
            when(1 - (i + rand()) / count),
            ok,
            int(rand() * 40) if ok else 0,
            200 + int(rand() * 8800),
            "" if ok else "HTTP 429: rate limited by platform",
            adapted_now,
        )


def error_rows(rng: random.Random, count: int) -> Iterator[tuple]:
    rand = rng.random
    when = _past(timezone.now(), 60)
    levels = ["WARNING", "ERROR", "ERROR", "CRITICAL"]
    for i in range(count):
        yield (
            levels[i % 4],
            f"sync.{PLATFORMS[i % 4]}",
            f"Request {i} failed: upstream returned 5{int(rand() * 4):02d}",
            "Traceback (most recent call last):\n  ...\nConnectionError: reset by peer",
            when(1 - (i + rand()) / count),
        )


def session_rows(rng: random.Random, count: int) -> Iterator[tuple]:
    now = timezone.now()
    data = SessionStore().encode({})
    for i in range(count):
        # Nine in ten expired, up to a month ago; the rest live for two weeks.
        offset = -rng.randrange(1, 30 * 86_400) if i % 10 else rng.randrange(60, 14 * 86_400)
        expires = connection.ops.adapt_datetimefield_value(now + timedelta(seconds=offset))
        yield (secrets.token_hex(16), data, expires)


def seed_credentials(rng: random.Random, users: list[Any], per_user: int) -> int:
    now = timezone.now()
    credentials = []
    for user in users:
        for n in range(per_user):
            never_used = n == 0
            credentials.append(
                Credential(
                    user=user,
                    platform=PLATFORMS[n % 4],
                    label=f"{PLATFORMS[n % 4]} #{n + 1}",
                    secret=secrets.token_urlsafe(24),
                    created_at=now - timedelta(days=rng.randrange(30, 720)),
                    last_used_at=None
                    if never_used
                    else now - timedelta(days=rng.randrange(0, 400)),
                )
            )
    Credential.objects.bulk_create(credentials)
    return len(credentials)


def seed(sizes: Sizes, progress: Progress, seed_value: int = 1) -> dict[str, int]:
    """Insert demo rows of every kind; returns how many of each."""
    rng = random.Random(seed_value)
    users = ensure_users()
    ids = [u.pk for u in users]
    audit_cols = [
        "user_id", "action", "resource_type", "resource_id", "ip_address",
        "user_agent", "success", "details", "created_at",
    ]  # fmt: skip
    sync_cols = [
        "user_id", "platform", "started_at", "success", "posts_synced",
        "duration_ms", "error", "updated_at",
    ]  # fmt: skip
    error_cols = ["level", "source", "message", "traceback", "created_at"]
    return {
        "users": len(users),
        "credentials": seed_credentials(rng, users, sizes.credentials_per_user),
        "audit_logs": _insert(
            AuditLog, audit_cols, audit_rows(rng, ids, sizes.audit_logs), progress
        ),
        "sync_records": _insert(
            SyncRecord, sync_cols, sync_rows(rng, ids, sizes.sync_records), progress
        ),
        "error_logs": _insert(ErrorLog, error_cols, error_rows(rng, sizes.error_logs), progress),
        "sessions": _insert(
            Session,
            ["session_key", "session_data", "expire_date"],
            session_rows(rng, sizes.sessions),
            progress,
        ),  # fmt: skip
    }


def simulate_sync(users: int = 2) -> dict[str, int]:
    """A stand-in for ChirpSyncer's own sync loop, scheduled by the demo every 20 s.

    It gives a fresh install executions to look at within a minute, and new
    sync records for the daily aggregation to find.
    """
    rng = random.Random()
    user_ids = list(
        get_user_model().objects.filter(username__in=DEMO_USERS).values_list("pk", flat=True)
    )
    records = [
        SyncRecord(
            user_id=user_id,
            platform=rng.choice(PLATFORMS),
            success=rng.random() > 0.1,
            posts_synced=rng.randrange(0, 20),
            duration_ms=rng.randrange(100, 3000),
        )
        for user_id in rng.sample(user_ids, min(users, len(user_ids)))
    ]
    SyncRecord.objects.bulk_create(records)
    return {"sync_records": len(records)}
