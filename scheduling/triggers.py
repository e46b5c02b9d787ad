"""APScheduler triggers built from a Task.

`CrontabTrigger` wraps cronsim so APScheduler never sees crontab text, and
pickles to just the expression and timezone name (django-apscheduler stores
jobs pickled: a stored job must survive a library upgrade).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from django.core.exceptions import ValidationError

from scheduling import bounds, cron

if TYPE_CHECKING:
    from scheduling.models import Task


class CrontabTrigger(BaseTrigger):
    def __init__(self, expression: str, timezone: str) -> None:
        self.expression = cron.validate(expression)
        self.timezone = timezone
        self._zone = cron.validate_timezone(timezone)

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        if previous_fire_time is None:
            # APScheduler asks for the first time >= now.
            return cron.next_fire_time(self.expression, self._zone, now - timedelta(seconds=1))
        return cron.next_fire_time(self.expression, self._zone, max(previous_fire_time, now))

    def __getstate__(self) -> dict:
        return {"version": 1, "expression": self.expression, "timezone": self.timezone}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["expression"], state["timezone"])

    def __str__(self) -> str:
        return f"crontab[{self.expression} {self.timezone}]"

    def __repr__(self) -> str:
        return f"<CrontabTrigger ({self.expression!r}, timezone={self.timezone!r})>"


def build_trigger(task: Task) -> BaseTrigger:
    """The APScheduler trigger for a task's schedule; ValidationError for out-of-range values.

    A trigger that overflows inside APScheduler's thread would stop every job,
    so a row holding out-of-range values never becomes a trigger.
    """
    bounds.check_stored(task)
    if task.trigger_type == "after":
        raise ValidationError(f"Task {task.name} runs after another task: it has no schedule")
    if task.trigger_type == "cron":
        return CrontabTrigger(task.cron_expression, task.timezone)
    if task.trigger_type == "interval":
        # Anchored at creation so restarts do not shift the phase.
        return IntervalTrigger(
            seconds=task.interval_seconds, start_date=task.created_at, timezone=task.timezone
        )
    return DateTrigger(run_date=task.run_at, timezone=task.timezone)


def next_run_after(task: Task, after: datetime) -> datetime | None:
    """The task's first fire time strictly after `after` (None: never again).

    Raises ValidationError when the stored values are out of range or the time
    cannot be computed (past year 9999), so a caller can skip the task.
    """
    bounds.check_stored(task)
    try:
        return _next_run_after(task, after)
    except OverflowError:
        raise ValidationError(f"Task {task.name}: its next run is past year 9999") from None


def _next_run_after(task: Task, after: datetime) -> datetime | None:
    if task.trigger_type == "after":  # runs when its upstream finishes, never at a time
        return None
    if task.trigger_type == "cron":
        return cron.next_fire_time(task.cron_expression, task.timezone, after)
    if task.trigger_type == "interval":
        anchor = task.created_at or after
        step = timedelta(seconds=task.interval_seconds)
        if after < anchor:
            return anchor
        periods = int((after - anchor) / step) + 1
        return anchor + periods * step
    return task.run_at if task.run_at and task.run_at > after else None


def upcoming(task: Task, count: int = 5, after: datetime | None = None) -> list[datetime]:
    """The next `count` fire times (fewer for a one-off task)."""
    from django.utils import timezone

    moment = after or timezone.now()
    times: list[datetime] = []
    while len(times) < count:
        moment = next_run_after(task, moment)
        if moment is None:
            break
        times.append(moment)
    return times
