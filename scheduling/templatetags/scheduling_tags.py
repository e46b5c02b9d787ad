"""Template helpers for the task pages: badges, durations, schedules, sparklines."""

from __future__ import annotations

from datetime import datetime
from html import escape

from django import template
from django.utils import timezone
from django.utils.safestring import SafeString

from scheduling import display, sparkline
from scheduling.models import ExecutionStatus, Task, TriggerType
from scheduling.stats import RecentRun, WeeklyCounts

register = template.Library()

STATUS_LABELS = dict(ExecutionStatus.choices)
RELATIVE_UNITS = [(86400, "day"), (3600, "hour"), (60, "minute")]
NEVER_RUN = SafeString('<span class="badge text-bg-light border">Never run</span>')


@register.simple_tag
def status_badge(status: str) -> SafeString:
    """A coloured badge for an execution status ("Never run" when empty)."""
    if not status:
        return NEVER_RUN
    return SafeString(
        f'<span class="badge text-bg-{display.status_colour(status)}" '
        f'data-status="{escape(status)}">{escape(STATUS_LABELS.get(status, status))}</span>'
    )


@register.filter
def duration(ms: int | None) -> str:
    return display.format_duration(ms)


@register.filter
def relative(moment: datetime | None) -> str:
    """ "3 minutes ago", "2 hours from now": the same words tasks.js writes on refresh.

    Cheaper than humanize's naturaltime (no translation lookups), which matters
    on a page with a hundred rows.
    """
    if moment is None:
        return ""
    seconds = round((timezone.now() - moment).total_seconds())
    count, unit = abs(seconds), "second"
    if count < 10:
        return "now"
    for size, name in RELATIVE_UNITS:
        if count >= size:
            count, unit = count // size, name
            break
    text = f"{count} {unit}{'' if count == 1 else 's'}"
    return f"{text} from now" if seconds < 0 else f"{text} ago"


@register.filter
def local_time(moment: datetime | None, zone: str) -> str:
    return display.local_time(moment, zone)


@register.filter
def fire_times(moments: list[datetime], zone: str) -> list[tuple[datetime, str]]:
    return display.fire_times(moments, zone)


@register.filter
def stamp(moment: datetime | None) -> str:
    """2026-11-23 10:58:56 in the current time zone (the date filter, without its cost)."""
    return "" if moment is None else f"{timezone.localtime(moment):%Y-%m-%d %H:%M:%S}"


@register.filter
def percent(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.0f}%"


@register.filter
def schedule_words(task: Task) -> str:
    return display.describe_schedule(task)


@register.filter
def status_colour(status: str) -> str:
    return display.status_colour(status)


@register.simple_tag
def durations_sparkline(runs: list[RecentRun]) -> SafeString:
    return sparkline.render(runs)


# data-label: the cell's heading when a phone shows each row as a card (scheduling.css).
ENABLED_CELL = (
    '<td data-field="enabled" data-label="Enabled">'
    '<span class="badge rounded-pill text-bg-success">Enabled</span></td>'
)
PAUSED_CELL = (
    '<td data-field="enabled" data-label="Enabled">'
    '<span class="badge rounded-pill text-bg-secondary">Paused</span></td>'
)

NO_NEXT_RUN_CELL = (
    '<td data-field="next-run" data-label="Next run"><span class="text-secondary">—</span></td>'
)


def _last_run_cell(task: Task) -> str:
    html = [status_badge(task.last_status)]
    if task.stats.running:
        html.append(' <span class="badge text-bg-primary running-badge">Running now</span>')
    if task.last_run_at:
        took = "" if task.last_duration_ms is None else f" · {duration(task.last_duration_ms)}"
        html.append(
            f'<div class="small text-secondary"><time datetime="{task.last_run_at.isoformat()}">'
            f"{relative(task.last_run_at)}</time>{took}</div>"
        )
    return (
        f'<td data-field="last-run" data-label="Last run" class="text-nowrap">{"".join(html)}</td>'
    )


def _next_run_cell(task: Task, tasks_url: str) -> str:
    if task.trigger_type == TriggerType.AFTER and task.after_task_id:
        # A chained task has no time of its own: its upstream's run comes first.
        upstream = escape(task.after_task.name)
        return (
            '<td data-field="next-run" data-label="Next run">'
            '<span class="text-secondary">after</span> '
            f'<a href="{escape(tasks_url)}{upstream}/" class="upstream">{upstream}</a></td>'
        )
    if not task.next_run_at:
        return NO_NEXT_RUN_CELL
    return (
        f'<td data-field="next-run" data-label="Next run" class="text-nowrap">'
        f'<time datetime="{task.next_run_at.isoformat()}">{relative(task.next_run_at)}</time>'
        f'<div class="small text-secondary">{escape(local_time(task.next_run_at, task.timezone))}'
        "</div></td>"
    )


def _rate_cell(weekly: WeeklyCounts) -> str:
    runs = f"{weekly.total} run{'' if weekly.total == 1 else 's'}"
    return (
        f'<td data-field="rate" data-label="7-day success" class="text-end text-nowrap">'
        '<span class="fw-semibold">'
        f'{percent(weekly.success_rate)}</span><div class="small text-secondary">{runs}</div></td>'
    )


@register.simple_tag
def status_cells(task: Task, tasks_url: str = "/tasks/") -> SafeString:
    """The enabled, last run, next run and 7-day cells of a /tasks/ row.

    The same markup tasks.js draws when it refreshes a row from the status
    API; built in Python because a hundred rows of template tags cost more
    than the page's queries.
    """
    cells = [
        ENABLED_CELL if task.enabled else PAUSED_CELL,
        _last_run_cell(task),
        _next_run_cell(task, tasks_url),
        _rate_cell(task.stats.weekly),
    ]
    return SafeString("".join(cells))
