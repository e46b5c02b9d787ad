"""GET/POST /tasks/new/: a task from a registered function, validated and audited like any."""

from urllib.parse import urlencode

import pytest
from django.contrib.auth.models import Permission

from chirpsyncer.models import AuditLog
from chirpsyncer.tests.factories import UserFactory
from scheduling.models import Task
from scheduling.tests.factories import TaskFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def creator_client(client):
    user = UserFactory(username="creator")
    user.user_permissions.add(
        *Permission.objects.filter(codename__in=["add_task", "view_task", "change_task"])
    )
    client.force_login(user)
    return client


def form(**changes):
    data = {
        "name": "nightly-report",
        "func": "test_record",
        "description": "Counts things.",
        "trigger_type": "cron",
        "cron_expression": "30 2 * * *",
        "interval_seconds": "",
        "run_at": "",
        "after_task": "",
        "after_status": "success",
        "timezone": "Europe/Madrid",
        "kwargs": '{"days": 7}',
        "queue": "",
        "misfire_grace_seconds": "300",
        "max_retries": "2",
        "retry_backoff_seconds": "30",
        "retry_backoff_max_seconds": "3600",
        "timeout_seconds": "",
        "notify_on_failure": "on",
        "notify_recipients": "",
        "enabled": "on",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


# What a browser sends for a lone surrogate typed or pasted: its (invalid) UTF-8 bytes.
SURROGATE = "%ED%A0%80"


def post(client, data, **extra):
    """POST the form as a browser encodes it; SURROGATE stays raw bytes in the body."""
    body = urlencode(data).replace("SURROGATE", SURROGATE)
    return client.post(
        "/tasks/new/", body, content_type="application/x-www-form-urlencoded", **extra
    )


def test_the_form_offers_registered_functions_with_description_and_default_schedule(
    creator_client,
):
    body = creator_client.get("/tasks/new/").content.decode()
    assert 'id="create-form"' in body and 'id="cron-preview"' in body
    # Each function's description and default schedule ride on its <option> for tasks.js.
    assert 'value="backup_database"' in body
    assert 'data-schedule="0 3 * * *"' in body and 'data-schedule-words="At 03:00"' in body
    assert 'data-description="Records its kwargs." data-kwargs="{}" value="test_record"' in body
    assert "os.system" not in body
    assert '<option selected value="UTC">' in body  # TIME_ZONE, as the Python API defaults


def test_creating_a_task_saves_every_field_and_audits_it_as_from_the_page(creator_client):
    response = creator_client.post("/tasks/new/", form())
    assert response.status_code == 302 and response["Location"] == "/tasks/nightly-report/"
    task = Task.objects.get(name="nightly-report")
    assert (task.func, task.cron_expression, task.timezone) == (
        "test_record",
        "30 2 * * *",
        "Europe/Madrid",
    )
    assert task.kwargs == {"days": 7} and task.max_retries == 2 and task.next_run_at
    assert task.notify_on_failure and not task.notify_on_success
    entry = AuditLog.objects.get(action="task.created")
    assert entry.user.username == "creator" and entry.details["source"] == "page"
    assert entry.details["new"]["cron_expression"] == "30 2 * * *"


def test_a_chained_task_is_created_after_its_upstream(creator_client):
    backup = TaskFactory(name="backup")
    response = creator_client.post(
        "/tasks/new/",
        form(trigger_type="after", cron_expression="", after_task="backup", after_status="any"),
    )
    assert response.status_code == 302
    task = Task.objects.get(name="nightly-report")
    assert (task.trigger_type, task.after_task, task.after_status) == ("after", backup, "any")
    assert task.next_run_at is None
    page = creator_client.get("/tasks/backup/").content.decode()
    assert 'id="then-runs"' in page and "nightly-report" in page


HOSTILE_NAMES = [
    ("new", "reserved"),
    ("../x", "slug"),
    ("a" * 10_000, "at most 100 characters"),
    ("SURROGATE", "slug"),
    ("", "required"),
    ("café", "slug"),
]


@pytest.mark.parametrize(("name", "expect"), HOSTILE_NAMES)
def test_hostile_names_are_form_errors(creator_client, name, expect):
    response = post(creator_client, form(name=name))
    assert response.status_code == 400
    errors = " ".join(response.context["form"].errors.get("name", []))
    assert expect in errors.lower() or expect in errors, errors
    assert not Task.objects.exists() and not AuditLog.objects.exists()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("max_retries", "1" + "0" * 40),
        ("misfire_grace_seconds", "-5"),
        ("interval_seconds", "99999999999999999999999"),
        ("timeout_seconds", "1e400"),
        ("after_task", "99999999999999999999999"),
        ("after_task", "SURROGATE"),
        ("func", "os.system"),
        ("kwargs", '{"a": NaN}'),
        ("timezone", "Mars/Olympus"),
        ("queue", "no spaces allowed"),
        ("cron_expression", "61 * * * *"),
        ("after_status", "sometimes"),
        ("trigger_type", "whenever"),
        ("description", "d" * 10_000),
    ],
)
def test_hostile_values_are_field_errors(creator_client, field, value):
    trigger = {"interval_seconds": "interval", "after_task": "after", "after_status": "after"}
    trigger = trigger.get(field, "cron")
    response = post(creator_client, form(**{"trigger_type": trigger, field: value}))
    assert response.status_code == 400
    assert field in response.context["form"].errors
    assert not Task.objects.exists()


def test_an_after_task_without_its_upstream_is_a_field_error(creator_client):
    response = post(creator_client, form(trigger_type="after", after_task=""))
    assert response.status_code == 400
    assert "choose the task this one runs after" in response.context["form"].errors["after_task"][0]


def test_a_duplicate_name_is_a_field_error(creator_client):
    TaskFactory(name="nightly-report")
    response = creator_client.post("/tasks/new/", form())
    assert response.status_code == 400 and "name" in response.context["form"].errors


def test_an_upstream_deleted_while_the_form_was_open_is_a_field_error(creator_client):
    backup = TaskFactory(name="backup")
    data = form(trigger_type="after", after_task="backup")
    backup.delete()
    response = creator_client.post("/tasks/new/", data)
    assert response.status_code == 400 and "after_task" in response.context["form"].errors


def test_json_clients_get_the_errors_as_json(creator_client):
    response = creator_client.post("/tasks/new/", form(name="new"), HTTP_ACCEPT="application/json")
    assert response.status_code == 400
    assert "reserved" in response.json()["errors"]["name"][0]["message"]


def test_without_add_task_the_page_is_403_and_anonymous_users_sign_in(viewer_client, client):
    assert viewer_client.get("/tasks/new/").status_code == 403
    assert viewer_client.post("/tasks/new/", form()).status_code == 403
    client.logout()
    assert client.get("/tasks/new/")["Location"].startswith("/accounts/login/")
    assert not Task.objects.exists()


def test_the_list_links_to_the_form_for_those_who_may_use_it(creator_client):
    assert 'id="new-task"' in creator_client.get("/tasks/").content.decode()


def test_viewers_see_no_new_task_link(viewer_client):
    assert 'id="new-task"' not in viewer_client.get("/tasks/").content.decode()


def test_a_loop_is_refused_by_the_schedule_form_naming_it(creator_client):
    a = TaskFactory(name="a")
    TaskFactory(name="b", trigger_type="after", after_task=a)
    response = creator_client.post(
        "/tasks/a/configure/",
        {"trigger_type": "after", "after_task": "b", "timezone": "UTC", "kwargs": "{}"},
    )
    assert response.status_code == 400
    assert "a -> b -> a" in response.context["form"].errors["after_task"][0]
    assert Task.objects.get(name="a").trigger_type == "cron"


def test_the_schedule_form_offers_every_other_task_by_name(creator_client):
    TaskFactory(name="a")
    TaskFactory(name="b")
    page = creator_client.get("/tasks/a/").content.decode()
    select = page.split('name="after_task"')[1].split("</select>")[0]
    assert '<option value="b">b</option>' in select and 'value="a"' not in select
