"""POST /tasks/<name>/trigger|toggle|configure/: permissions, CSRF, audit, validation."""

import json
from datetime import UTC, timedelta

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.utils import timezone

from chirpsyncer.models import AuditLog
from scheduling.models import Task, TaskExecution
from scheduling.tests import sentinels
from scheduling.tests.factories import TaskFactory

pytestmark = pytest.mark.django_db

ACTIONS = [
    ("trigger", {}),
    ("toggle", {}),
    ("configure", {"trigger_type": "cron", "cron_expression": "5 * * * *", "timezone": "UTC"}),
]


def _form(**changes):
    data = {
        "trigger_type": "cron",
        "cron_expression": "0 * * * *",
        "interval_seconds": "",
        "run_at": "",
        "timezone": "UTC",
        "kwargs": "{}",
        "enabled": "on",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


@pytest.fixture
def task():
    return TaskFactory(name="backup", cron_expression="0 3 * * *")


@pytest.mark.parametrize(("action", "data"), ACTIONS)
def test_anonymous_posts_are_sent_to_login_and_change_nothing(client, task, action, data):
    response = client.post(f"/tasks/backup/{action}/", data)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert TaskExecution.objects.count() == 0
    assert Task.objects.get().cron_expression == "0 3 * * *" and Task.objects.get().enabled


@pytest.mark.parametrize(("action", "data"), ACTIONS)
def test_viewers_get_403_and_change_nothing(viewer_client, task, action, data):
    assert viewer_client.post(f"/tasks/backup/{action}/", data).status_code == 403
    assert TaskExecution.objects.count() == 0
    assert Task.objects.get().cron_expression == "0 3 * * *" and Task.objects.get().enabled
    assert not AuditLog.objects.exists()


@pytest.mark.parametrize(("action", "data"), ACTIONS)
def test_viewers_asking_for_json_get_a_json_403(viewer_client, task, action, data):
    response = viewer_client.post(f"/tasks/backup/{action}/", data, HTTP_ACCEPT="application/json")
    assert response.status_code == 403
    assert "permission" in response.json()["error"]


@pytest.mark.parametrize(("action", "data"), ACTIONS)
def test_posts_without_a_csrf_token_are_refused(staff, task, action, data):
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff)
    assert client.post(f"/tasks/backup/{action}/", data).status_code == 403
    assert TaskExecution.objects.count() == 0
    assert not AuditLog.objects.exists()


def test_a_post_with_the_csrf_token_goes_through(staff, task):
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff)
    client.get("/tasks/backup/")
    token = client.cookies["csrftoken"].value
    response = client.post("/tasks/backup/trigger/", {"csrfmiddlewaretoken": token})
    assert response.status_code == 302
    assert TaskExecution.objects.count() == 1


@pytest.mark.parametrize(("action", "data"), ACTIONS)
def test_unknown_tasks_are_404(staff_client, action, data):
    assert staff_client.post(f"/tasks/nope/{action}/", data).status_code == 404


@pytest.mark.parametrize("action", ["trigger", "toggle", "configure"])
def test_get_is_not_allowed(staff_client, task, action):
    assert staff_client.get(f"/tasks/backup/{action}/").status_code == 405


def test_run_now_queues_a_manual_run_and_audits_it(staff_client, staff, task):
    response = staff_client.post(
        "/tasks/backup/trigger/",
        HTTP_USER_AGENT="pytest-browser/1.0",
        REMOTE_ADDR="10.1.2.3",
    )
    execution = TaskExecution.objects.get()
    assert (execution.status, execution.trigger, execution.requested_by) == (
        "queued",
        "manual",
        staff,
    )
    assert response.status_code == 302 and response["Location"] == "/tasks/backup/"
    log = AuditLog.objects.get()
    assert (log.user, log.action, log.resource_type, log.resource_id) == (
        staff,
        "task.triggered",
        "task",
        "backup",
    )
    assert log.details == {"source": "page", "execution_id": execution.pk}
    assert (log.ip_address, log.user_agent) == ("10.1.2.3", "pytest-browser/1.0")


def test_run_now_says_the_run_waits_when_no_scheduler_runs(staff_client, task):
    response = staff_client.post("/tasks/backup/trigger/", follow=True)
    assert "waits in the queue until one starts" in response.content.decode()


def test_run_now_returns_to_a_safe_next_page_only(staff_client, task):
    ok = staff_client.post("/tasks/backup/trigger/", {"next": "/tasks/?status=failed"})
    assert ok["Location"] == "/tasks/?status=failed"
    evil = staff_client.post("/tasks/backup/trigger/", {"next": "https://evil.example/"})
    assert evil["Location"] == "/tasks/backup/"


def test_run_now_answers_json_when_asked(staff_client, task):
    response = staff_client.post("/tasks/backup/trigger/", HTTP_ACCEPT="application/json")
    body = response.json()
    assert response.status_code == 200
    assert body["ok"] is True
    assert body["execution"]["status"] == "queued"
    assert body["execution"]["url"] == f"/tasks/backup/executions/{body['execution']['id']}/"
    assert body["task"]["func"] == task.func and "result" in body["execution"]


def test_run_now_json_leaves_out_details_for_someone_who_may_only_run(client, viewer):
    viewer.user_permissions.add(Permission.objects.get(codename="run_task"))
    client.force_login(viewer)
    TaskFactory(name="backup", kwargs={"target": sentinels.TASK_KWARG})
    response = client.post("/tasks/backup/trigger/", HTTP_ACCEPT="application/json")
    body = response.json()
    assert response.status_code == 200 and body["execution"]["status"] == "queued"
    assert sentinels.leaked(response.content.decode()) == []
    assert not {"func", "kwargs"} & set(body["task"])
    assert not {"result", "error"} & set(body["execution"])


def test_toggle_pauses_then_resumes_and_audits_both(staff_client, staff, task):
    staff_client.post("/tasks/backup/toggle/")
    task.refresh_from_db()
    assert task.enabled is False and task.next_run_at is None
    staff_client.post("/tasks/backup/toggle/")
    task.refresh_from_db()
    assert task.enabled is True and task.next_run_at is not None
    logs = list(AuditLog.objects.order_by("id").values_list("action", "details"))
    assert logs == [
        ("task.disabled", {"source": "page", "old": {"enabled": True}, "new": {"enabled": False}}),
        ("task.enabled", {"source": "page", "old": {"enabled": False}, "new": {"enabled": True}}),
    ]


def test_toggle_with_an_explicit_value_is_idempotent(staff_client, task):
    staff_client.post("/tasks/backup/toggle/", {"enabled": "0"})
    staff_client.post("/tasks/backup/toggle/", {"enabled": "0"})
    assert Task.objects.get().enabled is False


def test_resuming_a_one_off_task_in_the_past_is_refused_with_a_message(staff_client):
    past = timezone.now() - timedelta(days=1)
    TaskFactory(name="once", trigger_type="date", run_at=past, enabled=False)
    response = staff_client.post("/tasks/once/toggle/", follow=True)
    assert "is in the past" in response.content.decode()
    assert Task.objects.get().enabled is False
    assert not AuditLog.objects.exists()


def test_configure_saves_a_new_cron_schedule_and_audits_old_and_new(staff_client, staff, task):
    response = staff_client.post(
        "/tasks/backup/configure/",
        _form(cron_expression="30  4 * * 1", timezone="Europe/Madrid", kwargs='{"keep": 3}'),
    )
    assert response.status_code == 302
    task.refresh_from_db()
    assert (task.cron_expression, task.timezone, task.kwargs) == (
        "30 4 * * 1",
        "Europe/Madrid",
        {"keep": 3},
    )
    assert task.next_run_at.astimezone(timezone.get_default_timezone()) > timezone.now()
    log = AuditLog.objects.get()
    assert (log.user, log.action, log.resource_id) == (staff, "task.configured", "backup")
    assert log.details == {
        "source": "page",
        "old": {"cron_expression": "0 3 * * *", "timezone": "UTC", "kwargs": {}},
        "new": {
            "cron_expression": "30 4 * * 1",
            "timezone": "Europe/Madrid",
            "kwargs": {"keep": 3},
        },
    }


def test_configure_switches_to_an_interval(staff_client, task):
    staff_client.post(
        "/tasks/backup/configure/", _form(trigger_type="interval", interval_seconds="90")
    )
    task.refresh_from_db()
    assert (task.trigger_type, task.interval_seconds) == ("interval", 90)


def test_configure_reads_run_at_in_the_tasks_timezone(staff_client, task):
    next_year = timezone.now().year + 1
    staff_client.post(
        "/tasks/backup/configure/",
        _form(trigger_type="date", run_at=f"{next_year}-07-01T09:30", timezone="Europe/Madrid"),
    )
    task.refresh_from_db()
    assert task.trigger_type == "date"
    assert task.run_at.astimezone(UTC).strftime("%m-%d %H:%M") == "07-01 07:30"


def test_a_bad_cron_shows_the_field_error_and_saves_nothing(staff_client, task):
    response = staff_client.post("/tasks/backup/configure/", _form(cron_expression="61 * * * *"))
    assert response.status_code == 400
    body = response.content.decode()
    assert "minute: 61 is out of range 0-59" in body
    assert 'value="61 * * * *"' in body  # the form keeps what was typed
    assert "<code>0 3 * * *</code>" in body  # the configuration shows what is stored
    assert Task.objects.get().cron_expression == "0 3 * * *"
    assert not AuditLog.objects.exists()


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"timezone": "Mars/Olympus"}, "timezone", "Select a valid choice"),
        ({"kwargs": "[1, 2]"}, "kwargs", "must be a JSON object"),
        ({"kwargs": "{not json"}, "kwargs", "not valid JSON"),
        ({"kwargs": '{"a": NaN}'}, "kwargs", "NaN is not a JSON number"),
        ({"kwargs": '{"a": -Infinity}'}, "kwargs", "-Infinity is not a JSON number"),
        ({"kwargs": '{"a": 1e999}'}, "kwargs", "too large for a number"),
        ({"kwargs": "[" * 900 + "]" * 900}, "kwargs", "nested 900 levels deep"),
        ({"kwargs": '{"a": ' * 950 + "1" + "}" * 950}, "kwargs", "nested 950 levels deep"),
        ({"kwargs": "[" * 10_000 + "]" * 10_000}, "kwargs", "nested 10000 levels deep"),
        ({"kwargs": '{"a": "\\ud800"}'}, "kwargs", "lone surrogate"),
        ({"kwargs": '{"a": "\\u0000"}'}, "kwargs", "NUL"),
        ({"kwargs": '{"a": "' + "x" * 70_000 + '"}'}, "kwargs", "64 KiB"),
        (
            {"trigger_type": "date", "run_at": "9999-12-31T23:59", "timezone": "Etc/GMT+12"},
            "run_at",
            "out of range",
        ),
        (
            {"trigger_type": "date", "run_at": "0001-01-01T00:00", "timezone": "Etc/GMT-14"},
            "run_at",
            "out of range",
        ),  # fmt: skip
        (
            {"trigger_type": "interval", "interval_seconds": "1000000000000"},
            "interval_seconds",
            "at most 365 days",
        ),  # fmt: skip
        (
            {"trigger_type": "interval", "interval_seconds": "9" * 30},
            "interval_seconds",
            "at most 365 days",
        ),  # fmt: skip
        (
            {"trigger_type": "interval", "interval_seconds": "9" * 5000},
            "interval_seconds",
            "Enter a whole number",
        ),  # fmt: skip
        ({"trigger_type": "interval", "interval_seconds": "0"}, "interval_seconds", "positive"),
        ({"trigger_type": "date", "run_at": "2001-01-01T00:00"}, "run_at", "is in the past"),
    ],
)
def test_bad_input_answers_json_errors_by_field_and_saves_nothing(
    staff_client, task, changes, field, message
):
    response = staff_client.post(
        "/tasks/backup/configure/", _form(**changes), HTTP_ACCEPT="application/json"
    )
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert message in json.dumps(errors[field])
    task.refresh_from_db()
    assert (task.trigger_type, task.cron_expression, task.timezone) == ("cron", "0 3 * * *", "UTC")
    assert not AuditLog.objects.exists()


def test_saving_an_unchanged_schedule_writes_no_audit_row(staff_client, task):
    response = staff_client.post("/tasks/backup/configure/", _form(cron_expression="0 3 * * *"))
    assert response.status_code == 302
    assert not AuditLog.objects.exists()


@pytest.mark.parametrize(
    "kwargs",
    [
        '{"a": NaN}',
        "[" * 10_000 + "]" * 10_000,
        '{"a": "\\ud800"}',
        '{"a": ' * 950 + "1" + "}" * 950,
    ],
)
def test_a_browser_posting_hostile_kwargs_sees_the_form_again_with_the_error(
    staff_client, task, kwargs
):
    response = staff_client.post("/tasks/backup/configure/", _form(kwargs=kwargs))
    assert response.status_code == 400
    body = response.content.decode()
    assert "kwargs: " in body and 'id="schedule-form"' in body
    assert Task.objects.get().kwargs == {}
    assert not AuditLog.objects.exists()


@pytest.mark.parametrize(
    "changes, field, message",
    [
        ({"trigger_type": "interval", "interval_seconds": "9" * 5000}, "interval_seconds",
         "Enter a whole number."),
        ({"trigger_type": "date", "run_at": "9999-12-31T23:59", "timezone": "Etc/GMT+12"},
         "run_at", "run_at: year 9999 is out of range 1970-9000"),
    ],
)  # fmt: skip
def test_a_refused_field_gets_one_error_not_a_second_about_the_stored_value(
    staff_client, task, changes, field, message
):
    response = staff_client.post(
        "/tasks/backup/configure/", _form(**changes), HTTP_ACCEPT="application/json"
    )
    assert [e["message"] for e in response.json()["errors"][field]] == [message]


def test_a_json_client_is_audited_as_the_api(staff_client, task):
    staff_client.post("/tasks/backup/toggle/", HTTP_ACCEPT="application/json")
    assert AuditLog.objects.get().details["source"] == "api"
