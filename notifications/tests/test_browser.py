"""An alert mail and the weekly report, rendered by a real (headless) Chromium.

Mail clients are browsers with fewer features; if the HTML reads well here,
with inline styles only, it reads well in them. Screenshots are saved under
test-artifacts/ for a human to look at.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.conf import settings
from playwright.sync_api import Page, sync_playwright

from notifications import emails, report
from scheduling.models import ExecutionStatus
from scheduling.tests.factories import TaskExecutionFactory, TaskFactory

ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
NOW = datetime(2025, 3, 10, 8, 0, tzinfo=UTC)

pytestmark = [pytest.mark.browser, pytest.mark.django_db]


@contextmanager
def rendered(html: str, name: str, width: int = 760) -> Iterator[Page]:
    """Render `html` offline in Chromium, save a full-page PNG, yield the page.

    The HTML is built before Chromium starts: Playwright's sync API runs an
    event loop in this thread, inside which Django refuses database queries.
    No network: a mail must not depend on external assets.
    """
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": 600})
            page.route("**/*", lambda route: route.abort())
            page.set_content(html, wait_until="load")
            page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
            yield page
        finally:
            browser.close()


def failing_execution():
    task = TaskFactory(
        name="backup_database",
        description="Copies the database to BACKUP_DIR <nightly>.",
        cron_expression="0 3 * * *",
        run_count=57,
        success_count=54,
        failure_count=3,
        consecutive_failures=3,
    )
    error = "\n".join(
        [
            "OSError: [Errno 28] No space left on device: '/var/backups/db.sqlite3'",
            "",
            "Traceback (most recent call last):",
            '  File "/srv/app/scheduling/runner.py", line 140, in _call',
            "    return True, func(**kwargs), ''",
            '  File "/srv/app/maintenance/backup.py", line 61, in backup_database',
            "    shutil.copyfileobj(source, target, CHUNK)",
            "OSError: [Errno 28] No space left on device: '/var/backups/db.sqlite3'",
        ]
    )
    return TaskExecutionFactory(
        task=task,
        status=ExecutionStatus.FAILED,
        error=error,
        result=None,
        duration_ms=4_210,
        attempt=2,
        host="sched-1",
        finished_at=NOW,
    )


def week_of_history():
    tasks = {
        name: TaskFactory(name=name)
        for name in [
            "aggregate_daily_stats",
            "archive_audit_logs",
            "backup_database",
            "cleanup_expired_sessions",
            "sync-feeds",
        ]
    }
    for day in range(7):
        when = NOW - timedelta(days=day, hours=1)
        for name, task in tasks.items():
            result = {
                "cleanup_expired_sessions": {"deleted": 120 + day},
                "archive_audit_logs": {"archived": 4000 + day},
                "backup_database": {
                    "path": f"/var/backups/chirpsyncer-2025030{day + 1}.sqlite3.gz",
                    "bytes": 48_000_000 + day * 250_000,
                },
            }.get(name, {"ok": True})
            failed = name == "sync-feeds" and day in (1, 4)
            TaskExecutionFactory(
                task=task,
                status=ExecutionStatus.FAILED if failed else ExecutionStatus.SUCCESS,
                error="TimeoutError: upstream took longer than 30 s" if failed else "",
                result=None if failed else result,
                duration_ms=1_500 * (len(name) + day),
                created_at=when,
                started_at=when,
                finished_at=when,
            )


def test_a_failure_alert_reads_well_in_a_browser():
    execution = failing_execution()
    email = emails.task_failure(execution.task, execution)

    with rendered(email.html, "email-task-failure") as page:
        assert page.get_by_text("backup_database has started failing").is_visible()
        assert page.get_by_text("No space left on device").first.is_visible()
        assert page.get_by_role("link", name="Open backup_database").is_visible()
        assert page.evaluate("document.body.scrollHeight") > 300
    assert (ARTIFACTS / "email-task-failure.png").stat().st_size > 10_000


def test_the_weekly_report_reads_well_in_a_browser():
    week_of_history()
    email = emails.weekly_report(report.build(now=NOW))

    with rendered(email.html, "email-weekly-report") as page:
        assert page.get_by_text("Last week's scheduled tasks").is_visible()
        assert page.get_by_role("link", name="sync-feeds #").first.is_visible()
        assert page.get_by_text("Backups made").is_visible()
        assert page.evaluate("document.body.scrollHeight") > 600
    assert (ARTIFACTS / "email-weekly-report.png").stat().st_size > 10_000


def test_the_failure_alert_fits_a_phone_screen():
    execution = failing_execution()
    email = emails.task_failure(execution.task, execution)

    with rendered(email.html, "email-task-failure-phone", width=390) as page:
        # Nothing forces sideways scrolling on a narrow screen.
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
