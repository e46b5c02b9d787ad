"""JSON endpoints: the status of every task, and the cron preview for the form.

`/api/tasks/status/` answers in a fixed number of queries (the task rows, one
GROUP BY over the last 7 days, the heartbeat), so polling it every few
seconds from every open /tasks/ page stays cheap however long the history.
Users without `scheduling.view_task` get the same document without the
details keys (`func`, `kwargs`, the scheduler's `host`, `pid`, `leader`):
the keys are left out, not set to null.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import HttpRequest, JsonResponse
from django.urls import reverse
from django.utils import timezone

from scheduling import access, cron, display, stats
from scheduling.access import signed_in
from scheduling.engine import heartbeat
from scheduling.models import Task
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


@signed_in
def task_status_api(request: HttpRequest) -> JsonResponse:
    details = access.sees_details(request.user)
    tasks = list(Task.objects.order_by("name"))
    weekly = stats.weekly_counts()
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
