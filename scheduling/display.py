"""How tasks and runs read to people: schedules in words, status colours.

Shared by the pages, the status API and the admin so a schedule is described
the same way everywhere.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError

from scheduling import cron
from scheduling.models import ExecutionStatus, Task, TriggerType

# Bootstrap colour names per execution status.
STATUS_COLOURS = {
    ExecutionStatus.QUEUED: "secondary",
    ExecutionStatus.RUNNING: "primary",
    ExecutionStatus.SUCCESS: "success",
    ExecutionStatus.FAILED: "danger",
    ExecutionStatus.SKIPPED: "warning",
    ExecutionStatus.ABANDONED: "dark",
}

UNITS = [(86400, "day"), (3600, "hour"), (60, "minute"), (1, "second")]


def status_colour(status: str) -> str:
    return STATUS_COLOURS.get(status, "light")


def describe_interval(seconds: int | None) -> str:
    """'Every 5 minutes', 'Every 90 seconds', 'Every hour'."""
    if not seconds:
        return "No interval set"
    for size, unit in UNITS:
        if seconds % size == 0:
            count = seconds // size
            return f"Every {unit}" if count == 1 else f"Every {count} {unit}s"
    return f"Every {seconds} seconds"  # unreachable: size 1 always divides


@lru_cache(maxsize=512)
def describe_cron(expression: str) -> str:
    """The crontab in words; cached because a list page describes many of them."""
    try:
        return cron.describe(expression)
    except (ValidationError, ValueError):
        return "Invalid cron expression"


def describe_schedule(task: Task) -> str:
    """The task's schedule in words, in its own timezone."""
    if task.trigger_type == TriggerType.CRON:
        return describe_cron(task.cron_expression)
    if task.trigger_type == TriggerType.INTERVAL:
        return describe_interval(task.interval_seconds)
    if task.trigger_type == TriggerType.AFTER:
        return describe_after(task)
    if task.run_at is None:
        return "Once (no date set)"
    try:
        local = task.run_at.astimezone(ZoneInfo(task.timezone))
    except (KeyError, ValueError, OverflowError):
        local = task.run_at
    return f"Once at {local:%Y-%m-%d %H:%M} {local.tzname()}"


def describe_after(task: Task) -> str:
    """ "After backup_database succeeds": when a chained task runs (load `after_task` with it)."""
    if task.after_task_id is None:
        return "After another task (none chosen)"
    return f"After {task.after_task.name} {task.get_after_status_display()}"


def _in_zone(moment: datetime, zone: str) -> datetime:
    try:
        return moment.astimezone(ZoneInfo(zone))
    except (KeyError, ValueError, OverflowError):
        return moment


def local_time(moment: datetime | None, zone: str) -> str:
    """ "Tue 24 Nov, 03:00 CET": the moment as the task's own clock shows it.

    Seconds only when the moment has them ("03:55:20"): a sub-minute task's next
    run would otherwise read as a minute it may already be past.
    """
    if moment is None:
        return ""
    local = _in_zone(moment, zone)
    clock = "%H:%M:%S" if local.second else "%H:%M"
    return f"{local:%a} {local.day} {local:%b}, {local:{clock}} {local.tzname()}"


def fire_times(moments: list[datetime], zone: str) -> list[tuple[datetime, str]]:
    """Each moment with its text on the task's clock: "Tue 2025-03-04 03:55 CET".

    With seconds ("03:55:20") when any of them is not on a whole minute: a
    20-second interval would otherwise list "03:55" three times, and a task
    anchored at 10:23:17 does not run at 10:23.
    """
    local = [_in_zone(moment, zone) for moment in moments]
    clock = "%H:%M:%S" if any(moment.second for moment in local) else "%H:%M"
    return [(m, f"{m:%a %Y-%m-%d {clock}} {m.tzname()}") for m in local]


def format_duration(ms: int | None) -> str:
    """850 ms, 12.3 s, 4 min 05 s, 2 h 03 min."""
    if ms is None:
        return ""
    if ms < 1000:
        return f"{ms} ms"
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, seconds = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"
