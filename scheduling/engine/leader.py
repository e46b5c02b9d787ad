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
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from scheduling.models import SchedulerLease

LEASE_NAME = "leader"


def _ensure_row() -> None:
    if not SchedulerLease.objects.filter(name=LEASE_NAME).exists():
        try:
            with transaction.atomic():
                SchedulerLease.objects.create(name=LEASE_NAME)
        except IntegrityError:
            pass  # another process created it first


def try_acquire(node_id: str, lease_seconds: float, now: datetime | None = None) -> bool:
    """Take or renew the lease; True if `node_id` holds it afterwards."""
    now = now or timezone.now()
    _ensure_row()
    expires = now + timedelta(seconds=lease_seconds)
    renewed = SchedulerLease.objects.filter(name=LEASE_NAME, holder=node_id).update(
        expires_at=expires
    )
    if renewed:
        return True
    taken = (
        SchedulerLease.objects.filter(name=LEASE_NAME)
        .filter(Q(holder="") | Q(expires_at__isnull=True) | Q(expires_at__lt=now))
        .update(
            holder=node_id,
            host=socket.gethostname(),
            pid=os.getpid(),
            acquired_at=now,
            expires_at=expires,
        )
    )
    return bool(taken)


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
