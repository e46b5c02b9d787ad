"""The task pages (list, detail, one execution) and the staff actions on them.

Every page runs a fixed number of queries whatever the size of the history:
counters come from the `Task` row, recent figures from `scheduling.stats`,
history pages from `scheduling.history` (keyset, no COUNT). The actions
(create, trigger, toggle, configure, delete) go through `TaskScheduler` /
`services.save_task` / `services.delete_task` so the rules are the ones the
admin and the Python API use, and each one writes an AuditLog row.

What a run's details are (kwargs, func, result, error, host/pid, requester)
is decided in `scheduling.access`; the views pass `sees_details` to the
templates and never put the details in a context that will not show them.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from scheduling import access, audit, chains, charts, history, services, stats, triggers
from scheduling.access import permission, signed_in, wants_json
from scheduling.audit import Actor
from scheduling.engine import heartbeat
from scheduling.forms import TaskCreateForm, TaskScheduleForm, add_model_errors
from scheduling.models import ExecutionStatus, Task, TaskExecution
from scheduling.scheduler import TaskScheduler, execution_summary, task_status

NEVER_RUN = "never"
ENABLED_FILTERS = {"yes": True, "no": False}


# --- pages --------------------------------------------------------------------
def _filtered_tasks(params: Any) -> tuple[Any, dict[str, str]]:
    """Tasks matching ?status= (last status, or "never") and ?enabled=yes|no."""
    tasks = Task.objects.select_related("after_task").order_by("name")
    status = params.get("status", "")
    if status == NEVER_RUN:
        tasks = tasks.filter(last_status="")
    elif status in ExecutionStatus.values:
        tasks = tasks.filter(last_status=status)
    else:
        status = ""
    enabled = params.get("enabled", "")
    if enabled in ENABLED_FILTERS:
        tasks = tasks.filter(enabled=ENABLED_FILTERS[enabled])
    else:
        enabled = ""
    return tasks, {"status": status, "enabled": enabled}


@signed_in
def task_list(request: HttpRequest) -> HttpResponse:
    tasks, filters = _filtered_tasks(request.GET)
    tasks = list(tasks)
    figures = stats.for_tasks(tasks)
    for task in tasks:
        task.stats = figures[task.pk]
    context = {
        "tasks": tasks,
        # Row links are built from this prefix: 200 reverse() calls cost more than the queries.
        "tasks_url": reverse("scheduling:task-list"),
        "filters": filters,
        "status_choices": [*ExecutionStatus.choices, (NEVER_RUN, "Never run")],
        "scheduler": heartbeat.current_state(),
        "can_run": request.user.has_perm("scheduling.run_task"),
        "can_add": request.user.has_perm("scheduling.add_task"),
        "sees_details": access.sees_details(request.user),
    }
    return render(request, "scheduling/task_list.html", context)


def _detail_context(request: HttpRequest, task: Task, form: TaskScheduleForm | None) -> dict:
    status = history.clean_status(request.GET.get("status"))
    page = history.page(
        task, status=status, before=request.GET.get("before"), after=request.GET.get("after")
    )
    try:
        upcoming = triggers.upcoming(task, 5)
    except ValidationError:
        upcoming = []
    can_change = request.user.has_perm("scheduling.change_task")
    if form is None and can_change:
        form = TaskScheduleForm(instance=task)
    if form is not None:  # its select reads every other task: those after this one are there
        downstream = [t for t in form.offered_tasks() if t.after_task_id == task.pk]
    else:
        downstream = list(task.downstream.order_by("name"))
    return {
        "task": task,
        # The charts show the recent runs: no sparkline query on this page.
        "stats": stats.for_tasks([task], sparklines=False)[task.pk],
        "charts": charts.for_task(task),
        "page": page,
        "status_filter": status,
        "status_choices": ExecutionStatus.choices,
        "upcoming": upcoming,
        "form": form,
        "can_run": request.user.has_perm("scheduling.run_task"),
        "can_change": can_change,
        "can_delete": request.user.has_perm("scheduling.delete_task"),
        "sees_details": access.sees_details(request.user),
        "scheduler": heartbeat.current_state(),
        "downstream": downstream,
    }


def _render_detail(
    request: HttpRequest, task: Task, form: TaskScheduleForm | None = None, status: int = 200
) -> HttpResponse:
    if request.htmx and request.htmx.target == "history":
        # The page polls its history while a run is queued or running.
        status_filter = history.clean_status(request.GET.get("status"))
        context = {
            "task": task,
            "page": history.page(task, status=status_filter, before=request.GET.get("before")),
            "status_filter": status_filter,
            "sees_details": access.sees_details(request.user),
        }
        return render(request, "scheduling/_history.html", context)
    context = _detail_context(request, task, form)
    return render(request, "scheduling/task_detail.html", context, status=status)


def _task(name: str) -> Task:
    return get_object_or_404(Task.objects.select_related("after_task"), name=name)


@signed_in
def task_detail(request: HttpRequest, name: str) -> HttpResponse:
    return _render_detail(request, _task(name))


@signed_in
def execution_detail(request: HttpRequest, name: str, pk: int) -> HttpResponse:
    execution = get_object_or_404(
        TaskExecution.objects.select_related("task", "requested_by", "parent__task"),
        task__name=name,
        pk=pk,
    )
    context = {
        "execution": execution,
        "task": execution.task,
        "children": chains.children(execution),
        "sees_details": False,
        "task_log_level": settings.TASK_LOG_LEVEL,
    }
    if access.sees_details(request.user):
        context.update(
            sees_details=True,
            result_json=_pretty_json(execution.result),
            kwargs_json=_pretty_json(execution.kwargs),
        )
    return render(request, "scheduling/execution_detail.html", context)


def _pretty_json(value: Any) -> str:
    if value is None:
        return ""
    return json.dumps(value, indent=2, sort_keys=True, cls=DjangoJSONEncoder, ensure_ascii=False)


# --- actions --------------------------------------------------------------------
def _back(request: HttpRequest, task: Task) -> str:
    """Where to return after an action: a safe ?next= (the page it came from) or the task."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return task.get_absolute_url()


def _action_json(
    request: HttpRequest, task: Task, message: str, execution: TaskExecution | None
) -> dict[str, Any]:
    """The JSON answer to an action; `run_task` alone does not show a run's details."""
    details = access.sees_details(request.user)
    data = task_status(task)
    body = {"ok": True, "message": message}
    body["task"] = data if details else access.without(data, access.TASK_DETAIL_KEYS)
    if execution is not None:
        summary = {**execution_summary(execution), "url": execution.get_absolute_url()}
        body["execution"] = (
            summary if details else access.without(summary, access.EXECUTION_DETAIL_KEYS)
        )
    return body


def _done(
    request: HttpRequest, task: Task, message: str, execution: TaskExecution | None = None
) -> HttpResponse:
    if wants_json(request):
        return JsonResponse(_action_json(request, task, message, execution))
    messages.success(request, message)
    return redirect(_back(request, task))


def _refused(request: HttpRequest, task: Task, errors: dict[str, list[str]]) -> HttpResponse:
    if wants_json(request):
        return JsonResponse({"ok": False, "errors": errors}, status=400)
    for field_errors in errors.values():
        for error in field_errors:
            messages.error(request, error)
    return redirect(_back(request, task))


def _waiting_note() -> str:
    state = heartbeat.current_state()["state"]
    if state == heartbeat.RUNNING:
        return ""
    return " No scheduler is running, so it waits in the queue until one starts."


@permission("scheduling.run_task")
@require_POST
def task_trigger(request: HttpRequest, name: str) -> HttpResponse:
    task = get_object_or_404(Task, name=name)
    execution = TaskScheduler().trigger_task_now(task.name, user=request.user)
    audit.record(request, audit.TRIGGERED, task, {"execution_id": execution.pk})
    message = f"Queued a run of {task.name} (#{execution.pk}).{_waiting_note()}"
    return _done(request, task, message, execution)


def _wanted_enabled(request: HttpRequest, task: Task) -> bool:
    """An explicit ?enabled=1/0 (idempotent, for scripts), or the opposite of now."""
    value = request.POST.get("enabled")
    if value is None:
        return not task.enabled
    return value.lower() in {"1", "true", "yes", "on"}


@permission("scheduling.change_task")
@require_POST
def task_toggle(request: HttpRequest, name: str) -> HttpResponse:
    task = get_object_or_404(Task, name=name)
    wanted = _wanted_enabled(request, task)
    try:
        scheduler = TaskScheduler(Actor.from_request(request))
        task = scheduler.resume_task(task.name) if wanted else scheduler.pause_task(task.name)
    except ValidationError as exc:
        errors = exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages}
        return _refused(request, task, errors)
    return _done(request, task, f"{task.name} is {'enabled' if task.enabled else 'paused'}.")


@permission("scheduling.add_task")
def task_create(request: HttpRequest) -> HttpResponse:
    """`/tasks/new/`: a task from a registered function, saved and audited like any other."""
    if request.method != "POST":
        form = TaskCreateForm(initial={"func": request.GET.get("func", "")})
        return render(request, "scheduling/task_create.html", {"form": form})
    form = TaskCreateForm(request.POST)
    if form.is_valid():
        try:
            services.save_task(form.instance, actor=Actor.from_request(request))
        except ValidationError as exc:
            add_model_errors(form, exc)
    if not form.is_valid():
        if wants_json(request):
            return JsonResponse({"ok": False, "errors": form.errors.get_json_data()}, status=400)
        return render(request, "scheduling/task_create.html", {"form": form}, status=400)
    return _done(request, form.instance, f"Created {form.instance.name}.")


@permission("scheduling.delete_task")
def task_delete(request: HttpRequest, name: str) -> HttpResponse:
    """Delete after a confirmation page; refused (naming them) while tasks run after it."""
    task = _task(name)
    refusal = chains.deletion_refusal(task)
    if request.method == "POST" and refusal is None:
        try:
            services.delete_task(task, actor=Actor.from_request(request))
        except ValidationError as exc:
            refusal = " ".join(exc.messages)
        else:
            message = f"Deleted {task.name} and its history."
            if wants_json(request):
                return JsonResponse({"ok": True, "message": message})
            messages.success(request, message)
            return redirect("scheduling:task-list")
    status = 409 if refusal and request.method == "POST" else 200
    if wants_json(request) and request.method == "POST":
        return JsonResponse({"ok": False, "errors": {"__all__": [refusal]}}, status=status)
    context = {"task": task, "refusal": refusal}
    return render(request, "scheduling/task_delete.html", context, status=status)


@permission("scheduling.change_task")
@require_POST
def task_configure(request: HttpRequest, name: str) -> HttpResponse:
    task = _task(name)
    form = TaskScheduleForm(request.POST, instance=task)
    changed = []
    if form.is_valid():
        try:
            changed = services.save_task(form.instance, actor=Actor.from_request(request))
        except ValidationError as exc:
            add_model_errors(form, exc)
    if not form.is_valid():
        if wants_json(request):
            return JsonResponse({"ok": False, "errors": form.errors.get_json_data()}, status=400)
        # The form wrote the rejected values onto `task`; show the stored ones.
        stored = _task(task.name)
        return _render_detail(request, stored, form, status=400)
    if changed:
        return _done(request, task, f"Saved the schedule of {task.name}.")
    return _done(request, task, f"Nothing to save: the schedule of {task.name} is unchanged.")
