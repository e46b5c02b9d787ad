"""Start-up checks for scheduler settings that cannot work (`manage.py check`, `runscheduler`)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, Warning, register

from scheduling import bounds


@register()
def check_scheduler_settings(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    errors = []
    lease, beat = settings.SCHEDULER_LEASE_SECONDS, settings.SCHEDULER_HEARTBEAT_SECONDS
    if lease <= beat:
        errors.append(
            Error(
                f"SCHEDULER_LEASE_SECONDS ({lease:g}) must be greater than "
                f"SCHEDULER_HEARTBEAT_SECONDS ({beat:g}).",
                hint="The leader renews its lease once per heartbeat: a shorter lease lapses "
                "between renewals and leadership passes back and forth.",
                id="scheduling.E001",
            )
        )
    problem = bounds.number_problem(
        "misfire_grace_seconds", settings.SCHEDULER_MISFIRE_GRACE_SECONDS
    )
    if problem:
        errors.append(
            Error(
                f"SCHEDULER_MISFIRE_GRACE_SECONDS: {problem}",
                hint="It is the default misfire grace of new tasks, so it must be a valid one.",
                id="scheduling.E002",
            )
        )
    resend, grace = settings.WORKER_RESEND_SECONDS, settings.SCHEDULER_MISFIRE_GRACE_SECONDS
    if settings.CELERY_BROKER_URL and resend >= grace:
        errors.append(
            Warning(
                f"WORKER_RESEND_SECONDS ({resend}) is not below SCHEDULER_MISFIRE_GRACE_SECONDS "
                f"({grace}).",
                hint="A run whose message the broker lost is re-sent after WORKER_RESEND_SECONDS; "
                "by then it is past its misfire grace and is skipped instead.",
                id="scheduling.W001",
            )
        )
    return errors
