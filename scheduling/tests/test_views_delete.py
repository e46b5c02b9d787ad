"""GET/POST /tasks/<name>/delete/, and deletion everywhere: confirmed, audited, refused
(naming the tasks that run after it) while an upstream has downstream tasks."""

import pytest
from django.contrib.auth.models import Permission

from chirpsyncer.models import AuditLog
from chirpsyncer.tests.factories import UserFactory
from scheduling.models import Task, TaskExecution
from scheduling.tests.factories import TaskExecutionFactory, TaskFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def deleter_client(client):
    user = UserFactory(username="deleter")
    user.user_permissions.add(*Permission.objects.filter(codename__in=["delete_task", "view_task"]))
    client.force_login(user)
    return client


@pytest.fixture
def chain():
    backup = TaskFactory(name="backup")
    TaskFactory(name="report", trigger_type="after", after_task=backup)
    TaskFactory(name="notify", trigger_type="after", after_task=backup, after_status="any")
    return backup


def test_the_detail_page_links_to_a_confirmation_that_deletes_on_post(deleter_client):
    task = TaskFactory(name="old")
    TaskExecutionFactory.create_batch(3, task=task)
    Task.objects.filter(pk=task.pk).update(run_count=3)
    assert 'id="delete"' in deleter_client.get("/tasks/old/").content.decode()
    page = deleter_client.get("/tasks/old/delete/")
    assert page.status_code == 200 and "its history of 3 runs" in page.content.decode()
    assert Task.objects.filter(name="old").exists()  # a GET deletes nothing
    response = deleter_client.post("/tasks/old/delete/")
    assert response.status_code == 302 and response["Location"] == "/tasks/"
    assert not Task.objects.filter(name="old").exists() and not TaskExecution.objects.exists()
    entry = AuditLog.objects.get(action="task.deleted")
    assert entry.user.username == "deleter" and entry.details["source"] == "page"
    assert entry.details["old"]["cron_expression"] == "0 * * * *"


def test_deleting_an_upstream_from_the_page_is_refused_naming_its_downstream(deleter_client, chain):
    page = deleter_client.get("/tasks/backup/delete/").content.decode()
    assert 'id="delete-refused"' in page and 'id="confirm-delete"' not in page
    assert "notify, report run after it" in page
    response = deleter_client.post("/tasks/backup/delete/")
    assert response.status_code == 409
    assert "notify, report run after it" in response.content.decode()
    assert Task.objects.filter(name="backup").exists()
    assert not AuditLog.objects.filter(action="task.deleted").exists()


def test_json_clients_get_the_refusal_as_json(deleter_client, chain):
    response = deleter_client.post("/tasks/backup/delete/", HTTP_ACCEPT="application/json")
    assert response.status_code == 409
    assert "report" in response.json()["errors"]["__all__"][0]


def test_a_downstream_saved_between_the_page_and_the_post_is_still_refused(
    deleter_client, monkeypatch
):
    """The view's own check sees nothing after it (the race); the service, locked, refuses."""
    from scheduling import chains

    backup = TaskFactory(name="backup")
    TaskFactory(name="report", trigger_type="after", after_task=backup)
    real, calls = chains.deletion_refusal, []

    def first_says_nothing(task):
        calls.append(task.name)
        return None if len(calls) == 1 else real(task)

    monkeypatch.setattr(chains, "deletion_refusal", first_says_nothing)
    response = deleter_client.post("/tasks/backup/delete/")
    assert len(calls) >= 2  # the view's check, then the service's
    assert response.status_code == 409
    assert "report runs after it" in response.content.decode()
    assert Task.objects.filter(name="backup").exists()
    assert not AuditLog.objects.filter(action="task.deleted").exists()


def test_without_delete_task_the_button_is_hidden_and_the_page_403(staff_client):
    TaskFactory(name="old")
    assert 'id="delete"' not in staff_client.get("/tasks/old/").content.decode()
    assert staff_client.get("/tasks/old/delete/").status_code == 403
    assert staff_client.post("/tasks/old/delete/").status_code == 403
    assert Task.objects.filter(name="old").exists()


def test_the_admin_refuses_to_delete_an_upstream_naming_its_downstream(admin_client_, chain):
    url = f"/admin/scheduling/task/{chain.pk}/delete/"
    page = admin_client_.get(url).content.decode()
    assert "protected related objects" in page and "report" in page and "notify" in page
    response = admin_client_.post(url, {"post": "yes"})
    assert response.status_code == 200  # Django's own "cannot delete" page, again
    assert "protected related objects" in response.content.decode()
    assert Task.objects.filter(name="backup").exists()


def test_the_admins_bulk_delete_keeps_upstreams_and_says_why(admin_client_, chain):
    lone = TaskFactory(name="lone")
    response = admin_client_.post(
        "/admin/scheduling/task/",
        {"action": "delete_selected", "_selected_action": [chain.pk, lone.pk], "post": "yes"},
        follow=True,
    )
    assert response.status_code == 200 and "protected related objects" in response.content.decode()
    assert Task.objects.filter(name="backup").exists() and Task.objects.filter(name="lone").exists()


def test_the_admin_turns_a_race_into_a_message_not_an_error_page(admin_client_, chain, monkeypatch):
    """Django's confirmation saw no downstream; the service (locked) finds one."""
    monkeypatch.setattr(
        "django.contrib.admin.options.get_deleted_objects",
        lambda objs, request, admin_site: ([], {}, set(), []),
    )
    response = admin_client_.post(f"/admin/scheduling/task/{chain.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert response["Location"] == f"/admin/scheduling/task/{chain.pk}/change/"
    assert Task.objects.filter(name="backup").exists()
    follow = admin_client_.get(response["Location"]).content.decode()
    assert "notify, report run after it" in follow
