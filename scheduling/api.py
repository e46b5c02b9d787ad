"""JSON endpoints: the status of tasks, one run's live view, and the cron preview.

`/api/tasks/status/` (all tasks, or `?task=NAME` for the task page) and a
run's `/log/` answer in a fixed number of queries (the task rows with their
upstream, one GROUP BY over the last 7 days, the heartbeat; the run with its
chain runs), so polling them every few seconds from every open page stays
cheap however long the history. Users without `scheduling.view_task` get the
same documents without the details keys (`func`, `kwargs`, the scheduler's
`host`, `pid`, `leader`; a run's `log`, `result`, `error`): the keys are left
out, not set to null.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_slug
from django.http import HttpRequest, JsonResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone

from scheduling import access, chains, cron, display, jsontext, stats
from scheduling.access import signed_in
from scheduling.engine import heartbeat
from scheduling.models import Task, TaskExecution
from scheduling.scheduler import task_status

PREVIEW_RUNS = 5


def task_json(
    task: Task, weekly: stats.WeeklyCounts, tasks_url: str, *, details: bool
) -> dict[str, Any]:
    """One task as the status API shows it: the Python API's fields plus recent figures.

    Without `details`, the keys only `scheduling.view_task` may see are left out.
    """
    data = task_status(task)
    if not details:
        data = access.without(data, access.TASK_DETAIL_KEYS)
    data.update(
        {
            "url": f"{tasks_url}{task.name}/",  # as get_absolute_url, without 100 reverse()
            "after_task_url": f"{tasks_url}{data['after_task']}/" if data["after_task"] else None,
            "schedule_description": display.describe_schedule(task),
            "next_run_local": display.local_time(task.next_run_at, task.timezone),
            "running": weekly.running > 0,
            "success_rate": task.success_rate,
            "last_7_days": {
                "runs": weekly.total,
                "success": weekly.success,
                "failed": weekly.failed,
                "success_rate": weekly.success_rate,
            },
        }
    )
    return data


def _is_task_name(value: str) -> bool:
    try:
        validate_slug(value)
    except ValidationError:
        return False
    return len(value) <= 100


@signed_in
def task_status_api(request: HttpRequest) -> JsonResponse:
    """Every task, or `?task=NAME` only (the task page polls it): the same queries either way."""
    details = access.sees_details(request.user)
    tasks = Task.objects.select_related("after_task").order_by("name")
    only = request.GET.get("task")
    if only is not None:
        tasks = tasks.filter(name=only) if _is_task_name(only) else tasks.none()
    tasks = list(tasks)
    weekly = stats.weekly_counts(None if only is None else [task.pk for task in tasks])
    tasks_url = reverse("scheduling:task-list")
    scheduler = heartbeat.current_state()
    return JsonResponse(
        {
            "generated_at": timezone.now(),
            "scheduler": scheduler
            if details
            else access.without(scheduler, access.SCHEDULER_DETAIL_KEYS),
            "tasks": [
                task_json(
                    task, weekly.get(task.pk, stats.WeeklyCounts()), tasks_url, details=details
                )
                for task in tasks
            ],
        }
    )


@signed_in
def cron_preview(request: HttpRequest) -> JsonResponse:
    """?expression=&timezone= -> {valid, description, next_runs, error} for the live form."""
    expression = request.GET.get("expression", "")
    zone_name = request.GET.get("timezone") or settings.TIME_ZONE
    try:
        zone = cron.validate_timezone(zone_name)
        text = cron.validate(expression)
        runs = cron.next_fire_times(text, zone, PREVIEW_RUNS)
    except ValidationError as exc:
        return JsonResponse(
            {"valid": False, "description": "", "next_runs": [], "error": "; ".join(exc.messages)}
        )
    return JsonResponse(
        {
            "valid": True,
            "expression": text,
            "timezone": zone_name,
            "description": cron.describe(text),
            "next_runs": [moment.isoformat() for moment in runs],
            "next_runs_display": [f"{moment:%a %Y-%m-%d %H:%M %Z}" for moment in runs],
            "error": None,
        }
    )


def _stamp(moment: datetime | None) -> str:
    """As the run page prints it ("Y-m-d H:i:s T" in the current time zone)."""
    return "" if moment is None else f"{timezone.localtime(moment):%Y-%m-%d %H:%M:%S %Z}"


@signed_in
def execution_log(request: HttpRequest, name: str, pk: int) -> JsonResponse:
    """One run as its page shows it, for the page to follow while the run is in progress.

    Its status, times and the chain runs it started for everyone signed in;
    its log, result and error only with `scheduling.view_task`.
    """
    execution = get_object_or_404(
        TaskExecution.objects.select_related("task"), task__name=name, pk=pk
    )
    tasks_url = reverse("scheduling:task-list")
    data = {
        "id": execution.pk,
        "status": execution.status,
        "status_label": execution.get_status_display(),
        "finished": execution.is_finished,
        "started": _stamp(execution.started_at),
        "finished_at": _stamp(execution.finished_at),
        "duration": display.format_duration(execution.duration_ms),
        "children": [
            {
                "id": child.pk,
                "task": child.task.name,
                "status": child.status,
                "url": f"{tasks_url}{child.task.name}/executions/{child.pk}/",
            }
            for child in chains.children(execution)
        ],
    }
    if access.sees_details(request.user):
        data.update(
            log=execution.log,
            result=jsontext.display(execution.result),
            error=execution.error,
            host=f"{execution.host} / {execution.pid}" if execution.pid else execution.host,
        )
    return JsonResponse(data)
