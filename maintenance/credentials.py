"""Credential hygiene: switch off credentials nobody has used for months."""

from __future__ import annotations

import calendar
import logging
from datetime import datetime

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from chirpsyncer.models import AuditLog, Credential
from scheduling import progress

logger = logging.getLogger(__name__)

ACTION = "credential.deactivated"
BATCH_SIZE = 1000


def months_before(moment: datetime, months: int) -> datetime:
    """The same wall-clock time `months` calendar months earlier, in TIME_ZONE.

    The day is clamped to the target month's length: six months before
    31 August is 28 (or 29) February, not 3 March.
    """
    if months < 0:
        raise ValueError(f"months must be zero or more, got {months}")
    local = timezone.localtime(moment)
    year, month_index = divmod(local.year * 12 + local.month - 1 - months, 12)
    day = min(local.day, calendar.monthrange(year, month_index + 1)[1])
    return local.replace(year=year, month=month_index + 1, day=day)


def inactive_credentials(cutoff: datetime) -> QuerySet[Credential]:
    """Active credentials last used before `cutoff`, or never used and created before it."""
    unused_since = Q(last_used_at__lt=cutoff)
    never_used = Q(last_used_at__isnull=True, created_at__lt=cutoff)
    return Credential.objects.filter(unused_since | never_used, is_active=True)


def _deactivate_batch(cutoff: datetime, months: int, now: datetime, after_pk: int) -> list[int]:
    """Deactivate up to BATCH_SIZE credentials past `after_pk` and log each, in one transaction.

    Walking the primary key (instead of re-querying from the start) keeps each
    batch's scan short: the rows already switched off are never read again.
    """
    with transaction.atomic():
        batch = list(
            inactive_credentials(cutoff)
            .filter(pk__gt=after_pk)
            .select_for_update()
            .order_by("pk")
            .only("pk", "user_id", "platform", "label", "last_used_at", "created_at")[:BATCH_SIZE]
        )
        if batch:
            Credential.objects.filter(pk__in=[c.pk for c in batch]).update(is_active=False)
            AuditLog.objects.bulk_create([_audit_entry(c, cutoff, months, now) for c in batch])
    return [c.pk for c in batch]


def _audit_entry(credential: Credential, cutoff: datetime, months: int, now: datetime) -> AuditLog:
    last_used = credential.last_used_at.isoformat() if credential.last_used_at else None
    return AuditLog(
        user_id=credential.user_id,
        action=ACTION,
        resource_type="credential",
        resource_id=str(credential.pk),
        success=True,
        created_at=now,
        details={
            "platform": credential.platform,
            "label": credential.label,
            "last_used_at": last_used,
            "inactive_months": months,
            "cutoff": cutoff.isoformat(),
        },
    )


def deactivate_inactive_credentials(months: int) -> dict:
    """Mark credentials unused for `months` calendar months inactive, with one audit row each."""
    now = timezone.now()
    cutoff = months_before(now, months)
    deactivated = last_pk = 0
    while pks := _deactivate_batch(cutoff, months, now, last_pk):
        deactivated, last_pk = deactivated + len(pks), pks[-1]
        progress.advance(len(pks), "credentials deactivated")
        logger.info("Deactivated %d inactive credentials so far", deactivated)
    logger.info("Deactivated %d credentials unused since %s", deactivated, cutoff.isoformat())
    return {"deactivated": deactivated, "audit_logs": deactivated, "cutoff": cutoff.isoformat()}
