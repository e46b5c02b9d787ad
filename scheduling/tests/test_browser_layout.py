"""The task pages on a desktop, on a 390 px phone and in dark mode, in a real Chromium.

Screenshots go to test-artifacts/ (tasks-*-1400.png, *-390.png, *-dark.png) for a
person to look at; the assertions are what a person would check on them: nothing
wider than the screen, the menu folded away, Next run and Run now in reach, the
charts drawn, and colours that change with the theme.
"""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from scheduling import triggers
from scheduling.models import Task, TaskExecution
from scheduling.tests import test_browser
from scheduling.tests.test_browser import ARTIFACTS, _sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# The browser, the signed-in operator and the four tasks of the other browser tests.
page, staff_user, tasks = test_browser.page, test_browser.staff_user, test_browser.tasks

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1400, "height": 900}


def _overflow(page: Page) -> int:
    """How far the page is wider than the window (0: no sideways scrolling)."""
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


def _month_of_runs(task: Task) -> None:
    """About 130 runs over 35 days, a few failing, durations that wander: a chart worth seeing."""
    now = timezone.now()
    runs = []
    for i in range(130):
        at = now - timedelta(hours=6.5 * (130 - i))
        status = "failed" if i % 23 == 7 else "skipped" if i % 41 == 3 else "success"
        runs.append(
            TaskExecution(
                task=task,
                status=status,
                scheduled_for=at,
                created_at=at,
                started_at=at,
                finished_at=at,
                duration_ms=None if status == "skipped" else 3000 + (i * 389) % 2500,
                error="OSError: [Errno 28] No space left on device" if status == "failed" else "",
            )
        )
    TaskExecution.objects.bulk_create(runs)


def _next_runs_set() -> None:
    """Next run as the scheduler would have set it (factories leave it empty)."""
    for task in Task.objects.filter(enabled=True):
        Task.objects.filter(pk=task.pk).update(
            next_run_at=triggers.next_run_after(task, timezone.now())
        )


def _screenshot(page: Page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_the_task_list_fits_a_phone_as_cards(page, live_server, staff_user, tasks):
    _next_runs_set()
    _sign_in(page, live_server, "operator")
    expect(page.locator("#task-table thead")).to_be_visible()
    _screenshot(page, "tasks-list-1400")

    page.set_viewport_size(PHONE)
    page.reload()
    assert _overflow(page) == 0
    expect(page.locator("#task-table thead")).to_be_hidden()  # each row is a card
    # The menu is folded behind its button; "Signed in as" no longer runs off the screen.
    expect(page.locator(".navbar-toggler")).to_be_visible()
    expect(page.locator("text=Signed in as")).to_be_hidden()
    for name in ["backup_database", "cleanup_expired_sessions", "archive_audit_logs"]:
        row = page.locator(f'tr[data-task="{name}"]')
        for part in [row.locator('[data-field="next-run"]'), row.locator("text=Run now")]:
            box = part.bounding_box()
            assert box and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], name
    label = page.locator('tr[data-task="backup_database"] [data-field="next-run"]')
    before = label.evaluate("cell => getComputedStyle(cell, '::before').content")
    assert before == '"Next run"'
    _screenshot(page, "tasks-list-390")

    page.click(".navbar-toggler")
    expect(page.locator("#main-nav")).to_have_class("navbar-collapse collapse show")  # opened
    expect(page.locator("text=Signed in as")).to_be_visible()
    expect(page.locator("button:has-text('Sign out')")).to_be_visible()
    assert _overflow(page) == 0
    _screenshot(page, "tasks-list-390-menu")

    page.locator('tr[data-task="cleanup_expired_sessions"] >> text=Run now').click()
    expect(page.locator(".alert-success[role=alert]")).to_contain_text(
        "Queued a run of cleanup_expired_sessions"
    )


def test_the_detail_page_draws_its_charts_on_a_desktop_a_phone_and_in_the_dark(
    page, live_server, staff_user, tasks
):
    _month_of_runs(tasks["backup_database"])
    _next_runs_set()
    _sign_in(page, live_server, "operator")
    page.goto(f"{live_server.url}/tasks/backup_database/")
    durations = page.locator("svg.chart-durations")
    expect(durations).to_have_attribute("role", "img")
    expect(durations.locator("rect.bar")).to_have_count(100)
    expect(page.locator("svg.chart-days rect.track")).to_have_count(30)
    assert durations.bounding_box()["width"] > 600
    page.click("text=These days as a table")
    expect(page.locator("#charts details[open] tbody tr")).to_have_count(30)
    page.click("text=These days as a table")
    _screenshot(page, "task-detail-1400")
    page.locator("#charts").screenshot(path=str(ARTIFACTS / "task-charts-1400.png"))

    light = page.locator("svg.chart-durations rect.status-success").first.evaluate(
        "bar => getComputedStyle(bar).fill"
    )
    page.set_viewport_size(PHONE)
    page.reload()
    assert _overflow(page) == 0
    assert 250 < durations.bounding_box()["width"] <= PHONE["width"]
    _screenshot(page, "task-detail-390")
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(ARTIFACTS / "task-detail-390-top.png"))  # what a phone shows first
    page.locator("#charts").screenshot(path=str(ARTIFACTS / "task-charts-390.png"))

    page.emulate_media(color_scheme="dark")
    page.reload()
    expect(page.locator("html")).to_have_attribute("data-bs-theme", "dark")
    dark = page.locator("svg.chart-durations rect.status-success").first.evaluate(
        "bar => getComputedStyle(bar).fill"
    )
    assert light == "rgb(25, 135, 84)" and dark == "rgb(117, 183, 152)"  # success, emphasis
    assert _overflow(page) == 0
    _screenshot(page, "task-detail-390-dark")
    page.locator("#charts").screenshot(path=str(ARTIFACTS / "task-charts-390-dark.png"))
    page.set_viewport_size(DESKTOP)
    page.reload()
    _screenshot(page, "task-detail-1400-dark")
    page.locator("#charts").screenshot(path=str(ARTIFACTS / "task-charts-1400-dark.png"))
    page.goto(f"{live_server.url}/tasks/")
    _screenshot(page, "tasks-list-1400-dark")
