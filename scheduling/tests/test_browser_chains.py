"""Chains, run logs, new tasks and deletion in a real headless Chromium.

The stand-in scheduler of test_browser.py runs queued executions (chain runs
included) with `runner.run_queued`, as `runscheduler` does, once told to.
Screenshots at 1400 and 390 px wide go to test-artifacts/.
"""

import re

import pytest
from django.contrib.auth.models import Permission
from playwright.sync_api import Page, expect

from chirpsyncer.models import AuditLog
from chirpsyncer.tests.factories import UserFactory
from scheduling.models import Task, TaskExecution
from scheduling.scheduler import TaskScheduler
from scheduling.tests.test_browser import (
    ARTIFACTS,
    PASSWORD,
    WAIT_MS,
    _sign_in,
    page,
    scheduler_thread,
)

FIXTURES = (page, scheduler_thread)  # shared with test_browser.py; pytest finds them by name

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1400, "height": 900}


@pytest.fixture
def operator():
    user = UserFactory(username="operator", is_staff=True, password=PASSWORD)
    user.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="scheduling",
            codename__in=["add_task", "change_task", "delete_task", "run_task", "view_task"],
        )
    )
    return user


def shoot(page: Page, name: str) -> None:
    """A full-page screenshot at desktop width and at a phone's, back at desktop after."""
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    page.set_viewport_size(PHONE)
    page.screenshot(path=str(ARTIFACTS / f"{name}-390.png"), full_page=True)
    page.set_viewport_size(DESKTOP)


def create_task(page: Page, live_server, **fields) -> None:
    page.goto(f"{live_server.url}/tasks/")
    page.click("#new-task")
    expect(page).to_have_url(f"{live_server.url}/tasks/new/")
    page.select_option("#id_func", fields.pop("func"))
    for name, value in fields.items():
        selector = f"#id_{name}"
        if page.locator(selector).evaluate("e => e.tagName") == "SELECT":
            page.select_option(selector, label=value) if name == "after_task" else (
                page.select_option(selector, value)
            )
        else:
            page.fill(selector, value)
    page.click("input[name='create']")


def test_a_chain_made_in_the_pages_runs_after_its_upstream_and_links_both_runs(
    page, live_server, operator, scheduler_thread
):
    _sign_in(page, live_server, "operator")
    create_task(page, live_server, func="test_noop", name="extract", cron_expression="0 3 * * *")
    expect(page.locator(".alert-success[role=alert]")).to_contain_text("Created extract")
    create_task(
        page,
        live_server,
        func="test_log_lines",
        name="load",
        trigger_type="after",
        after_task="extract",
        kwargs='{"count": 2, "seconds": 0}',
    )
    expect(page).to_have_url(f"{live_server.url}/tasks/load/")
    expect(page.locator("#runs-after")).to_contain_text("extract, each time it succeeds")
    load = Task.objects.get(name="load")
    assert (load.trigger_type, load.after_task.name, load.next_run_at) == ("after", "extract", None)
    assert AuditLog.objects.filter(action="task.created", user=operator).count() == 2

    page.goto(f"{live_server.url}/tasks/")
    row = page.locator('tr[data-task="load"]')
    expect(row.locator('[data-field="next-run"]')).to_contain_text("after extract")
    shoot(page, "chains-list")

    page.goto(f"{live_server.url}/tasks/extract/")
    expect(page.locator("#then-runs")).to_contain_text("load when this succeeds")
    page.evaluate("window.__same_page = true")
    page.click("#run-now")
    page.evaluate("window.__same_page = true")
    expect(page.locator('[data-live="run_count"]')).to_have_text("0")
    scheduler_thread.go.set()
    # The "Runs" figures and the history follow without a reload.
    expect(page.locator('[data-live="run_count"]')).to_have_text("1", timeout=WAIT_MS)
    expect(page.locator('[data-live="success_count"]')).to_have_text("1")
    upstream = TaskExecution.objects.get(task__name="extract")
    expect(page.locator(f'tr[data-execution="{upstream.pk}"]')).to_have_attribute(
        "data-status", "success"
    )
    assert page.evaluate("window.__same_page") is True
    shoot(page, "chains-upstream-detail")

    child = _wait_for_child(upstream)
    page.click(f'tr[data-execution="{upstream.pk}"] a')
    expect(page.locator("#child-runs")).to_contain_text(f"load #{child.pk}")
    shoot(page, "chains-upstream-run")
    page.click(f"#child-runs a:has-text('load #{child.pk}')")
    expect(page.locator("#parent-run")).to_contain_text(f"extract #{upstream.pk}")
    expect(page.locator("#run-log")).to_contain_text("line 2 of 2", timeout=WAIT_MS)
    expect(page.locator('[data-live="badge"] .badge')).to_have_text("Success")
    shoot(page, "chains-downstream-run")


def _wait_for_child(upstream):
    from scheduling.tests.processes import wait_until

    return wait_until(
        lambda: TaskExecution.objects.filter(parent=upstream, status="success").first(),
        WAIT_MS / 1000,
        "the chain run to finish",
    )


def test_the_run_page_follows_a_log_that_grows_a_line_a_second(
    page, live_server, operator, scheduler_thread
):
    TaskScheduler().add_cron_task(
        "slow-log", "test_log_lines", "0 3 * * *", kwargs={"count": 6, "seconds": 1}
    )
    execution = TaskScheduler().trigger_task_now("slow-log")
    _sign_in(page, live_server, "operator")
    beside = page.context.browser.new_context(viewport=DESKTOP)  # the same user's session
    beside.add_cookies(page.context.cookies())
    detail = beside.new_page()  # the task's page, open beside the run's
    detail.set_default_timeout(WAIT_MS)
    detail.goto(f"{live_server.url}/tasks/slow-log/")
    expect(detail.locator('[data-live="running"]')).to_be_hidden()
    page.goto(f"{live_server.url}{execution.get_absolute_url()}")
    expect(page.locator('[data-live="badge"] .badge')).to_have_text("Queued")
    page.evaluate("window.__same_page = true")
    scheduler_thread.go.set()
    log = page.locator("#run-log")
    expect(log).to_contain_text("line 2 of 6", timeout=WAIT_MS)
    expect(page.locator('[data-live="badge"] .badge')).to_have_text("Running")
    text = log.inner_text()
    assert "line 6 of 6" not in text  # seen while it runs, not only at the end
    expect(detail.locator('[data-live="running"]')).to_be_visible(timeout=WAIT_MS)
    expect(detail.locator(f'tr[data-execution="{execution.pk}"]')).to_have_attribute(
        "data-status", "running"
    )
    shoot(page, "run-log-live")
    expect(log).to_contain_text("line 4 of 6", timeout=WAIT_MS)
    assert len(log.inner_text().splitlines()) > len(text.splitlines())  # new lines arrived
    expect(page.locator('[data-live="badge"] .badge')).to_have_text("Success", timeout=WAIT_MS)
    expect(log).to_contain_text("line 6 of 6")
    expect(page.locator("#result")).to_contain_text('"lines": 6')
    assert page.evaluate("window.__same_page") is True
    shoot(page, "run-log-finished")
    expect(detail.locator('[data-live="run_count"]')).to_have_text("1", timeout=WAIT_MS)
    expect(detail.locator('[data-live="running"]')).to_be_hidden()
    expect(detail.locator(f'tr[data-execution="{execution.pk}"]')).to_have_attribute(
        "data-status", "success"
    )
    detail.screenshot(path=str(ARTIFACTS / "run-log-task-page-after.png"), full_page=True)
    beside.close()


def test_a_task_is_created_from_a_registered_function_then_deleted_after_confirming(
    page, live_server, operator
):
    TaskScheduler().add_cron_task("backup", "test_noop", "0 3 * * *")
    TaskScheduler().add_after_task("after-backup", "test_noop", after="backup")
    _sign_in(page, live_server, "operator")
    page.click("#new-task")
    page.select_option("#id_func", "backup_database")
    # The function's description and default schedule, and the empty fields filled from them.
    expect(page.locator("#func-info .func-default")).to_contain_text("At 03:00 (0 3 * * *)")
    expect(page.locator("#id_name")).to_have_value("backup_database")
    expect(page.locator("#id_cron_expression")).to_have_value("0 3 * * *")
    expect(page.locator("#cron-preview .cron-description")).to_have_text("At 03:00")
    shoot(page, "task-create")

    page.fill("#id_name", "new")
    page.fill("#id_max_retries", "1" + "0" * 30)
    page.click("input[name='create']")
    expect(page.locator("#error_1_id_name")).to_contain_text("reserved")
    expect(page.locator("#error_1_id_max_retries")).to_contain_text("out of range")
    shoot(page, "task-create-errors")
    assert not Task.objects.filter(name="new").exists()

    page.fill("#id_name", "nightly-backup")
    page.fill("#id_max_retries", "2")
    page.fill("#id_cron_expression", "30 4 * * *")
    expect(page.locator("#cron-preview .cron-description")).to_have_text("At 04:30")
    page.click("input[name='create']")
    expect(page).to_have_url(f"{live_server.url}/tasks/nightly-backup/")
    created = Task.objects.get(name="nightly-backup")
    assert (created.func, created.cron_expression, created.max_retries) == (
        "backup_database",
        "30 4 * * *",
        2,
    )

    page.click("#delete")
    expect(page.locator("#confirm-delete")).to_be_visible()
    shoot(page, "task-delete-confirm")
    page.click("#confirm-delete")
    expect(page).to_have_url(f"{live_server.url}/tasks/")
    expect(page.locator(".alert-success[role=alert]")).to_contain_text("Deleted nightly-backup")
    assert not Task.objects.filter(name="nightly-backup").exists()

    page.goto(f"{live_server.url}/tasks/backup/")
    page.click("#delete")
    expect(page.locator("#delete-refused")).to_contain_text(
        re.compile(r"backup cannot be deleted: after-backup runs after it")
    )
    expect(page.locator("#confirm-delete")).to_have_count(0)
    shoot(page, "task-delete-refused")
    assert Task.objects.filter(name="backup").exists()
