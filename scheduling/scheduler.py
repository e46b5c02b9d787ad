"""`TaskScheduler`: the seed's Python API, backed by the ORM.

Adding, pausing or editing a task here only writes the database; the
`runscheduler` process picks the change up within a few seconds. `start()` /
`stop()` run that same engine inside this process, for scripts and tests.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from scheduling import kwargs as task_kwargs
from scheduling import registry
from scheduling.audit import Actor
from scheduling.models import ExecutionStatus, ExecutionTrigger, Task, TaskExecution, TriggerType
from scheduling.services import delete_task, save_task

OPTION_NAMES = {
    "kwargs",
    "timezone",
    "description",
    "enabled",
    "misfire_grace_seconds",
    "allow_overlap",
    "max_retries",
    "retry_backoff_seconds",
    "retry_backoff_max_seconds",
    "timeout_seconds",
    "notify_on_failure",
    "notify_on_success",
    "notify_recipients",
}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def task_status(task: Task) -> dict[str, Any]:
    return {
        "name": task.name,
        "func": task.func,
        "trigger_type": task.trigger_type,
        "schedule": task.schedule,
        "timezone": task.timezone,
        "description": task.description,
        "enabled": task.enabled,
        "kwargs": task.kwargs,
        "last_run_at": task.last_run_at,
        "last_status": task.last_status or None,
        "last_duration_ms": task.last_duration_ms,
        "next_run_at": task.next_run_at,
        "run_count": task.run_count,
        "success_count": task.success_count,
        "failure_count": task.failure_count,
        "consecutive_failures": task.consecutive_failures,
    }


def execution_summary(execution: TaskExecution) -> dict[str, Any]:
    return {
        "id": execution.pk,
        "status": execution.status,
        "trigger": execution.trigger,
        "attempt": execution.attempt,
        "scheduled_for": execution.scheduled_for,
        "started_at": execution.started_at,
        "finished_at": execution.finished_at,
        "duration_ms": execution.duration_ms,
        "result": execution.result,
        "error": execution.error,
    }


class TaskScheduler:
    """The Python API. Changes are audited as made by `actor` (default: source "python")."""

    def __init__(self, actor: Actor | None = None) -> None:
        self.actor = actor or Actor()
        self._engine = None

    # --- creating -----------------------------------------------------------
    def _add(self, name: str, func: str | Callable[..., Any], fields: dict, options: dict) -> Task:
        unknown = set(options) - OPTION_NAMES
        if unknown:
            raise ValidationError(f"Unknown option(s): {', '.join(sorted(unknown))}")
        if Task.objects.filter(name=name).exists():
            raise ValidationError({"name": [f"name: a task named {name!r} already exists"]})
        try:
            stored_func = registry.storable_name(func)
        except ValidationError as exc:
            raise ValidationError({"func": exc.messages}) from None
        task = Task(name=name, func=stored_func, **fields, **options)
        save_task(task, actor=self.actor)
        return task

    def add_cron_task(
        self, name: str, func: str | Callable[..., Any], cron_expr: str, **options: Any
    ) -> Task:
        fields = {"trigger_type": TriggerType.CRON, "cron_expression": cron_expr}
        return self._add(name, func, fields, options)

    def add_interval_task(
        self, name: str, func: str | Callable[..., Any], seconds: int, **options: Any
    ) -> Task:
        if not isinstance(seconds, int) or isinstance(seconds, bool) or seconds <= 0:
            raise ValidationError(
                {"interval_seconds": [f"interval_seconds: {seconds!r} must be a positive integer"]}
            )
        fields = {"trigger_type": TriggerType.INTERVAL, "interval_seconds": seconds}
        return self._add(name, func, fields, options)

    def add_date_task(
        self, name: str, func: str | Callable[..., Any], run_date: datetime, **options: Any
    ) -> Task:
        fields = {"trigger_type": TriggerType.DATE, "run_at": run_date}
        return self._add(name, func, fields, options)

    # --- changing -----------------------------------------------------------
    def remove_task(self, name: str) -> None:
        delete_task(Task.objects.get(name=name), actor=self.actor)

    def pause_task(self, name: str) -> Task:
        return self._set_enabled(name, False)

    def resume_task(self, name: str) -> Task:
        return self._set_enabled(name, True)

    def _set_enabled(self, name: str, enabled: bool) -> Task:
        task = Task.objects.get(name=name)
        task.enabled = enabled
        save_task(task, actor=self.actor)
        return task

    def trigger_task_now(
        self, name: str, user: Any = None, kwargs: dict[str, Any] | None = None
    ) -> TaskExecution:
        """Queue a run; the scheduler process starts it within about a second."""
        task = Task.objects.get(name=name)
        if kwargs is not None:
            try:
                kwargs = task_kwargs.validate(kwargs)
            except ValidationError as exc:
                raise ValidationError({"kwargs": exc.messages}) from None
        with transaction.atomic():
            return TaskExecution.objects.create(
                task=task,
                trigger=ExecutionTrigger.MANUAL,
                status=ExecutionStatus.QUEUED,
                requested_by=user if getattr(user, "pk", None) else None,
                kwargs=kwargs,
                created_at=timezone.now(),
            )

    # --- reading ------------------------------------------------------------
    def get_task_status(self, name: str) -> dict[str, Any]:
        return task_status(Task.objects.get(name=name))

    def get_all_tasks(self) -> list[dict[str, Any]]:
        return [task_status(task) for task in Task.objects.order_by("name")]

    def get_task_history(self, name: str, limit: int = 50) -> list[dict[str, Any]]:
        task = Task.objects.get(name=name)
        executions = TaskExecution.objects.filter(task=task).order_by("-id")[:limit]
        return [execution_summary(e) for e in executions]

    # --- in-process engine --------------------------------------------------
    def start(self) -> None:
        from scheduling.engine.loop import Engine

        if self._engine is None:
            self._engine = Engine()
            self._engine.start_in_thread()

    def stop(self) -> None:
        if self._engine is not None:
            self._engine.stop()
            self._engine = None
