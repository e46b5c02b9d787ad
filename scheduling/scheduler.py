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
from django.core.validators import validate_slug
from django.db import transaction
from django.utils import timezone

from scheduling import kwargs as task_kwargs
from scheduling import registry
from scheduling.audit import Actor
from scheduling.models import (
    NOTIFY_FIELDS,
    POLICY_FIELDS,
    AfterStatus,
    ExecutionStatus,
    ExecutionTrigger,
    Task,
    TaskExecution,
    TriggerType,
)
from scheduling.services import delete_task, save_task

OPTION_NAMES = {
    "kwargs",
    "timezone",
    "description",
    "enabled",
    "queue",
    *POLICY_FIELDS,
    *NOTIFY_FIELDS,
}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def task_status(task: Task) -> dict[str, Any]:
    """The task as the Python API, `listtasks --json` and the status API show it.

    Load many tasks with `select_related("after_task")`: a chained task names its upstream.
    """
    chained = task.trigger_type == TriggerType.AFTER and task.after_task_id is not None
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
        "after_task": task.after_task.name if chained else None,
        "after_status": task.after_status if chained else None,
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
        "parent_id": execution.parent_id,
    }


def _upstream(after: Any) -> Task:
    """The task `after` names (a name or a saved Task); ValidationError for anything else."""
    if isinstance(after, Task) and after.pk is not None:
        return after
    found = None
    if isinstance(after, str) and len(after) <= 100:
        try:
            validate_slug(after)  # also keeps lone surrogates away from the database driver
            found = Task.objects.filter(name=after).first()
        except ValidationError:
            pass
    if found is None:
        shown = repr(after) if len(repr(after)) <= 120 else f"{repr(after)[:120]}..."
        raise ValidationError(
            {"after_task": [f"after_task: there is no task {shown} to run after"]}
        )
    return found


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

    def add_after_task(
        self,
        name: str,
        func: str | Callable[..., Any],
        after: str | Task,
        on: str = AfterStatus.SUCCESS,
        **options: Any,
    ) -> Task:
        """A task with no schedule of its own: it runs each time `after` finishes as `on` says.

        `on`: "success", "failure" (failed or abandoned) or "any". A loop
        (a after b after a) raises ValidationError naming it.
        """
        if on not in AfterStatus.values:
            raise ValidationError(
                {"after_status": [f"after_status: {on!r} is not one of success, failure, any"]}
            )
        fields = {
            "trigger_type": TriggerType.AFTER,
            "after_task": _upstream(after),
            "after_status": on,
        }
        return self._add(name, func, fields, options)

    # --- changing -----------------------------------------------------------
    def remove_task(self, name: str) -> None:
        """Delete the task; ValidationError naming them while tasks run after it."""
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
        tasks = Task.objects.select_related("after_task").order_by("name")
        return [task_status(task) for task in tasks]

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
