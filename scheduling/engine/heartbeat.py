"""Heartbeats of schedulers and workers: written by `runscheduler` and Celery worker
processes, read by pages, API, /healthz/, /metrics and the leader's orphan checks.

Each process keeps a `SchedulerNode` row (role `scheduler` or `worker`) fresh
every SCHEDULER_HEARTBEAT_SECONDS. A heartbeat older than three intervals means
the process is gone or stuck: queued manual runs then wait until a scheduler
returns, and a worker's running executions are abandoned by the leader.
"""

from __future__ import annotations

import os
import socket
import uuid
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from scheduling.models import NodeRole, SchedulerNode

RUNNING, STALE, NOT_RUNNING = "running", "stale", "not_running"
MAX_NODES_READ = 1000
WORKER_NODE_RETENTION = timedelta(days=1)


def stale_after() -> timedelta:
    return timedelta(seconds=3 * settings.SCHEDULER_HEARTBEAT_SECONDS)


def new_node_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def register(node_id: str, role: str = NodeRole.SCHEDULER, queues: str = "") -> SchedulerNode:
    now = timezone.now()
    node, _ = SchedulerNode.objects.update_or_create(
        node_id=node_id,
        defaults={
            "role": role,
            "queues": queues[:255],
            "broker_error": "",
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


def prune_workers(now: datetime) -> int:
    """Delete worker rows silent for WORKER_NODE_RETENTION; returns how many.

    Every pool child registers anew (and children are replaced after a hard
    time limit, on each deploy), so without this the rows would pile up.
    """
    return SchedulerNode.objects.filter(
        role=NodeRole.WORKER, last_beat_at__lt=now - WORKER_NODE_RETENTION
    ).delete()[0]


def set_broker_error(node_id: str, error: str) -> None:
    """Record (or clear, with "") that this scheduler cannot reach the Celery broker."""
    SchedulerNode.objects.filter(node_id=node_id).update(broker_error=error)


def mark_stopped(node_id: str) -> None:
    SchedulerNode.objects.filter(node_id=node_id).update(stopped_at=timezone.now(), is_leader=False)


def current_state() -> dict[str, Any]:
    """What the scheduler is doing, for people: state, leader host/pid, since, last beat."""
    now = timezone.now()
    # One query for both roles: schedulers (fresh or not, to tell "stale" from
    # "not running") and fresh workers.
    rows = list(
        SchedulerNode.objects.filter(stopped_at__isnull=True)
        .filter(Q(role=NodeRole.SCHEDULER) | Q(last_beat_at__gte=now - stale_after()))
        .order_by("-last_beat_at")[:MAX_NODES_READ]
    )
    nodes = [n for n in rows if n.role == NodeRole.SCHEDULER][:20]
    workers = [n for n in rows if n.role == NodeRole.WORKER]
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
        **_workers_state(workers, leader),
    }


def _workers_state(workers: list[SchedulerNode], leader: SchedulerNode | None) -> dict[str, Any]:
    """Worker processes with a fresh heartbeat, their queues, and whether the broker answers.

    `broker`: "off" without CELERY_BROKER_URL, "unreachable" while the leader's
    sender cannot publish, else "ok".
    """
    queues = sorted({q for node in workers for q in node.queues.split(",") if q})
    error = leader.broker_error if leader else ""
    if not settings.CELERY_BROKER_URL:
        broker = "off"
    else:
        broker = "unreachable" if error else "ok"
    return {
        "workers": len(workers),
        "worker_queues": queues,
        "broker": broker,
        "broker_error": error or None,
    }
