"""Tasks and their executions.

`Task` is the schedule someone can edit; `TaskExecution` is one run of it.
Counters and `next_run_at` are denormalised onto `Task` so the task list and
the status API never aggregate the (possibly millions of) executions.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import (
    MaxLengthValidator,
    ProhibitNullCharactersValidator,
    RegexValidator,
)
from django.db import models
from django.db.models.lookups import Exact
from django.urls import reverse
from django.utils import timezone
from django.utils.timezone import now

from scheduling import bounds, jsontext, registry
from scheduling.kwargs import KwargsField


def default_timezone() -> str:
    return settings.TIME_ZONE


def default_misfire_grace() -> int:
    return settings.SCHEDULER_MISFIRE_GRACE_SECONDS


class TriggerType(models.TextChoices):
    CRON = "cron", "Cron expression"
    INTERVAL = "interval", "Fixed interval"
    DATE = "date", "Once, at a date"
    AFTER = "after", "After another task"


class AfterStatus(models.TextChoices):
    """Which outcomes of the upstream task start a chained (`after`) task."""

    SUCCESS = "success", "succeeds"
    FAILURE = "failure", "fails"
    ANY = "any", "finishes, whatever the outcome"


class ExecutionStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCESS = "success", "Success"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped"
    ABANDONED = "abandoned", "Abandoned"


class ExecutionTrigger(models.TextChoices):
    SCHEDULE = "schedule", "Schedule"
    MANUAL = "manual", "Manual"
    CLI = "cli", "Command line"
    RETRY = "retry", "Retry"
    CATCHUP = "catchup", "Catch-up"
    CHAIN = "chain", "Chain"


FINISHED_STATUSES = (
    ExecutionStatus.SUCCESS,
    ExecutionStatus.FAILED,
    ExecutionStatus.SKIPPED,
    ExecutionStatus.ABANDONED,
)


# Written only by the runner (with F() updates), never by a configuration save.
RUNTIME_FIELDS = frozenset(
    {
        "last_run_at",
        "last_status",
        "last_duration_ms",
        "run_count",
        "success_count",
        "failure_count",
        "consecutive_failures",
    }
)


# The fields a person edits (page form, admin, audit trail).
SCHEDULE_FIELDS = [
    "trigger_type",
    "cron_expression",
    "interval_seconds",
    "run_at",
    "after_task",
    "after_status",
    "timezone",
    "kwargs",
    "enabled",
]


# How a task runs (the run policy) and whom it tells: form sections, admin fieldsets, API options.
POLICY_FIELDS = [
    "misfire_grace_seconds",
    "allow_overlap",
    "max_retries",
    "retry_backoff_seconds",
    "retry_backoff_max_seconds",
    "timeout_seconds",
]
NOTIFY_FIELDS = ["notify_on_failure", "notify_on_success", "notify_recipients"]


def _in_range(field: str) -> list:
    return [bounds.InRange(field)]


class Task(models.Model):
    name = models.SlugField(max_length=100, unique=True)
    func = models.CharField(
        max_length=255,
        validators=[registry.validate_registered],
        help_text="A registered task function (see @scheduled_task).",
    )
    description = models.TextField(
        blank=True,
        validators=[
            MaxLengthValidator(bounds.DESCRIPTION_MAX_CHARS),
            ProhibitNullCharactersValidator(),
        ],
    )
    trigger_type = models.CharField(
        max_length=10, choices=TriggerType.choices, default=TriggerType.CRON
    )
    cron_expression = models.CharField(max_length=120, blank=True)
    interval_seconds = models.PositiveIntegerField(
        null=True, blank=True, validators=_in_range("interval_seconds")
    )
    run_at = models.DateTimeField(null=True, blank=True, validators=[bounds.validate_run_at])
    timezone = models.CharField(max_length=64, default=default_timezone)
    kwargs = KwargsField(default=dict, blank=True)
    enabled = models.BooleanField(default=True)
    # Chains: an `after` task runs when `after_task` finishes with `after_status`.
    after_task = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="downstream",
        help_text="For the trigger 'after another task': the task to wait for.",
    )
    after_status = models.CharField(
        max_length=10, choices=AfterStatus.choices, default=AfterStatus.SUCCESS
    )
    # Where runs execute: blank = threads of the scheduler process; a name = that Celery queue.
    queue = models.CharField(
        max_length=100,
        blank=True,
        default="",
        validators=[
            RegexValidator(
                r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$",
                "queue: letters, digits, '_', '.', ':' or '-', starting with a letter or digit",
            )
        ],
        help_text="Celery queue its runs are sent to; blank runs them in the scheduler process.",
    )

    # Run policy.
    misfire_grace_seconds = models.PositiveIntegerField(
        default=default_misfire_grace,
        validators=_in_range("misfire_grace_seconds"),
        help_text="A fire time missed by less than this still runs (once).",
    )
    allow_overlap = models.BooleanField(
        default=False, help_text="Start a run even when the previous one is still running."
    )
    max_retries = models.PositiveSmallIntegerField(default=0, validators=_in_range("max_retries"))
    retry_backoff_seconds = models.PositiveIntegerField(
        default=30, validators=_in_range("retry_backoff_seconds")
    )
    retry_backoff_max_seconds = models.PositiveIntegerField(
        default=3600, validators=_in_range("retry_backoff_max_seconds")
    )
    timeout_seconds = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=_in_range("timeout_seconds"),
        help_text="Run in the scheduler: an overrunning run is flagged, not killed. Run on a "
        "queue: a hard limit, the worker stops it and the run fails (timed out).",
    )

    # Notifications (used by the notifications app through signals).
    notify_on_failure = models.BooleanField(default=True)
    notify_on_success = models.BooleanField(default=True)
    notify_recipients = models.TextField(
        blank=True,
        validators=[
            MaxLengthValidator(bounds.RECIPIENTS_MAX_CHARS),
            ProhibitNullCharactersValidator(),
        ],
        help_text="Extra email addresses, comma or newline separated.",
    )

    # Denormalised state, written by the runner with F() updates.
    next_run_at = models.DateTimeField(null=True, blank=True, db_index=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    last_status = models.CharField(max_length=10, choices=ExecutionStatus.choices, blank=True)
    last_duration_ms = models.PositiveIntegerField(null=True, blank=True)
    run_count = models.PositiveIntegerField(default=0)
    success_count = models.PositiveIntegerField(default=0)
    failure_count = models.PositiveIntegerField(default=0)
    consecutive_failures = models.PositiveIntegerField(default=0)

    # Not auto_now_add: save_task sets it first and anchors the interval phase
    # (next_run_at) on it; auto_now_add overwrote it on insert, a few ms later.
    created_at = models.DateTimeField(default=now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        permissions = [("run_task", "Can run a task now")]
        constraints = [
            *bounds.check_constraints(),
            models.CheckConstraint(
                condition=Exact(jsontext.JSONTypeOf("kwargs"), "object"),
                name="task_kwargs_is_object",
            ),
            # An `after` task always has an upstream, and never waits for itself.
            models.CheckConstraint(
                condition=~models.Q(trigger_type="after") | models.Q(after_task__isnull=False),
                name="task_after_has_upstream",
            ),
            models.CheckConstraint(
                condition=~models.Q(after_task=models.F("id")), name="task_after_not_itself"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs) -> None:
        """Save configuration only, never the run counters.

        The runner updates counters with F() expressions while someone may be
        editing the task in the admin; a full save of that stale instance would
        write the old counts back over the runner's.
        """
        if self.pk is not None and not self._state.adding and kwargs.get("update_fields") is None:
            kwargs["update_fields"] = [*config_fields(), "next_run_at", "updated_at"]
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("scheduling:task-detail", args=[self.name])

    def clean(self) -> None:
        from scheduling.services import validate_task

        validate_task(self)

    @property
    def schedule(self) -> str:
        """The schedule as written: expression, seconds, ISO date, or the upstream task's name."""
        if self.trigger_type == TriggerType.CRON:
            return self.cron_expression
        if self.trigger_type == TriggerType.INTERVAL:
            return str(self.interval_seconds or "")
        if self.trigger_type == TriggerType.AFTER:
            return self.after_task.name if self.after_task_id else ""
        return self.run_at.isoformat() if self.run_at else ""

    @property
    def success_rate(self) -> float | None:
        finished = self.success_count + self.failure_count
        return None if finished == 0 else self.success_count / finished


def config_fields() -> list[str]:
    """The fields a person sets (admin, pages, API), in model order: what the audit trail covers."""
    skip = RUNTIME_FIELDS | {"id", "next_run_at", "created_at", "updated_at"}
    return [f.name for f in Task._meta.concrete_fields if f.name not in skip]


class TaskExecution(models.Model):
    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="executions")
    trigger = models.CharField(
        max_length=10, choices=ExecutionTrigger.choices, default=ExecutionTrigger.SCHEDULE
    )
    scheduled_for = models.DateTimeField(null=True, blank=True)
    status = models.CharField(
        max_length=10, choices=ExecutionStatus.choices, default=ExecutionStatus.QUEUED
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="requested_executions",
    )
    kwargs = KwargsField(
        null=True, blank=True, help_text="Overrides the task's kwargs for this run only."
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    result = jsontext.StoredJSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    host = models.CharField(max_length=255, blank=True)
    pid = models.PositiveIntegerField(null=True, blank=True)
    attempt = models.PositiveSmallIntegerField(default=1)
    is_overdue = models.BooleanField(default=False)
    # A `chain` run points at the upstream run that started it.
    parent = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="children"
    )
    # A database default too: rows inserted by raw SQL (seeds, other tools) need no log.
    log = models.TextField(
        blank=True, default="", db_default="", help_text="What the run logged (capped at 64 KiB)."
    )
    # Runs of a task with a `queue`: when the scheduler last sent it to Celery.
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["task", "-id"], name="execution_task_newest_idx"),
            models.Index(fields=["status", "-id"], name="execution_status_idx"),
            models.Index(fields=["created_at"], name="execution_created_idx"),
            models.Index(fields=["task", "created_at"], name="execution_task_created_idx"),
        ]
        constraints = [
            # Two schedulers that both believe they lead cannot both run one fire
            # time: the loser of this insert runs nothing.
            models.UniqueConstraint(
                fields=["task", "scheduled_for"],
                condition=models.Q(trigger__in=["schedule", "catchup"]),
                name="execution_unique_scheduled_fire",
            ),
            # One upstream run starts each downstream task at most once, however
            # many schedulers (or re-sent signals) see it finish.
            models.UniqueConstraint(
                fields=["task", "parent"],
                condition=models.Q(trigger="chain"),
                name="execution_unique_chain_run",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.task.name} #{self.pk} ({self.status})"

    def get_absolute_url(self) -> str:
        return reverse("scheduling:execution-detail", args=[self.task.name, self.pk])

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED_STATUSES


class NodeRole(models.TextChoices):
    SCHEDULER = "scheduler", "Scheduler"
    WORKER = "worker", "Worker"


class SchedulerNode(models.Model):
    """One `runscheduler` process or Celery worker process: its heartbeat, and whether it leads.

    A worker's runs carry its (host, pid); the leader abandons a running
    execution whose (host, pid) has no fresh heartbeat here.
    """

    node_id = models.CharField(max_length=64, unique=True)
    role = models.CharField(max_length=10, choices=NodeRole.choices, default=NodeRole.SCHEDULER)
    queues = models.CharField(max_length=255, blank=True, help_text="Queues a worker consumes.")
    # Set by the leader while it cannot reach the Celery broker; blank when it can.
    broker_error = models.TextField(blank=True)
    host = models.CharField(max_length=255)
    pid = models.PositiveIntegerField()
    started_at = models.DateTimeField(default=timezone.now)
    last_beat_at = models.DateTimeField(default=timezone.now, db_index=True)
    is_leader = models.BooleanField(default=False)
    stopped_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-last_beat_at"]

    def __str__(self) -> str:
        return f"{self.host}:{self.pid}"


class SchedulerLease(models.Model):
    """The single leadership lease; one row, renewed by the holder."""

    name = models.CharField(max_length=50, unique=True, default="leader")
    holder = models.CharField(max_length=64, blank=True)
    host = models.CharField(max_length=255, blank=True)
    pid = models.PositiveIntegerField(null=True, blank=True)
    acquired_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name}: {self.holder or 'free'}"
