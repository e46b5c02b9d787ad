"""Rows holding values no check lets in (raw SQL, rows from before the checks): pages still work.

Each row is written straight to the database around the validators and the
check constraints; the task page, the list, the status API, the toggle and
the admin must answer without a 500, and show the stored value escaped.
"""

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.urls import reverse

from chirpsyncer.models import AuditLog
from scheduling.models import Task
from scheduling.tests.factories import TaskExecutionFactory, TaskFactory
from scheduling.tests.stored import DEEP_OBJECT, HUGE, LONE_SURROGATE, write_raw

pytestmark = pytest.mark.django_db

SQLITE_ONLY = pytest.mark.skipif(
    connection.vendor != "sqlite", reason="PostgreSQL's jsonb refuses this text outright"
)

BAD_ROWS = [
    pytest.param({"trigger_type": "interval", "interval_seconds": HUGE}, id="huge-interval"),
    pytest.param({"misfire_grace_seconds": HUGE}, id="huge-misfire-grace"),
    pytest.param({"timeout_seconds": HUGE}, id="huge-timeout"),
    pytest.param({"retry_backoff_seconds": HUGE, "max_retries": 5}, id="huge-backoff"),
    pytest.param({"max_retries": 30_000}, id="huge-retries"),
    pytest.param(
        {
            "trigger_type": "date",
            "run_at": datetime(9999, 12, 31, 23, 59, tzinfo=UTC),
            "timezone": "Etc/GMT-14",
        },
        id="date-past-9999-in-its-zone",
    ),  # fmt: skip
    pytest.param({"timezone": "Nowhere/City"}, id="unknown-zone"),
    pytest.param({"cron_expression": "61 * * * *"}, id="bad-cron"),
    pytest.param({"func": "subprocess.check_output"}, id="unregistered-func"),
    pytest.param({"func": "<script>alert(1)</script>"}, id="html-func"),
    pytest.param({"kwargs": DEEP_OBJECT}, id="kwargs-900-deep"),
    pytest.param({"kwargs": "[1, 2]"}, id="kwargs-not-an-object"),
    pytest.param({"kwargs": LONE_SURROGATE}, id="kwargs-lone-surrogate", marks=SQLITE_ONLY),
    pytest.param({"kwargs": '{"a": NaN}'}, id="kwargs-nan", marks=SQLITE_ONLY),
]


@pytest.fixture
def bad_task(request):
    task = TaskFactory(name="broken", cron_expression="0 3 * * *", max_retries=1)
    TaskExecutionFactory(task=task, kwargs={"n": 1})
    write_raw(task, **request.param)
    return task


@pytest.mark.parametrize("bad_task", BAD_ROWS, indirect=True)
def test_pages_and_api_render_a_task_holding_a_bad_value(admin_client_, bad_task):
    execution = bad_task.executions.get()
    urls = [
        "/tasks/",
        "/tasks/broken/",
        f"/tasks/broken/executions/{execution.pk}/",
        "/api/tasks/status/",
        reverse("admin:scheduling_task_changelist"),
        reverse("admin:scheduling_task_change", args=[bad_task.pk]),
        reverse("admin:scheduling_taskexecution_change", args=[execution.pk]),
    ]
    for url in urls:
        response = admin_client_.get(url)
        assert response.status_code == 200, url
        if response["Content-Type"].startswith("text/html"):
            assert "<script>alert" not in response.content.decode(), url


@pytest.mark.parametrize("bad_task", BAD_ROWS, indirect=True)
def test_the_toggle_answers_without_a_500_for_a_task_holding_a_bad_value(admin_client_, bad_task):
    response = admin_client_.post("/tasks/broken/toggle/", HTTP_ACCEPT="application/json")
    assert response.status_code in {200, 400}
    if response.status_code == 400:  # the database refuses any update of this row
        assert "correct every field in the admin" in response.json()["errors"]["__all__"][0]
        assert Task.objects.filter(name="broken", enabled=True).exists()
        assert not AuditLog.objects.exists()


@pytest.mark.parametrize(
    "stored, shown",
    [
        pytest.param(LONE_SURROGATE, "\\ud800", marks=SQLITE_ONLY),
        (DEEP_OBJECT, '{"a": {"a": {"a": '),
    ],
)
def test_unreadable_kwargs_are_shown_as_stored_and_must_be_replaced_to_save(
    admin_client_, staff_client, stored, shown
):
    task = TaskFactory(name="broken")
    write_raw(task, kwargs=stored)
    page = staff_client.get("/tasks/broken/").content.decode()
    admin = admin_client_.get(reverse("admin:scheduling_task_change", args=[task.pk]))
    assert shown.replace('"', "&quot;") in page
    assert shown.replace('"', "&quot;") in admin.content.decode()
    response = staff_client.post(
        "/tasks/broken/configure/",
        {"trigger_type": "cron", "cron_expression": "0 * * * *", "timezone": "UTC",
         "kwargs": stored, "enabled": "on"},
        HTTP_ACCEPT="application/json",
    )  # fmt: skip
    assert response.status_code == 400
    assert "kwargs" in response.json()["errors"]
