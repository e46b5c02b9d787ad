"""The task page's charts: the last 100 runs, and a success-rate strip of the last 30 days.

Two queries whatever the size of the history:

1. the newest 100 executions: one range of the (task, -id) index;
2. one GROUP BY day over the last 30 days, limited to `id >= the first id of
   that window` (found through the `created_at` index, as `scheduling.stats`
   does), so it reads the window's rows and no older ones.

The SVG is drawn here, on the server: no JavaScript, no chart library, no
CDN, so it works offline and under a CSP that forbids inline code. Colours
come from CSS classes on Bootstrap's variables (`scheduling.css`), so the
charts follow the light or dark theme; the outcome is also drawn as a mark
under the axis, so a failure is visible without telling red from green. Each
chart carries a text alternative (`role="img"`, `aria-label`, `<title>`) and
`_charts.html` shows its numbers as a table.

Days are the task's own calendar days (its `timezone`), like its "Next runs".
A day's success rate is successes over runs with an outcome (success, failed,
abandoned); skipped runs are shown but not counted, as in the weekly report.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from html import escape
from zoneinfo import ZoneInfo

from django.db.models import Count, Q
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.safestring import SafeString

from scheduling.display import format_duration
from scheduling.models import ExecutionStatus, Task, TaskExecution
from scheduling.stats import _first_id_since

RUNS = 100
DAYS = 30
FAILURES = (ExecutionStatus.FAILED, ExecutionStatus.ABANDONED)
OUTCOME_WORDS = {ExecutionStatus.SUCCESS: "succeeded"}  # "3 succeeded, 1 failed, 1 skipped"

BAR, STEP, PLOT, MARK_AT, MARK = 8, 10, 100, 104, 8  # durations chart, viewBox units
CELL, CELL_STEP, STRIP = 8, 10, 40  # daily strip


@dataclass(frozen=True)
class Run:
    id: int
    status: str
    duration_ms: int | None
    started_at: datetime | None

    @property
    def label(self) -> str:
        took = f", {format_duration(self.duration_ms)}" if self.duration_ms is not None else ""
        when = f", {self.started_at:%Y-%m-%d %H:%M} UTC" if self.started_at else ""
        return f"#{self.id} {self.status}{took}{when}"


@dataclass(frozen=True)
class Day:
    day: date
    total: int = 0
    success: int = 0
    failed: int = 0  # failed or abandoned
    skipped: int = 0

    @property
    def rate(self) -> float | None:
        counted = self.success + self.failed
        return None if counted == 0 else self.success / counted

    @property
    def grade(self) -> str:
        """all / most / few successes, or none counted: the CSS class of the day's bar."""
        rate = self.rate
        if rate is None:
            return "empty"
        return "ok" if rate == 1 else "warn" if rate >= 0.8 else "bad"

    @property
    def label(self) -> str:
        if self.total == 0:
            return f"{self.day:%a %d %b}: no runs"
        parts = [f"{self.total} run{'s' * (self.total != 1)}", f"{self.success} succeeded"]
        if self.failed:
            parts.append(f"{self.failed} failed")
        if self.skipped:
            parts.append(f"{self.skipped} skipped")
        rate = "" if self.rate is None else f" ({self.rate:.0%})"
        return f"{self.day:%a %d %b}: {', '.join(parts)}{rate}"


@dataclass
class TaskCharts:
    runs: list[Run] = field(default_factory=list)  # oldest first
    days: list[Day] = field(default_factory=list)  # oldest first, one per calendar day
    zone: str = "UTC"

    @property
    def longest_ms(self) -> int:
        return max((run.duration_ms or 0 for run in self.runs), default=0)

    @property
    def half_ms(self) -> int:
        return self.longest_ms // 2

    @property
    def median_ms(self) -> int | None:
        timed = [run.duration_ms for run in self.runs if run.duration_ms is not None]
        return round(statistics.median(timed)) if timed else None

    def outcome_counts(self) -> dict[str, int]:
        """Runs per status, in the usual order of statuses."""
        present = [run.status for run in self.runs]
        return {
            status: present.count(status) for status in ExecutionStatus.values if status in present
        }

    @property
    def legend(self) -> list[tuple[str, str]]:
        """(status, label) for each status among the runs, in the usual order."""
        present = {run.status for run in self.runs}
        return [(value, label) for value, label in ExecutionStatus.choices if value in present]

    @property
    def runs_summary(self) -> str:
        if not self.runs:
            return "No runs yet."
        counts = ", ".join(
            f"{n} {OUTCOME_WORDS.get(status, status)}"
            for status, n in self.outcome_counts().items()
        )
        text = f"Last {len(self.runs)} run{'s' * (len(self.runs) != 1)}: {counts}."
        if self.median_ms is not None:
            text += f" Median {format_duration(self.median_ms)}, "
            text += f"longest {format_duration(self.longest_ms)}."
        return text

    @property
    def days_summary(self) -> str:
        success = sum(day.success for day in self.days)
        counted = success + sum(day.failed for day in self.days)
        if counted == 0:
            return f"No runs with an outcome in the last {len(self.days)} days."
        bad = sum(1 for day in self.days if day.failed)
        return (
            f"Last {len(self.days)} days: {success / counted:.0%} of {counted} runs succeeded; "
            f"{bad} day{'s' * (bad != 1)} with failures."
        )

    @property
    def durations_svg(self) -> SafeString:
        return durations_svg(self)

    @property
    def days_svg(self) -> SafeString:
        return days_svg(self)


# --- queries --------------------------------------------------------------------
def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError):
        return ZoneInfo("UTC")


def last_runs(task: Task, count: int = RUNS) -> list[Run]:
    """The newest `count` runs, oldest first (one query)."""
    rows = TaskExecution.objects.filter(task=task).order_by("-id")
    rows = rows.values_list("id", "status", "duration_ms", "started_at")[:count]
    return [Run(*row) for row in reversed(rows)]


def daily(task: Task, now: datetime, zone: ZoneInfo, days: int = DAYS) -> list[Day]:
    """A Day for each of the last `days` calendar days in `zone`, empty ones too (one query)."""
    today = now.astimezone(zone).date()
    first = today - timedelta(days=days - 1)
    since = datetime.combine(first, time(), tzinfo=zone)
    rows = (
        TaskExecution.objects.filter(
            task=task, created_at__gte=since, id__gte=_first_id_since(since)
        )
        .annotate(day=TruncDate("created_at", tzinfo=zone))
        .order_by()
        .values("day")
        .annotate(
            total=Count("id"),
            success=Count("id", filter=Q(status=ExecutionStatus.SUCCESS)),
            failed=Count("id", filter=Q(status__in=FAILURES)),
            skipped=Count("id", filter=Q(status=ExecutionStatus.SKIPPED)),
        )
    )
    counts = {row.pop("day"): row for row in rows}
    calendar = (first + timedelta(days=n) for n in range(days))
    return [Day(day, **counts.get(day, {})) for day in calendar]


def for_task(task: Task, now: datetime | None = None) -> TaskCharts:
    """Both charts' data for the task page, in two queries."""
    zone = _zone(task.timezone)
    return TaskCharts(
        runs=last_runs(task), days=daily(task, now or timezone.now(), zone), zone=str(zone)
    )


# --- SVG ------------------------------------------------------------------------
def _svg(kind: str, width: int, height: int, label: str, body: str) -> SafeString:
    label = escape(label)
    return SafeString(
        f'<svg class="chart chart-{kind}" viewBox="0 0 {width} {height}" '
        f'preserveAspectRatio="none" role="img" aria-label="{label}" focusable="false">'
        f"<title>{label}</title>{body}</svg>"
    )


def _grid(width: int, y: int, kind: str = "grid") -> str:
    return (
        f'<line class="{kind}" x1="0" x2="{width}" y1="{y}" y2="{y}" '
        'vector-effect="non-scaling-stroke"/>'
    )


def _run_bar(index: int, run: Run, longest: int) -> str:
    x = index * STEP + (STEP - BAR) // 2
    status = escape(run.status)
    if run.duration_ms is None or longest <= 0:
        height = 3  # queued, running, skipped: a stub
    else:
        height = max(1, round(PLOT * run.duration_ms / longest))
    title = f"<title>{escape(run.label)}</title>"
    bar = (
        f'<rect class="bar status-{status}" x="{x}" y="{PLOT - height}" width="{BAR}" '
        f'height="{height}">{title}</rect>'
    )
    if run.status in FAILURES or run.status == ExecutionStatus.SKIPPED:
        # The outcome as a shape too: a mark under the axis.
        size = MARK if run.status in FAILURES else MARK // 2
        bar += (
            f'<rect class="mark status-{status}" x="{x}" y="{MARK_AT}" width="{BAR}" '
            f'height="{size}">{title}</rect>'
        )
    return bar


def durations_svg(charts: TaskCharts) -> SafeString:
    """One bar per run, height = duration (linear, top line = the longest), oldest left."""
    width = max(len(charts.runs), 1) * STEP
    longest = charts.longest_ms
    body = [_grid(width, 0), _grid(width, PLOT // 2), _grid(width, PLOT, "axis")]
    body += [_run_bar(i, run, longest) for i, run in enumerate(charts.runs)]
    return _svg("durations", width, MARK_AT + MARK, charts.runs_summary, "".join(body))


def _day_cell(index: int, day: Day) -> str:
    x = index * CELL_STEP + (CELL_STEP - CELL) // 2
    title = f"<title>{escape(day.label)}</title>"
    cell = f'<rect class="track" x="{x}" y="0" width="{CELL}" height="{STRIP}">{title}</rect>'
    if day.rate is not None:
        height = max(2, round(STRIP * day.rate))
        cell += (
            f'<rect class="day day-{day.grade}" x="{x}" y="{STRIP - height}" width="{CELL}" '
            f'height="{height}">{title}</rect>'
        )
    return cell


def days_svg(charts: TaskCharts) -> SafeString:
    """One cell per day, filled to its success rate; an empty track for a day without outcome."""
    width = max(len(charts.days), 1) * CELL_STEP
    body = "".join(_day_cell(i, day) for i, day in enumerate(charts.days))
    return _svg("days", width, STRIP, charts.days_summary, body)
