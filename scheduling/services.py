"""Validating and saving task schedules: the one place the rules live.

The Python API, the web form, the admin and the registry sync all call
`apply_schedule`, so a schedule that one of them accepts, all of them accept.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone

from scheduling import cron, triggers
from scheduling.models import Task, TriggerType


def parse_schedule_text(schedule: str) -> dict[str, Any]:
    """A registry schedule (`"0 3 * * *"`, `"@daily"`, `"every 60"`) as Task fields."""
    text = schedule.strip()
    if text.lower().startswith("every "):
        return {"trigger_type": TriggerType.INTERVAL, "interval_seconds": int(text.split()[1])}
    return {"trigger_type": TriggerType.CRON, "cron_expression": text}


def validate_schedule(task: Task, *, now: datetime | None = None) -> None:
    """Raise ValidationError (keyed by field) unless the task's trigger fields are valid."""
    errors: dict[str, list[str]] = {}
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
    else:
        errors["trigger_type"] = [
            f"trigger_type: {task.trigger_type!r} is not cron, interval or date"
        ]
    if not isinstance(task.kwargs, dict):
        errors["kwargs"] = ["kwargs: must be a JSON object (a dict of keyword arguments)"]
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


def save_task(task: Task) -> Task:
    """Validate, compute `next_run_at` and save."""
    if task.created_at is None:
        task.created_at = timezone.now()  # interval phase anchors on it
    validate_schedule(task)
    refresh_next_run(task)
    task.save()
    return task
