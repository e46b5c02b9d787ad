"""Default tasks from the registry become Task rows, once.

A row that exists is never updated: someone may have edited its schedule,
kwargs or enabled flag, and a deploy must not undo that.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from scheduling import registry
from scheduling.audit import Actor
from scheduling.models import Task
from scheduling.services import save_task


def sync_default_tasks(
    actor: Actor | None = None,
) -> tuple[list[str], list[str], dict[str, str]]:
    """Create missing tasks; returns (created names, kept names, refused name -> why).

    Functions registered with `schedule=None` have no default task and are
    skipped. A default the rules refuse (a `queue` while CELERY_BROKER_URL is
    unset) is left out and reported, so the others are still created.
    """
    existing = set(Task.objects.values_list("name", flat=True))
    created, kept, refused = [], [], {}
    for name, entry in sorted(registry.registered().items()):
        if entry.schedule is None:
            continue
        if name in existing:
            kept.append(name)
            continue
        task = Task(
            name=name,
            func=name,
            description=entry.description,
            kwargs=entry.kwargs,
            queue=entry.queue,
            **registry.parse_schedule_text(entry.schedule),
        )
        try:
            with transaction.atomic():
                save_task(task, actor=actor)
        except (IntegrityError, ValidationError) as exc:
            if Task.objects.filter(name=name).exists():
                kept.append(name)  # created concurrently by another process
            elif isinstance(exc, ValidationError):
                refused[name] = "; ".join(exc.messages)
            else:
                raise
            continue
        created.append(name)
    return created, kept, refused
