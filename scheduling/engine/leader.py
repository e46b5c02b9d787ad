"""Leadership lease: exactly one `runscheduler` process schedules at a time.

The lease is one row. A process becomes (or stays) leader with a single
conditional UPDATE that succeeds only if it already holds the lease or the
lease has expired, so any number of processes on any number of hosts can
compete without locks. A holder that stops renewing (crash, `kill -9`, lost
network) loses the lease SCHEDULER_LEASE_SECONDS after its last renewal.
Even while two processes both believe they lead, the unique (task,
scheduled_for) constraint makes the loser of the insert run nothing.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from scheduling.models import SchedulerLease, SchedulerNode

LEASE_NAME = "leader"


def _ensure_row() -> None:
    if not SchedulerLease.objects.filter(name=LEASE_NAME).exists():
        try:
            with transaction.atomic():
                SchedulerLease.objects.create(name=LEASE_NAME)
        except IntegrityError:
            pass  # another process created it first


@dataclass(frozen=True)
class Holder:
    """Who held the lease before a takeover."""

    node_id: str
    host: str
    pid: int | None


def try_acquire(node_id: str, lease_seconds: float, now: datetime | None = None) -> bool:
    """Take or renew the lease; True if `node_id` holds it afterwards."""
    return acquire(node_id, lease_seconds, now)[0]


def acquire(
    node_id: str, lease_seconds: float, now: datetime | None = None
) -> tuple[bool, Holder | None]:
    """Take or renew the lease: (holds it now, the holder it was taken from after expiry).

    The second value is set only when the lease is taken from another process
    that stopped renewing it (not a released lease): that process is gone, or
    stalled past its lease, and the caller may treat its runs as orphans at once.
    """
    now = now or timezone.now()
    _ensure_row()
    expires = now + timedelta(seconds=lease_seconds)
    renewed = SchedulerLease.objects.filter(name=LEASE_NAME, holder=node_id).update(
        expires_at=expires
    )
    if renewed:
        return True, None
    lease = SchedulerLease.objects.get(name=LEASE_NAME)
    free = not lease.holder or lease.expires_at is None or lease.expires_at < now
    # Conditional on the row we read, so two standbys cannot both take it.
    taken = free and SchedulerLease.objects.filter(
        name=LEASE_NAME, holder=lease.holder, expires_at=lease.expires_at
    ).update(
        holder=node_id,
        host=socket.gethostname(),
        pid=os.getpid(),
        acquired_at=now,
        expires_at=expires,
    )
    if not taken:
        return False, None
    if not lease.holder:
        return True, None
    SchedulerNode.objects.filter(node_id=lease.holder).update(is_leader=False)
    return True, Holder(lease.holder, lease.host, lease.pid)


def release(node_id: str) -> None:
    """Give the lease up at once, so a standby takes over without waiting for expiry."""
    SchedulerLease.objects.filter(name=LEASE_NAME, holder=node_id).update(
        holder="", expires_at=None
    )


def current() -> SchedulerLease | None:
    """The lease row if someone holds an unexpired lease."""
    lease = SchedulerLease.objects.filter(name=LEASE_NAME).first()
    if lease and lease.holder and lease.expires_at and lease.expires_at > timezone.now():
        return lease
    return None
