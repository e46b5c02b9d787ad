"""Default tasks from the registry become Task rows, once.

A row that exists is never updated: someone may have edited its schedule,
kwargs or enabled flag, and a deploy must not undo that.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction

from scheduling import registry
from scheduling.models import Task
from scheduling.services import parse_schedule_text, save_task


def sync_default_tasks() -> tuple[list[str], list[str]]:
    """Create missing tasks; returns (created names, kept names)."""
    existing = set(Task.objects.values_list("name", flat=True))
    created, kept = [], []
    for name, entry in sorted(registry.registered().items()):
        if name in existing:
            kept.append(name)
            continue
        task = Task(
            name=name,
            func=name,
            description=entry.description,
            kwargs=entry.kwargs,
            **parse_schedule_text(entry.schedule),
        )
        try:
            with transaction.atomic():
                save_task(task)
        except IntegrityError:
            kept.append(name)  # created concurrently by another process
            continue
        created.append(name)
    return created, kept
