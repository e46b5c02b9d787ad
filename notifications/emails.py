"""One function per kind of email, as Healthchecks' hc/lib/emails.py.

Each function gathers its context and renders three templates from
`notifications/email/`: `<kind>.subject.txt`, `<kind>.txt` and `<kind>.html`,
plus the few lines channels post, from `notifications/chat/<kind>.txt`.
Datetimes render in settings.TIME_ZONE whatever timezone the calling thread
has active. The text body is rendered without autoescaping (it is plain
text); the HTML body autoescapes, so a task description or an error message
cannot inject markup. Nothing here sends: `notifications.delivery` does.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.html import strip_tags

from notifications.delivery import Email
from notifications.models import Kind
from notifications.report import WeeklyReport
from scheduling.display import format_duration
from scheduling.models import Task, TaskExecution

ERROR_TAIL_LINES = 15


def render(kind: str, context: dict[str, Any]) -> Email:
    """Render the templates of `kind` in TIME_ZONE."""
    context = {
        "site_url": settings.SITE_URL,
        "time_zone": settings.TIME_ZONE,
        "repeat_hours": settings.NOTIFY_REPEAT_HOURS,
        **context,
    }
    with timezone.override(settings.TIME_ZONE):
        subject = render_to_string(f"notifications/email/{kind}.subject.txt", context)
        text = render_to_string(f"notifications/email/{kind}.txt", context)
        html = render_to_string(f"notifications/email/{kind}.html", context)
        chat = render_to_string(f"notifications/chat/{kind}.txt", context).strip()
    # A subject is one line: newlines in it would be refused by the mail library.
    subject = " ".join(subject.split())[:255]
    return Email(kind=kind, subject=subject, text=text, html=html, chat=chat)


def task_failure(
    task: Task,
    execution: TaskExecution | None,
    *,
    error: str | None = None,
    reminder: bool = False,
) -> Email:
    """A task is failing: the first alert, or a reminder that it still is."""
    context = _task_context(task, execution, error=error)
    context["reminder"] = reminder
    return render(Kind.TASK_FAILURE, context)


def task_overdue(task: Task, execution: TaskExecution) -> Email:
    """A run is still going past its task's timeout_seconds."""
    context = _task_context(task, execution)
    context["running_for"] = format_duration(_running_ms(execution))
    return render(Kind.TASK_OVERDUE, context)


def task_recovered(task: Task, execution: TaskExecution, *, failures: int) -> Email:
    """A task that was failing has succeeded again."""
    context = _task_context(task, execution)
    context["failures"] = failures
    return render(Kind.TASK_RECOVERED, context)


def task_completion(task: Task, execution: TaskExecution | None, *, result: Any = None) -> Email:
    """A task succeeded (only sent when success mails are switched on)."""
    context = _task_context(task, execution)
    if result is None and execution is not None:
        result = execution.result
    context["result_items"] = _result_items(result)
    return render(Kind.TASK_COMPLETION, context)


def weekly_report(report: WeeklyReport) -> Email:
    """Last week's runs, failures, slowest tasks and maintenance totals."""
    return render(Kind.WEEKLY_REPORT, {"report": report})


def message(subject: str, body: str, *, html: bool = False) -> Email:
    """A free-form mail; an HTML body gets a plain-text alternative made from it."""
    subject = " ".join(subject.split())[:255]
    if not html:
        return Email(kind=Kind.MESSAGE, subject=subject, text=body)
    return Email(kind=Kind.MESSAGE, subject=subject, text=html_to_text(body), html=body)


def html_to_text(html: str) -> str:
    text = strip_tags(html.replace("<br>", "\n").replace("</p>", "</p>\n"))
    lines = (line.strip() for line in text.splitlines())
    return "\n".join(line for line in lines if line) + "\n"


def _task_context(
    task: Task, execution: TaskExecution | None, *, error: str | None = None
) -> dict[str, Any]:
    error = error if error is not None else (execution.error if execution else "")
    headline, tail = split_error(error)
    return {
        "task": task,
        "execution": execution,
        # A task known only by name (NotificationService) has no page to link to.
        "task_url": settings.SITE_URL + task.get_absolute_url() if task.pk else "",
        "execution_url": settings.SITE_URL + execution.get_absolute_url() if execution else "",
        "when": _when(execution),
        "duration": format_duration(execution.duration_ms) if execution else "",
        "error_headline": headline,
        "error_tail": tail,
    }


def _when(execution: TaskExecution | None):
    if execution is None:
        return timezone.now()
    return execution.finished_at or execution.started_at or execution.created_at


def _running_ms(execution: TaskExecution) -> int:
    started = execution.started_at or execution.created_at
    return int((timezone.now() - started).total_seconds() * 1000)


def split_error(error: str, lines: int = ERROR_TAIL_LINES) -> tuple[str, str]:
    """The error's first line (the exception) and its last `lines` lines (where it broke).

    When the whole error fits, the tail leaves out the first line: it is
    already shown as the headline.
    """
    all_lines = (error or "").strip().splitlines()
    if not all_lines:
        return "", ""
    rest = all_lines[-lines:] if len(all_lines) > lines else all_lines[1:]
    return all_lines[0], "\n".join(rest).strip("\n")


def _result_items(result: Any) -> list[tuple[str, str]]:
    if result is None:
        return []
    if isinstance(result, dict):
        return [(str(key), _short(value)) for key, value in result.items()]
    return [("result", _short(result))]


def _short(value: Any, limit: int = 200) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
