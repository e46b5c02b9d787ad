"""The Content-Security-Policy holds in a real Chromium: every page works without a violation.

The policy allows scripts and styles only from the site's own static files, so
an inline `<script>`, `style="..."` or `onchange="..."` anywhere (our templates,
crispy forms, Django admin) would be blocked and reported. Chromium reports a
blocked resource twice: as a `securitypolicyviolation` event (caught by a
listener installed before any page script) and as a console error; both are
collected across navigations.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connections
from playwright.sync_api import Page, expect, sync_playwright

from chirpsyncer.tests.factories import UserFactory
from scheduling.tests.factories import TaskExecutionFactory, TaskFactory

ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"]
PASSWORD = "correct horse battery staple"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LISTEN = """
window.seenViolations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  var text = [e.violatedDirective, e.blockedURI, e.sourceFile + ":" + e.lineNumber,
              document.location.pathname].join(" ");
  window.seenViolations.push(text);
  window.reportViolation(text);
});
"""


@pytest.fixture
def browser_page(live_server, monkeypatch) -> Iterator[tuple[Page, list[str]]]:
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    ARTIFACTS.mkdir(exist_ok=True)
    violations: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.set_default_timeout(20_000)
            page.expose_function("reportViolation", lambda text: violations.append(text))
            page.add_init_script(LISTEN)
            page.on(
                "console",
                lambda message: (
                    violations.append(f"console: {message.text}")
                    if "Content Security Policy" in message.text
                    else None
                ),
            )
            yield page, violations
        finally:
            connections.close_all()
            browser.close()


def visit(page: Page, url: str, name: str) -> None:
    """Open `url`, check the policy header came with it, and keep a screenshot."""
    response = page.goto(url)
    policy = response.headers.get("content-security-policy", "")
    assert "script-src 'self'" in policy and "style-src 'self'" in policy, (url, policy)
    page.wait_for_load_state("load")
    page.screenshot(path=str(ARTIFACTS / f"csp-{name}.png"), full_page=True)


def test_no_page_violates_the_content_security_policy(browser_page, live_server):
    page, violations = browser_page
    UserFactory(username="root", is_staff=True, is_superuser=True, password=PASSWORD)
    task = TaskFactory(name="backup_database", description="Copies the database.")
    TaskExecutionFactory(task=task)
    failed = TaskExecutionFactory(
        task=task,
        status="failed",
        result=None,
        error='Traceback (most recent call last):\n  File "x.py"\nOSError: disk full',
    )
    base = live_server.url

    visit(page, f"{base}/admin/login/", "admin-login")
    visit(page, f"{base}/accounts/login/", "login")
    page.fill("#id_username", "root")
    page.fill("#id_password", PASSWORD)
    page.click("button:has-text('Sign in')")
    expect(page).to_have_url(f"{base}/tasks/")

    visit(page, f"{base}/tasks/", "task-list")
    page.select_option("#filter-status", "failed")  # submits without an inline handler
    expect(page).to_have_url(f"{base}/tasks/?status=failed&enabled=")
    visit(page, f"{base}/tasks/backup_database/", "task-detail")
    page.select_option("#history-status", "failed")
    expect(page).to_have_url(f"{base}/tasks/backup_database/?status=failed")
    visit(page, f"{base}/tasks/backup_database/executions/{failed.pk}/", "execution")
    visit(page, f"{base}/no-such-page/", "404")
    visit(page, f"{base}/admin/", "admin-index")
    visit(page, f"{base}/admin/scheduling/task/", "admin-task-list")
    visit(page, f"{base}/admin/scheduling/task/{task.pk}/change/", "admin-task-change")
    visit(page, f"{base}/admin/scheduling/taskexecution/", "admin-execution-list")
    visit(page, f"{base}/admin/chirpsyncer/auditlog/", "admin-auditlog-list")

    assert violations == []

    # Both detectors are alive: an inline script injected now is blocked and reported.
    with page.expect_console_message(lambda m: "Content Security Policy" in m.text):
        page.evaluate(
            "() => { const s = document.createElement('script');"
            " s.textContent = 'window.ran = true'; document.body.appendChild(s); }"
        )
    page.wait_for_function("() => window.seenViolations.length > 0")
    assert page.evaluate("window.ran") is None
