"""The weekly report's figures against factory-made history."""

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext

from notifications import report, tasks
from notifications.models import Delivery, DeliveryStatus
from notifications.tests.smtp import free_port, smtp_settings
from scheduling import registry
from scheduling.models import ExecutionStatus
from scheduling.tests.factories import TaskExecutionFactory, TaskFactory

NOW = datetime(2025, 3, 10, 8, 0, tzinfo=UTC)  # a Monday, 08:00

pytestmark = pytest.mark.django_db


def run(task, status=ExecutionStatus.SUCCESS, days_ago=1, **fields):
    when = NOW - timedelta(days=days_ago)
    fields.setdefault("result", None if status != ExecutionStatus.SUCCESS else {"ok": True})
    return TaskExecutionFactory(
        task=task, status=status, created_at=when, started_at=when, finished_at=when, **fields
    )


@pytest.fixture
def week():
    """A week of history, plus runs just outside it that must not count."""
    sessions = TaskFactory(name="cleanup_expired_sessions")
    archive = TaskFactory(name="archive_audit_logs")
    backup = TaskFactory(name="backup_database")
    sync = TaskFactory(name="sync-feeds")

    run(sessions, result={"deleted": 10}, duration_ms=100)
    run(sessions, result={"deleted": 5}, duration_ms=300, days_ago=3)
    run(sessions, result={"deleted": 1000}, days_ago=8)  # too old
    run(archive, result={"archived": 2500, "file": "a.jsonl.gz"}, duration_ms=9_000)
    run(
        archive,
        status=ExecutionStatus.FAILED,
        error="OSError: disk full\n\nTraceback",
        days_ago=0.5,
    )
    run(backup, result={"path": "/var/backups/db-1.sqlite3", "bytes": 1_000_000}, days_ago=2)
    run(backup, result={"path": "/var/backups/db-2.sqlite3", "bytes": 3_000_000}, days_ago=1)
    run(sync, duration_ms=120_000)
    run(sync, status=ExecutionStatus.ABANDONED, error="", duration_ms=None)
    run(sync, status=ExecutionStatus.SKIPPED)  # not a run with an outcome
    run(sync, status=ExecutionStatus.FAILED, error="Timeout\nmore", days_ago=0.01)
    return sessions, archive, backup, sync


def test_runs_and_success_rate_per_task(week):
    figures = {t.name: t for t in report.build(now=NOW).tasks}

    assert {name: (t.runs, t.successes, t.failures) for name, t in figures.items()} == {
        "archive_audit_logs": (2, 1, 1),
        "backup_database": (2, 2, 0),
        "cleanup_expired_sessions": (2, 2, 0),
        "sync-feeds": (3, 1, 2),
    }
    assert figures["sync-feeds"].success_rate == pytest.approx(1 / 3)
    assert figures["cleanup_expired_sessions"].avg_ms == 200


def test_totals_cover_all_tasks(week):
    built = report.build(now=NOW)

    assert (built.total_runs, built.total_failures) == (9, 3)
    assert built.success_rate == pytest.approx(6 / 9)


def test_each_failure_is_listed_newest_first_with_a_link(week):
    _sessions, archive, _backup, sync = week
    built = report.build(now=NOW)

    assert [(f.task_name, f.status, f.headline) for f in built.failures] == [
        ("sync-feeds", "failed", "Timeout"),
        ("archive_audit_logs", "failed", "OSError: disk full"),
        ("sync-feeds", "abandoned", ""),
    ]
    newest = built.failures[0]
    assert newest.url == (
        f"https://scheduler.example.com/tasks/sync-feeds/executions/{newest.execution_id}/"
    )
    assert built.failures_total == 3


def test_slowest_tasks_by_longest_run(week):
    assert [t.name for t in report.build(now=NOW).slowest][:3] == [
        "sync-feeds",
        "archive_audit_logs",
        "cleanup_expired_sessions",
    ]


def test_maintenance_totals_come_from_the_results(week):
    built = report.build(now=NOW)

    assert built.sessions_removed == 15
    assert built.rows_archived == 2500
    assert built.backups_total == 2
    assert built.backup_bytes == 4_000_000
    assert [(b.path, b.bytes) for b in built.backups] == [
        ("/var/backups/db-2.sqlite3", 3_000_000),
        ("/var/backups/db-1.sqlite3", 1_000_000),
    ]


def test_an_empty_week_reports_zeros():
    built = report.build(now=NOW)

    assert (built.total_runs, built.success_rate, built.failures, built.backups) == (
        0,
        None,
        [],
        [],
    )


def test_the_figures_take_a_fixed_number_of_queries(week):
    """Aggregates, not a loop: more history must not mean more queries."""
    with CaptureQueriesContext(connection) as few:
        report.build(now=NOW)
    for _ in range(20):
        run(week[3])
        run(week[2], result={"path": "x", "bytes": 1})
    with CaptureQueriesContext(connection) as many:
        report.build(now=NOW)

    assert len(many) == len(few) <= 8


def test_the_report_mail_shows_the_figures(week):
    from notifications import emails

    email = emails.weekly_report(report.build(now=NOW))

    for body in (email.text, email.html):
        assert "sync-feeds" in body
        assert "33.3%" in body
        assert "2,500" in body  # rows archived
        assert "3.8\xa0MB" in body or "3.8 MB" in body  # 4,000,000 bytes in all
        assert "/tasks/sync-feeds/executions/" in body
    assert email.subject == "Weekly report 3 Mar–10 Mar 2025: 9 runs, 3 failures"


def test_the_report_mail_links_each_tasks_runs_of_the_week_as_csv(week, task_viewer_client):
    from django.conf import settings

    from notifications import emails

    email = emails.weekly_report(report.build(now=NOW))
    query = "since=2025-03-03T08%3A00%3A00%2B00%3A00&until=2025-03-10T08%3A00%3A00%2B00%3A00"
    link = f"{settings.SITE_URL}/tasks/sync-feeds/history.csv?{query}"
    assert link in email.text and link.replace("&", "&amp;") in email.html
    # The link exports exactly the week's runs of that task, as the report counted them.
    response = task_viewer_client.get(link.removeprefix(settings.SITE_URL))
    text = b"".join(response.streaming_content).decode()
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert [row["status"] for row in rows] == ["success", "abandoned", "skipped", "failed"]
    assert {row["task"] for row in rows} == {"sync-feeds"}


def test_it_is_registered_for_monday_mornings():
    entry = registry.get("send_weekly_report")

    assert entry.func is tasks.send_weekly_report
    assert entry.schedule == "0 8 * * 1"


def test_the_task_returns_what_it_sent(staff, week):
    with time_machine.travel(NOW, tick=False):
        result = tasks.send_weekly_report()

    assert result == {"recipients": 1, "channels": 0, "sent": 1, "failed": 0, "suppressed": 0}
    assert "sync-feeds" in mail.outbox[0].body


def test_the_task_fails_when_no_recipient_could_be_reached(staff):
    with smtp_settings(free_port()), pytest.raises(RuntimeError, match="reached no one"):
        tasks.send_weekly_report()

    assert Delivery.objects.get().status == DeliveryStatus.FAILED


def test_it_reads_the_real_session_cleanup_result(db):
    """The report's keys match what maintenance's task actually returns."""
    from django.contrib.sessions.models import Session
    from django.utils import timezone

    from scheduling.engine import runner

    past = timezone.now() - timedelta(days=1)
    for n in range(3):
        Session.objects.create(session_key=f"expired{n}", session_data="x", expire_date=past)
    task = TaskFactory(name="cleanup_expired_sessions", func="cleanup_expired_sessions")

    execution = runner.run_now(task)

    assert execution.status == ExecutionStatus.SUCCESS, execution.error
    assert report.build().sessions_removed == 3


def test_the_registered_task_runs_through_the_runner(staff):
    from scheduling.engine import runner

    task = TaskFactory(name="send_weekly_report", func="send_weekly_report")

    execution = runner.run_now(task)

    assert execution.status == ExecutionStatus.SUCCESS, execution.error
    assert execution.result == {
        "recipients": 1,
        "channels": 0,
        "sent": 1,
        "failed": 0,
        "suppressed": 0,
    }
    assert mail.outbox[0].subject.startswith("Weekly report")
