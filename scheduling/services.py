"""Validating, saving and deleting tasks: the one place the rules and the audit trail live.

The Python API, the web pages, the admin and the registry sync all call
`save_task` / `delete_task`, so a task one of them accepts, all of them
accept, and every change any of them makes writes its AuditLog row.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError
from django.utils import timezone

from scheduling import audit, bounds, chains, cron, triggers
from scheduling.audit import Actor
from scheduling.models import Task, TriggerType

# Timestamps Django sets itself; full_clean has nothing to check there.
_NOT_VALIDATED = ["created_at", "updated_at"]


def validate_task(task: Task) -> None:
    """`Task.clean`: a name that is no page of its own, a valid schedule, a queue with a broker."""
    errors: dict[str, list[str]] = {}
    if task.name in bounds.RESERVED_NAMES:
        errors["name"] = [f"name: {task.name!r} is reserved (it is the address of another page)"]
    if task.queue and not settings.CELERY_BROKER_URL:
        errors["queue"] = [queue_without_broker(task.queue)]
    try:
        validate_schedule(task)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)


def queue_without_broker(queue: str) -> str:
    shown = queue if len(queue) <= 100 else f"{queue[:100]}..."
    return (
        f"queue: {shown!r} needs a Celery broker, and CELERY_BROKER_URL is not set; "
        "leave the queue blank to run in the scheduler process"
    )


def validate_schedule(task: Task, *, now: datetime | None = None) -> None:
    """Raise ValidationError (keyed by field) unless the task's trigger fields are valid.

    Only an `after` task keeps an upstream: another trigger clears it, so a
    task that no longer runs after one never blocks that one's deletion.
    """
    errors: dict[str, list[str]] = {}
    if task.trigger_type != TriggerType.AFTER:
        task.after_task = None
    try:
        cron.validate_timezone(task.timezone)
    except ValidationError as exc:
        errors["timezone"] = exc.messages
    if task.trigger_type == TriggerType.CRON:
        try:
            task.cron_expression = cron.validate(task.cron_expression)
        except ValidationError as exc:
            errors["cron_expression"] = exc.messages
    elif task.trigger_type == TriggerType.INTERVAL:
        if not task.interval_seconds or task.interval_seconds <= 0:
            errors["interval_seconds"] = [
                f"interval_seconds: {task.interval_seconds!r} must be a positive number of seconds"
            ]
    elif task.trigger_type == TriggerType.DATE:
        if task.run_at is None or timezone.is_naive(task.run_at):
            errors["run_at"] = ["run_at: a timezone-aware date and time is required"]
        elif task.run_at <= (now or timezone.now()) and task.enabled:
            errors["run_at"] = [f"run_at: {task.run_at.isoformat()} is in the past"]
    elif task.trigger_type == TriggerType.AFTER:
        found = chains.problems(task)
        if found:
            errors["after_task"] = found
    else:
        errors["trigger_type"] = [
            f"trigger_type: {task.trigger_type!r} is not cron, interval, date or after"
        ]
    if errors:
        raise ValidationError(errors)


def refresh_next_run(task: Task, *, now: datetime | None = None) -> None:
    """Set `next_run_at` from the schedule (None while disabled or finished)."""
    if not task.enabled:
        task.next_run_at = None
        return
    try:
        task.next_run_at = triggers.next_run_after(task, now or timezone.now())
    except ValidationError:
        task.next_run_at = None


def _action(creating: bool, changed: list[str], task: Task) -> str:
    if creating:
        return audit.CREATED
    if changed == ["enabled"]:
        return audit.ENABLED if task.enabled else audit.DISABLED
    return audit.CONFIGURED


def _changed(before: dict, after: dict) -> list[str]:
    return [name for name in after if name not in before or before[name] != after[name]]


def save_task(task: Task, *, actor: Actor | None = None) -> list[str]:
    """Validate, compute `next_run_at`, save what changed and audit it; returns the changed fields.

    Every field is validated (ranges, registered `func`, kwargs rules), except
    when the only change is pausing: pausing is how someone stops a task whose
    stored values no longer validate, so it is always allowed. Only the changed
    fields are written, so a save never rewrites a value it did not change.
    Nothing changed: nothing is written and no AuditLog row appears.
    """
    creating = task._state.adding
    before = {} if creating else audit.snapshot(Task.objects.get(pk=task.pk))
    changed = _changed(before, audit.snapshot(task))
    validated = bool(changed) and (creating or changed != ["enabled"] or task.enabled)
    if validated:
        task.created_at = task.created_at or timezone.now()  # interval phase anchors on it
        task.full_clean(exclude=_NOT_VALIDATED)
        changed = _changed(before, audit.snapshot(task))  # cleaning tidies "0  3 * * *"
    if not (creating or changed):
        return []
    refresh_next_run(task)
    try:
        with transaction.atomic():
            if validated and task.trigger_type == TriggerType.AFTER:
                chains.lock_for_edit(task)
            task.save(update_fields=None if creating else [*changed, "next_run_at", "updated_at"])
            details = audit.changes(before, audit.snapshot(task))
            audit.write(actor or Actor(), _action(creating, changed, task), task.name, details)
    except IntegrityError as exc:
        raise _refused_by_database(task, creating, exc) from exc
    return changed


def _refused_by_database(task: Task, creating: bool, exc: IntegrityError) -> ValidationError:
    """A clear error for a save the database refused: a name race, or a row it now refuses."""
    if creating:
        return ValidationError({"name": [f"name: a task named {task.name!r} already exists"]})
    problems = bounds.stored_problems(Task.objects.get(pk=task.pk))
    return ValidationError(
        f"The database refused the change ({exc}). The stored task holds values no form "
        f"accepts ({'; '.join(problems) or 'see the admin'}): correct every field in the admin."
    )


def delete_task(task: Task, *, actor: Actor | None = None) -> None:
    """Delete a task (and its history) with an AuditLog row holding what it was.

    Refused with a ValidationError naming them while tasks run after it: the
    database's PROTECT is the guarantee, this is the message.
    """
    try:
        with transaction.atomic():
            # Locked first, so a save that makes a task run after this one
            # either lands before the check below or waits and is refused.
            Task.objects.select_for_update().filter(pk=task.pk).exists()
            refusal = chains.deletion_refusal(task)
            if refusal:
                raise ValidationError(refusal, code="protected")
            audit.write(actor or Actor(), audit.DELETED, task.name, {"old": audit.snapshot(task)})
            task.delete()
    except (ProtectedError, IntegrityError):
        raise ValidationError(
            chains.deletion_refusal(task) or f"{task.name} cannot be deleted now; try again",
            code="protected",
        ) from None
