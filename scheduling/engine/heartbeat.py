"""Scheduler heartbeats: written by `runscheduler`, read by pages, API and /healthz/.

Each scheduler process keeps a `SchedulerNode` row fresh every
SCHEDULER_HEARTBEAT_SECONDS. A heartbeat older than three intervals means the
process is gone or stuck; queued manual runs then wait until one returns.
"""

from __future__ import annotations

import os
import socket
import uuid
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from scheduling.models import SchedulerNode

RUNNING, STALE, NOT_RUNNING = "running", "stale", "not_running"


def stale_after() -> timedelta:
    return timedelta(seconds=3 * settings.SCHEDULER_HEARTBEAT_SECONDS)


def new_node_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def register(node_id: str) -> SchedulerNode:
    now = timezone.now()
    node, _ = SchedulerNode.objects.update_or_create(
        node_id=node_id,
        defaults={
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "started_at": now,
            "last_beat_at": now,
            "stopped_at": None,
        },
    )
    return node


def beat(node_id: str, *, is_leader: bool) -> None:
    SchedulerNode.objects.filter(node_id=node_id).update(
        last_beat_at=timezone.now(), is_leader=is_leader
    )


def mark_stopped(node_id: str) -> None:
    SchedulerNode.objects.filter(node_id=node_id).update(stopped_at=timezone.now(), is_leader=False)


def current_state() -> dict[str, Any]:
    """What the scheduler is doing, for people: state, leader host/pid, since, last beat."""
    now = timezone.now()
    nodes = list(
        SchedulerNode.objects.filter(stopped_at__isnull=True).order_by("-last_beat_at")[:20]
    )
    fresh = [n for n in nodes if now - n.last_beat_at <= stale_after()]
    leader = next((n for n in fresh if n.is_leader), None)
    if fresh:
        shown = leader or fresh[0]
        state = RUNNING
    elif nodes:
        shown, state = nodes[0], STALE
    else:
        shown, state = None, NOT_RUNNING
    return {
        "state": state,
        "host": shown.host if shown else None,
        "pid": shown.pid if shown else None,
        "since": shown.started_at if shown else None,
        "last_beat_at": shown.last_beat_at if shown else None,
        "leader": (f"{leader.host}:{leader.pid}" if leader else None),
        "nodes": len(fresh),
    }
