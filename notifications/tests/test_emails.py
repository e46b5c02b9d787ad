"""What each kind of email says, and that user-supplied text cannot inject HTML."""

from datetime import UTC, datetime

import pytest
from django.core import mail

from notifications import emails, report
from notifications.service import NotificationService
from scheduling.models import ExecutionStatus
from scheduling.tests.factories import TaskExecutionFactory, TaskFactory

pytestmark = pytest.mark.django_db

NASTY = '<script>alert("x")</script>'
TRACEBACK = "\n".join(
    [f"RuntimeError: {NASTY}", "", "Traceback (most recent call last):"]
    + [f'  File "step{i}.py", line {i}, in step{i}' for i in range(30)]
    + [f"RuntimeError: {NASTY}"]
)


@pytest.fixture
def nasty_failure():
    task = TaskFactory(name="sync-feeds", description=f"Syncs feeds {NASTY}", run_count=42)
    return TaskExecutionFactory(
        task=task,
        status=ExecutionStatus.FAILED,
        error=TRACEBACK,
        result=None,
        duration_ms=83_500,
        started_at=datetime(2025, 7, 1, 10, 0, 0, tzinfo=UTC),
        finished_at=datetime(2025, 7, 1, 10, 1, 23, tzinfo=UTC),
    )


def test_failure_html_escapes_description_and_error(nasty_failure):
    email = emails.task_failure(nasty_failure.task, nasty_failure)

    assert NASTY not in email.html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in email.html


def test_failure_text_keeps_the_text_as_written(nasty_failure):
    email = emails.task_failure(nasty_failure.task, nasty_failure)

    assert f"Syncs feeds {NASTY}" in email.text
    assert "&lt;" not in email.text


def test_failure_mail_shows_task_when_duration_run_count_and_link(nasty_failure):
    email = emails.task_failure(nasty_failure.task, nasty_failure)

    for body in (email.text, email.html):
        assert "sync-feeds" in body
        assert "Tue 1 Jul 2025, 10:01:23 UTC" in body
        assert "1 min 23 s" in body
        assert "42 runs" in body
        assert "https://scheduler.example.com/tasks/sync-feeds/" in body
    assert email.subject == f"[Failing] sync-feeds: RuntimeError: {NASTY}"


def test_failure_mail_shows_only_the_errors_last_lines(nasty_failure):
    email = emails.task_failure(nasty_failure.task, nasty_failure)

    assert 'File "step29.py"' in email.text
    assert 'File "step0.py"' not in email.text


def test_datetimes_render_in_the_configured_time_zone(settings, nasty_failure):
    settings.TIME_ZONE = "Europe/Madrid"

    email = emails.task_failure(nasty_failure.task, nasty_failure)

    assert "Tue 1 Jul 2025, 12:01:23 CEST" in email.text
    assert "Times are in Europe/Madrid" in email.text


def test_every_kind_renders_a_subject_text_and_html(nasty_failure):
    task = nasty_failure.task
    rendered = [
        emails.task_failure(task, nasty_failure, reminder=True),
        emails.task_overdue(task, nasty_failure),
        emails.task_recovered(task, nasty_failure, failures=3),
        emails.task_completion(task, nasty_failure, result={"deleted": 12}),
        emails.weekly_report(report.build()),
    ]

    for email in rendered:
        assert email.subject and "\n" not in email.subject
        assert email.text.strip() and "<html" not in email.text
        assert email.html.lstrip().startswith("<!DOCTYPE html>")
        assert NASTY not in email.html


def test_html_mail_carries_a_plain_text_alternative(staff, nasty_failure):
    NotificationService().notify_task_failure("sync-feeds", "disk full", ["ops@example.com"])

    [message] = mail.outbox
    assert "disk full" in message.body
    assert [mimetype for _content, mimetype in message.alternatives] == ["text/html"]


def test_send_email_with_html_makes_the_text_part_from_it():
    NotificationService().send_email(
        "ops@example.com", "Hello", "<p>Line <b>one</b></p><p>Line two</p>", html=True
    )

    [message] = mail.outbox
    assert message.body == "Line one\nLine two\n"
    assert message.alternatives[0][0] == "<p>Line <b>one</b></p><p>Line two</p>"


def test_format_duration_reads_naturally():
    assert [emails.format_duration(ms) for ms in (850, 12_345, 245_000, 7_380_000)] == [
        "850 ms",
        "12.3 s",
        "4 min 05 s",
        "2 h 03 min",
    ]


def test_the_chat_text_of_a_failure_is_a_few_lines_not_the_traceback(nasty_failure):
    email = emails.task_failure(nasty_failure.task, nasty_failure)

    assert email.chat.splitlines() == [
        f"RuntimeError: {NASTY}",
        f"Run #{nasty_failure.pk} (schedule), Tue 1 Jul, 10:01 UTC, took 1 min 23 s.",
        "A reminder follows every 24 h while it keeps failing.",
        "https://scheduler.example.com/tasks/sync-feeds/",
    ]


def test_the_chat_text_of_a_recovery_and_a_completion(nasty_failure):
    task = nasty_failure.task
    done = TaskExecutionFactory(task=task, status=ExecutionStatus.SUCCESS, result={"synced": 7})

    recovered = emails.task_recovered(task, done, failures=3).chat
    completed = emails.task_completion(task, done).chat

    assert recovered.startswith("Succeeded again after 3 failed runs.\nRun #")
    assert "\nsynced: 7\n" in completed
    assert completed.endswith("/tasks/sync-feeds/")
