"""The task pages in a real headless Chromium against a live server.

A stand-in scheduler thread beats the heartbeat and, once told to, runs queued
executions with `runner.run_queued`, exactly as `runscheduler` does; the test
decides when, so it can see a run queued and then see it finish, without
sleeping. Screenshots go to test-artifacts/ for a human to look at.
"""

import os
import re
import socket
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection, connections
from django.utils import timezone
from playwright.sync_api import Page, expect, sync_playwright

from chirpsyncer.models import AuditLog
from chirpsyncer.tests.factories import UserFactory
from scheduling.engine import heartbeat, runner
from scheduling.models import Task, TaskExecution
from scheduling.services import save_task
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
PASSWORD = "correct horse battery staple"
WAIT_MS = 20_000

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


class StandInScheduler(threading.Thread):
    """Heartbeats, and runs queued executions once `go` is set (like runscheduler)."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.go = threading.Event()
        self.stop = threading.Event()
        self.node_id = heartbeat.new_node_id()

    def run(self) -> None:
        try:
            heartbeat.register(self.node_id)
            while not self.stop.is_set():
                heartbeat.beat(self.node_id, is_leader=True)
                if self.go.is_set():
                    queued = TaskExecution.objects.filter(status="queued")
                    for pk in list(queued.values_list("pk", flat=True)):
                        runner.run_queued(pk)
                self.stop.wait(0.2)
        finally:
            connection.close()


@pytest.fixture
def scheduler_thread() -> Iterator[StandInScheduler]:
    thread = StandInScheduler()
    thread.start()
    yield thread
    thread.stop.set()
    thread.join(timeout=10)


def _history(task: Task, statuses: str, base_ms: int) -> None:
    """Twenty-odd past runs (s=success f=failed k=skipped) so the sparklines have a shape."""
    now = timezone.now()
    for i, code in enumerate(statuses):
        status = {"s": "success", "f": "failed", "k": "skipped"}[code]
        at = now - timedelta(hours=len(statuses) - i)
        TaskExecutionFactory(
            task=task,
            status=status,
            scheduled_for=at,
            created_at=at,
            started_at=at,
            finished_at=at,
            duration_ms=None if status == "skipped" else base_ms + (i * 137) % (base_ms or 1),
            error="OSError: [Errno 28] No space left on device" if status == "failed" else "",
            host="worker-1",
        )
    last = task.executions.first()
    # Counters are the runner's: Task.save() leaves them alone, so write them directly.
    Task.objects.filter(pk=task.pk).update(
        last_status=last.status,
        last_run_at=last.finished_at,
        last_duration_ms=last.duration_ms,
        run_count=len(statuses),
        success_count=statuses.count("s"),
        failure_count=statuses.count("f"),
    )


@pytest.fixture
def tasks() -> dict[str, Task]:
    made = {
        "backup_database": TaskFactory(
            name="backup_database",
            description="Copies the database to BACKUP_DIR and keeps the newest BACKUP_KEEP.",
            cron_expression="0 3 * * *",
            timezone="Europe/Madrid",
        ),
        "cleanup_expired_sessions": TaskFactory(
            name="cleanup_expired_sessions",
            description="Deletes expired Django sessions in batches.",
            cron_expression="0 * * * *",
        ),
        "archive_audit_logs": TaskFactory(
            name="archive_audit_logs",
            description="Moves audit rows older than 90 days to gzip JSON lines <archive>.",
            cron_expression="0 2 * * *",
            kwargs={"days_old": 90},
        ),
        "aggregate_daily_stats": TaskFactory(
            name="aggregate_daily_stats",
            description="Rolls sync records up into one row per user and day.",
            trigger_type="interval",
            cron_expression="",
            interval_seconds=900,
            enabled=False,
        ),
    }
    _history(made["backup_database"], "ssssssssfssssssssssss", 4200)
    _history(made["cleanup_expired_sessions"], "ssssssksssssssssssss", 120)
    _history(made["archive_audit_logs"], "sssssssssssssffffff", 900)
    for task in made.values():
        task.refresh_from_db()
        save_task(task)  # next_run_at from the schedule
    return made


@pytest.fixture
def page(live_server, monkeypatch) -> Iterator[Page]:
    # Playwright's sync API runs an event loop in this thread; the test's own
    # ORM calls are plain synchronous code between browser steps.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.set_default_timeout(WAIT_MS)
            # Offline: anything not served by the live server is refused.
            page.route(
                "**/*",
                lambda route: (
                    route.continue_()
                    if route.request.url.startswith(live_server.url)
                    else route.abort()
                ),
            )
            yield page
        finally:
            # ORM calls made while Playwright's loop runs get their own
            # connections (asgiref scopes them to the loop's task): close them
            # here, or PostgreSQL refuses to drop the test database.
            connections.close_all()
            browser.close()


def _sign_in(page: Page, live_server, username: str) -> None:
    page.goto(f"{live_server.url}/tasks/")
    expect(page).to_have_url(f"{live_server.url}/accounts/login/?next=/tasks/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.screenshot(path=str(ARTIFACTS / "tasks-login.png"))
    page.click("button:has-text('Sign in')")
    expect(page).to_have_url(f"{live_server.url}/tasks/")


@pytest.fixture
def staff_user():
    from django.contrib.auth.models import Permission

    user = UserFactory(username="operator", is_staff=True, password=PASSWORD)
    user.user_permissions.add(*Permission.objects.filter(codename__in=["run_task", "change_task"]))
    return user


def test_run_now_from_the_list_updates_the_row_without_a_reload(
    page, live_server, staff_user, tasks, scheduler_thread
):
    _sign_in(page, live_server, "operator")
    row = page.locator('tr[data-task="cleanup_expired_sessions"]')
    expect(page.locator("#scheduler-banner")).to_have_attribute("data-state", "running")
    expect(page.locator("#task-table svg.sparkline")).to_have_count(3)
    expect(page.locator("text=<archive>")).to_have_count(1)  # shown as text, not markup
    page.screenshot(path=str(ARTIFACTS / "tasks-list.png"), full_page=True)

    row.locator("button:has-text('Run now')").click()
    expect(page.locator(".alert-success[role=alert]")).to_contain_text(
        "Queued a run of cleanup_expired_sessions"
    )
    execution = TaskExecution.objects.get(trigger="manual")
    assert execution.status == "queued" and execution.requested_by == staff_user
    page.evaluate("window.__still_the_same_page = true")

    before = Task.objects.get(name="cleanup_expired_sessions").run_count
    scheduler_thread.go.set()
    expect(row.locator('[data-field="last-run"]')).to_contain_text("now", timeout=WAIT_MS)
    expect(row.locator('[data-field="last-run"] .badge')).to_have_text("Success")
    assert page.evaluate("window.__still_the_same_page") is True
    assert Task.objects.get(name="cleanup_expired_sessions").run_count == before + 1
    assert AuditLog.objects.filter(action="task.triggered", user=staff_user).count() == 1
    page.screenshot(path=str(ARTIFACTS / "tasks-list-after-run.png"), full_page=True)


def test_run_now_on_the_detail_page_shows_the_run_queued_then_finished(
    page, live_server, staff_user, tasks, scheduler_thread
):
    _sign_in(page, live_server, "operator")
    page.click("a:has-text('backup_database')")
    expect(page).to_have_url(f"{live_server.url}/tasks/backup_database/")
    page.click("#run-now")
    expect(page.locator(".alert-success[role=alert]")).to_contain_text(
        "Queued a run of backup_database"
    )
    new_id = TaskExecution.objects.get(trigger="manual").pk
    new_row = page.locator(f'tr[data-execution="{new_id}"]')
    expect(new_row).to_have_attribute("data-status", "queued")
    expect(new_row).to_contain_text("operator")
    page.screenshot(path=str(ARTIFACTS / "task-detail-queued.png"), full_page=True)

    scheduler_thread.go.set()
    expect(page.locator(f'tr[data-execution="{new_id}"]')).to_have_attribute(
        "data-status", "success", timeout=WAIT_MS
    )
    page.screenshot(path=str(ARTIFACTS / "task-detail-finished.png"), full_page=True)

    page.click(f'tr[data-execution="{new_id}"] a')
    expect(page.locator("#result")).to_contain_text('"ok": true')
    page.screenshot(path=str(ARTIFACTS / "execution-detail.png"), full_page=True)


def test_the_cron_field_previews_errors_and_next_runs_as_you_type(
    page, live_server, staff_user, tasks
):
    _sign_in(page, live_server, "operator")
    page.goto(f"{live_server.url}/tasks/archive_audit_logs/")
    expect(page.locator("#cron-preview .cron-description")).to_have_text("At 02:00")

    cron = page.locator("#id_cron_expression")
    cron.fill("61 * * * *")
    expect(page.locator("#cron-preview .cron-error")).to_have_text(
        "minute: 61 is out of range 0-59"
    )
    expect(cron).to_have_class(re.compile(r"\bis-invalid\b"))
    page.screenshot(path=str(ARTIFACTS / "cron-preview-invalid.png"), full_page=True)

    # Submitting it anyway: the server says the same, and nothing is saved.
    page.click("input[name='save']")
    expect(page.locator("#error_1_id_cron_expression")).to_contain_text(
        "minute: 61 is out of range 0-59"
    )
    assert Task.objects.get(name="archive_audit_logs").cron_expression == "0 2 * * *"

    page.locator("#id_cron_expression").fill("*/15 9-17 * * MON-FRI")
    expect(page.locator("#cron-preview .cron-description")).to_contain_text("Every 15 minutes")
    runs = page.locator("#cron-preview .next-runs li")
    expect(runs).to_have_count(5)
    first = runs.first.inner_text()
    assert first[:3] in {"Mon", "Tue", "Wed", "Thu", "Fri"}
    assert first.split()[2].split(":")[1] in {"00", "15", "30", "45"}
    page.screenshot(path=str(ARTIFACTS / "cron-preview-valid.png"), full_page=True)

    page.click("input[name='save']")
    expect(page.locator(".alert-success[role=alert]")).to_contain_text("Saved the schedule")
    assert Task.objects.get(name="archive_audit_logs").cron_expression == "*/15 9-17 * * MON-FRI"
    expect(page.locator("#upcoming li")).to_have_count(5)
    page.screenshot(path=str(ARTIFACTS / "task-detail-saved.png"), full_page=True)


def test_a_viewer_sees_how_runs_went_and_an_operator_sees_why(
    page, live_server, tasks, scheduler_thread
):
    """The same failed run through two pairs of eyes: no details without view_task."""
    from django.contrib.auth.models import Group

    from scheduling.groups import OPERATORS, ensure_groups

    ensure_groups()
    UserFactory(username="reader", password=PASSWORD)  # an ordinary ChirpSyncer account
    operator = UserFactory(username="operator", is_staff=True, password=PASSWORD)
    operator.groups.add(Group.objects.get(name=OPERATORS))
    failed = tasks["archive_audit_logs"].executions.filter(status="failed").first()
    TaskExecution.objects.filter(pk=failed.pk).update(
        error="OSError: [Errno 28] No space left on device\n\nTraceback (most recent call last):\n"
        '  File "/srv/chirpsyncer/maintenance/archive.py", line 120, in write_rows\n',
        requested_by=operator,
        pid=4321,
    )
    run_url = f"{live_server.url}{failed.get_absolute_url()}"
    secrets = ["No space left", "/srv/chirpsyncer", "worker-1", "4321"]

    _sign_in(page, live_server, "reader")
    expect(page.locator("#scheduler-banner")).to_have_attribute("data-state", "running")
    page.screenshot(path=str(ARTIFACTS / "permissions-viewer-list.png"), full_page=True)
    banner = page.locator("#scheduler-banner").inner_text()
    assert socket.gethostname() not in banner and str(os.getpid()) not in banner
    page.goto(f"{live_server.url}/tasks/archive_audit_logs/")
    expect(page.locator(f'tr[data-execution="{failed.pk}"] .badge')).to_have_text("Failed")
    expect(page.locator("#history .details-hidden")).to_contain_text("Can view task")
    text = page.locator("body").inner_text()
    assert "days_old" not in text and "factories.noop" not in text and "worker-1" not in text
    page.screenshot(path=str(ARTIFACTS / "permissions-viewer-task.png"), full_page=True)
    page.goto(run_url)
    expect(page.locator("#details-hidden")).to_contain_text("Can view task")
    page.screenshot(path=str(ARTIFACTS / "permissions-viewer-run.png"), full_page=True)
    text = page.locator("body").inner_text()
    assert [s for s in secrets if s in text] == [] and "operator" not in text

    page.click("text=Sign out")
    _sign_in(page, live_server, "operator")
    page.goto(f"{live_server.url}/tasks/archive_audit_logs/")
    expect(page.locator(f'tr[data-execution="{failed.pk}"]')).to_contain_text("No space left")
    expect(page.locator(".config")).to_contain_text("days_old")
    page.screenshot(path=str(ARTIFACTS / "permissions-operator-task.png"), full_page=True)
    page.goto(run_url)
    expect(page.locator("#traceback")).to_contain_text("/srv/chirpsyncer/maintenance/archive.py")
    text = page.locator("body").inner_text()
    assert all(s in text for s in secrets)
    page.screenshot(path=str(ARTIFACTS / "permissions-operator-run.png"), full_page=True)
