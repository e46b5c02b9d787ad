"""Admin for tasks and their history: what staff use to operate the scheduler.

Task changes and deletions go through `services.save_task` / `delete_task`
and are audited like the page's (a deletion refused because tasks run after
it becomes a message naming them, never an error page); the ModelForm's `full_clean` runs the same
validators and `Task.clean`, so the admin accepts exactly what the page form
and the Python API accept. `func` is a choice of registered functions, never
a text box: editing a task must not be a way to run arbitrary code. Execution
history is read-only (it is a record) and never counts millions of rows.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.html import format_html
from django_apscheduler.models import DjangoJob, DjangoJobExecution

from scheduling import audit, display, registry, services
from scheduling.audit import Actor
from scheduling.forms import FuncChoiceField, OneErrorPerCause, OptionalAfterStatus
from scheduling.models import (
    NOTIFY_FIELDS,
    POLICY_FIELDS,
    SCHEDULE_FIELDS,
    SchedulerLease,
    SchedulerNode,
    Task,
    TaskExecution,
    config_fields,
)
from scheduling.scheduler import TaskScheduler

LATEST_EXECUTIONS = 20


class LatestExecutionsFormSet(BaseInlineFormSet):
    """Only the newest executions: the inline would otherwise load the whole history."""

    def get_queryset(self) -> QuerySet:
        if not hasattr(self, "_latest"):
            self._latest = super().get_queryset().order_by("-id")[:LATEST_EXECUTIONS]
        return self._latest


class LatestExecutionsInline(admin.TabularInline):
    model = TaskExecution
    formset = LatestExecutionsFormSet
    verbose_name_plural = f"Latest {LATEST_EXECUTIONS} executions"
    fields = ["run", "status", "trigger", "started_at", "duration_ms", "attempt", "error_excerpt"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Task | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Task | None = None) -> bool:
        return False

    @admin.display(description="Run")
    def run(self, execution: TaskExecution) -> str:
        url = reverse("admin:scheduling_taskexecution_change", args=[execution.pk])
        return format_html('<a href="{}">#{}</a>', url, execution.pk)

    @admin.display(description="Error")
    def error_excerpt(self, execution: TaskExecution) -> str:
        return execution.error.strip().splitlines()[-1][:120] if execution.error else ""


# django-apscheduler's own admin pages come off, both of them. "Django jobs"
# can run stored jobs inside the web process ("Run the selected django jobs"),
# around the run_task permission and the Task pages, and lists pickled engine
# state; "Django job executions" stays empty, since runs are recorded as
# TaskExecution. Task and Task executions are what staff read and edit.
for _model in (DjangoJob, DjangoJobExecution):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)


class TaskAdminForm(OptionalAfterStatus, OneErrorPerCause, forms.ModelForm):
    func = FuncChoiceField()

    class Meta:
        model = Task
        fields = config_fields()

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        stored = self.instance.func if self.instance.pk else ""
        entry = registry.lookup(stored)
        if entry is not None:
            self.initial["func"] = entry.name  # a row may store the function's dotted path
        elif stored:
            # Admin templates print help_text unescaped; a stored value is hostile text.
            self.fields["func"].help_text = format_html(
                "Stored now: <code>{}</code>, which is not registered, so its runs fail. "
                "Choose a registered function. {}",
                stored,
                registry.HOW_TO_REGISTER,
            )

    def clean_func(self) -> str:
        """The chosen name; the stored dotted path when it names the same function (no change)."""
        chosen = self.cleaned_data["func"]
        stored = self.instance.func if self.instance.pk else ""
        entry = registry.lookup(stored)
        return stored if entry is not None and entry.name == chosen else chosen


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin):
    form = TaskAdminForm
    list_display = [
        "name",
        "schedule_in_words",
        "enabled",
        "last_status",
        "last_run_at",
        "next_run_at",
        "run_count",
        "success_rate_display",
        "page_link",
    ]
    list_filter = ["enabled", "trigger_type", "last_status"]
    list_select_related = ["after_task"]  # a chained task's schedule names its upstream
    search_fields = ["name", "description", "func"]
    actions = ["run_now", "enable", "disable"]
    readonly_fields = [
        "page_link",
        "next_run_at",
        "last_run_at",
        "last_status",
        "last_duration_ms",
        "run_count",
        "success_count",
        "failure_count",
        "consecutive_failures",
        "created_at",
        "updated_at",
    ]
    fieldsets = [
        (None, {"fields": ["name", "func", "description", "page_link"]}),
        (
            "Schedule",
            {"fields": SCHEDULE_FIELDS},
        ),
        ("Run policy", {"fields": ["queue", *POLICY_FIELDS]}),
        ("Notifications", {"fields": NOTIFY_FIELDS}),
        ("State", {"fields": readonly_fields[1:]}),
    ]
    inlines = [LatestExecutionsInline]

    @admin.display(description="Schedule")
    def schedule_in_words(self, task: Task) -> str:
        return format_html(
            '{}<br><code class="small">{}</code>', display.describe_schedule(task), task.schedule
        )

    @admin.display(description="Success")
    def success_rate_display(self, task: Task) -> str:
        rate = task.success_rate
        return "—" if rate is None else f"{rate * 100:.0f}%"

    @admin.display(description="Task page")
    def page_link(self, task: Task) -> str:
        if not task.pk:
            return "—"
        return format_html('<a href="{}">{}</a>', task.get_absolute_url(), "Open task page")

    def save_model(self, request: HttpRequest, task: Task, form, change: bool) -> None:
        """Save like the page does (next_run_at recomputed, audited)."""
        services.save_task(task, actor=_actor(request))

    def delete_view(self, request: HttpRequest, object_id: str, extra_context=None):
        """Django's confirmation page lists tasks that run after this one and refuses; this
        catches the race where one is saved between that page and the deletion."""
        try:
            return super().delete_view(request, object_id, extra_context)
        except ValidationError as exc:
            self.message_user(request, " ".join(exc.messages), messages.ERROR)
            return redirect(reverse("admin:scheduling_task_change", args=[object_id]))

    def delete_model(self, request: HttpRequest, task: Task) -> None:
        services.delete_task(task, actor=_actor(request))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        """The bulk delete action: one audited deletion per task, as from the change page.

        A task that others run after is kept, with a message naming them.
        """
        for task in queryset:
            try:
                services.delete_task(task, actor=_actor(request))
            except ValidationError as exc:
                self.message_user(request, " ".join(exc.messages), messages.ERROR)

    @admin.action(description="Run selected tasks now", permissions=["run"])
    def run_now(self, request: HttpRequest, queryset: QuerySet) -> None:
        scheduler, actor = TaskScheduler(), _actor(request)
        for task in queryset:
            execution = scheduler.trigger_task_now(task.name, user=request.user)
            audit.write(actor, audit.TRIGGERED, task.name, {"execution_id": execution.pk})
        self.message_user(request, f"Queued {queryset.count()} run(s).", messages.SUCCESS)

    @admin.action(description="Enable selected tasks", permissions=["change"])
    def enable(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._set_enabled(request, queryset, True)

    @admin.action(description="Disable (pause) selected tasks", permissions=["change"])
    def disable(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._set_enabled(request, queryset, False)

    def _set_enabled(self, request: HttpRequest, queryset: QuerySet, enabled: bool) -> None:
        scheduler, done = TaskScheduler(_actor(request)), 0
        for task in queryset.filter(enabled=not enabled):
            try:
                (scheduler.resume_task if enabled else scheduler.pause_task)(task.name)
            except ValidationError as exc:
                self.message_user(
                    request, f"{task.name}: {'; '.join(exc.messages)}", messages.ERROR
                )
                continue
            done += 1
        verb = "Enabled" if enabled else "Disabled"
        self.message_user(request, f"{verb} {done} task(s).", messages.SUCCESS)

    def has_run_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("scheduling.run_task")


def _actor(request: HttpRequest) -> Actor:
    return Actor.from_request(request, "admin")


@admin.register(TaskExecution)
class TaskExecutionAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "task",
        "status",
        "trigger",
        "attempt",
        "scheduled_for",
        "started_at",
        "duration_ms",
        "requested_by",
        "host",
    ]
    list_filter = ["status", "trigger", "task"]
    list_select_related = ["task", "requested_by"]
    search_fields = ["error"]
    date_hierarchy = "created_at"
    show_full_result_count = False  # COUNT(*) over millions of rows on every page
    show_facets = admin.ShowFacets.NEVER  # one COUNT per filter choice: the same, times ten
    ordering = ["-id"]

    def get_readonly_fields(self, request: HttpRequest, obj: TaskExecution | None = None):
        return [field.name for field in TaskExecution._meta.fields] + ["page_link"]

    @admin.display(description="Execution page")
    def page_link(self, execution: TaskExecution) -> str:
        return format_html(
            '<a href="{}">{}</a>', execution.get_absolute_url(), "Open on the task pages"
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: TaskExecution | None = None):
        return False


class ReadOnlyAdmin(admin.ModelAdmin):
    """Written by the scheduler processes only; shown for diagnosis."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(SchedulerNode)
class SchedulerNodeAdmin(ReadOnlyAdmin):
    list_display = [
        "node_id",
        "role",
        "queues",
        "host",
        "pid",
        "is_leader",
        "started_at",
        "last_beat_at",
        "stopped_at",
    ]
    list_filter = ["role", "is_leader"]


@admin.register(SchedulerLease)
class SchedulerLeaseAdmin(ReadOnlyAdmin):
    list_display = ["name", "holder", "host", "pid", "acquired_at", "expires_at"]
