"""Expired-session cleanup through whatever session engine is configured."""

from __future__ import annotations

import logging
from importlib import import_module

from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.utils import timezone

from maintenance.batching import delete_in_batches

logger = logging.getLogger(__name__)


def clear_expired_sessions(batch_size: int | None = None) -> dict:
    """Remove expired sessions; returns `{"deleted": n}` (n is None if the engine cannot count).

    The database engines (`db`, `cached_db`, and subclasses) get a batched
    delete so a backlog of a million sessions never holds SQLite's write lock
    for long; `clearsessions` would do it in one statement. Other engines
    (file, cache, signed cookies) clean up through their own `clear_expired`.
    """
    store = import_module(settings.SESSION_ENGINE).SessionStore
    if not issubclass(store, DatabaseSessionStore):
        store.clear_expired()
        logger.info("Cleared expired sessions with %s", settings.SESSION_ENGINE)
        return {"deleted": None, "engine": settings.SESSION_ENGINE}
    stats = delete_in_batches(
        store.get_model_class().objects.all(),
        key="expire_date",
        before=timezone.now(),
        batch_size=batch_size,
        label="expired sessions",
    )
    return {
        "deleted": stats.deleted,
        "batches": stats.batches,
        "longest_batch_ms": round(stats.longest_batch_seconds * 1000),
    }
