"""Who receives which mail.

Alerts go to active staff with an email address plus `ADMINS`; unless
`NOTIFY_ADMINS_ONLY` is on, also to the task's own `notify_recipients`.
Addresses are lower-cased and de-duplicated so the per-recipient rate limit
counts one person once.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from email.utils import getaddresses

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from scheduling.models import Task

logger = logging.getLogger(__name__)


def parse_addresses(value: str | Iterable[str] | None) -> list[str]:
    """Addresses from `a@x, B <b@x>` text (commas or newlines) or a list; invalid ones dropped."""
    if not value:
        return []
    parts = value.replace("\n", ",").split(",") if isinstance(value, str) else list(value)
    addresses = []
    for _name, address in getaddresses([p.strip() for p in parts if p and p.strip()]):
        try:
            validate_email(address)
        except ValidationError:
            logger.warning("Ignoring invalid email address %r", address)
            continue
        addresses.append(address)
    return unique(addresses)


def unique(addresses: Iterable[str]) -> list[str]:
    """Lower-cased, de-duplicated, in first-seen order."""
    return list(dict.fromkeys(a.strip().lower() for a in addresses if a and a.strip()))


def staff_and_admins() -> list[str]:
    """Active staff users with an email address, then settings.ADMINS."""
    staff = (
        get_user_model()
        .objects.filter(is_active=True, is_staff=True)
        .exclude(email="")
        .order_by("pk")
        .values_list("email", flat=True)
    )
    return unique([*staff, *(address for _name, address in settings.ADMINS)])


def for_task(task: Task) -> list[str]:
    """Recipients of a task's alerts, honouring NOTIFY_ADMINS_ONLY."""
    addresses = staff_and_admins()
    if not settings.NOTIFY_ADMINS_ONLY:
        addresses += parse_addresses(task.notify_recipients)
    return unique(addresses)
