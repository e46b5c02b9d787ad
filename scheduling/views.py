"""Placeholder pages; the full task pages arrive with the web issue."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from scheduling.models import Task, TaskExecution


@login_required
def task_list(request: HttpRequest) -> HttpResponse:
    return render(request, "scheduling/task_list.html", {"tasks": Task.objects.all()})


@login_required
def task_detail(request: HttpRequest, name: str) -> HttpResponse:
    task = get_object_or_404(Task, name=name)
    executions = task.executions.all()[:50]
    return render(request, "scheduling/task_detail.html", {"task": task, "executions": executions})


@login_required
def execution_detail(request: HttpRequest, name: str, pk: int) -> HttpResponse:
    execution = get_object_or_404(
        TaskExecution.objects.select_related("task"), task__name=name, pk=pk
    )
    return render(request, "scheduling/execution_detail.html", {"execution": execution})
