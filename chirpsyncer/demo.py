"""Demo data: what a small ChirpSyncer install accumulates over months.

Rows are inserted with `executemany` in chunks inside one transaction per
table: the ORM's `bulk_create` spends most of its time building model
instances, and a million audit rows must load in well under a minute.
"""

from __future__ import annotations

import json
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
    table = connection.ops.quote_name(model._meta.db_table)
    names = ", ".join(connection.ops.quote_name(c) for c in columns)
    placeholders = ", ".join(["%s"] * len(columns))
    sql = f"INSERT INTO {table} ({names}) VALUES ({placeholders})"
    total = 0
    with transaction.atomic(), connection.cursor() as cursor:
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


def _when(rng: random.Random, now: datetime, days: int) -> Any:
    moment = now - timedelta(seconds=rng.randrange(days * 86_400))
    return connection.ops.adapt_datetimefield_value(moment)


def audit_rows(rng: random.Random, user_ids: list[int], count: int) -> Iterator[tuple]:
    now = timezone.now()
    for i in range(count):
        action = ACTIONS[i % len(ACTIONS)]
        yield (
            rng.choice(user_ids) if i % 10 else None,
            action,
            "account" if action.startswith("log") else "sync",
            str(rng.randrange(1, 5000)),
            f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}",
            USER_AGENTS[i % len(USER_AGENTS)],
            i % 17 != 0,
            json.dumps({"request": i, "platform": PLATFORMS[i % 4]}),
            _when(rng, now, 200),
        )


def sync_rows(rng: random.Random, user_ids: list[int], count: int) -> Iterator[tuple]:
    now = timezone.now()
    adapted_now = connection.ops.adapt_datetimefield_value(now)
    for i in range(count):
        ok = i % 9 != 0
        yield (
            rng.choice(user_ids),
            PLATFORMS[i % 4],
            _when(rng, now, 60),
            ok,
            rng.randrange(0, 40) if ok else 0,
            rng.randrange(200, 9000),
            "" if ok else "HTTP 429: rate limited by platform",
            adapted_now,
        )


def error_rows(rng: random.Random, count: int) -> Iterator[tuple]:
    now = timezone.now()
    levels = ["WARNING", "ERROR", "ERROR", "CRITICAL"]
    for i in range(count):
        yield (
            levels[i % 4],
            f"sync.{PLATFORMS[i % 4]}",
            f"Request {i} failed: upstream returned 5{rng.randrange(0, 4)}",
            "Traceback (most recent call last):\n  ...\nConnectionError: reset by peer",
            _when(rng, now, 60),
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
