"""/tasks/<name>/executions/<id>/: one run in full."""

import pytest
from django.contrib.auth.models import Permission
from django.utils.html import escape

from scheduling.tests import sentinels
from scheduling.tests.factories import TaskExecutionFactory, TaskFactory

pytestmark = pytest.mark.django_db


def test_it_shows_status_trigger_requester_timings_host_and_attempt(task_viewer_client, staff):
    execution = TaskExecutionFactory(
        task=TaskFactory(name="backup"),
        trigger="manual",
        requested_by=staff,
        host="worker-3",
        pid=999,
        attempt=2,
        duration_ms=2500,
    )
    body = task_viewer_client.get(f"/tasks/backup/executions/{execution.pk}/").content.decode()
    for text in ["Success", "Manual", "staff", "worker-3", "999", "2.5 s", "Attempt</dt><dd"]:
        assert text in body


def test_it_pretty_prints_the_result_and_escapes_markup(task_viewer_client):
    execution = TaskExecutionFactory(
        task=TaskFactory(name="backup"), result={"note": "<script>alert(1)</script>", "rows": 3}
    )
    body = task_viewer_client.get(f"/tasks/backup/executions/{execution.pk}/").content.decode()
    assert "<script>alert(1)" not in body
    pretty = '{\n  "note": "<script>alert(1)</script>",\n  "rows": 3\n}'
    assert escape(pretty) in body


def test_it_shows_the_traceback(task_viewer_client):
    execution = TaskExecutionFactory(
        task=TaskFactory(name="backup"),
        status="failed",
        result=None,
        error="Traceback (most recent call last):\n  File <x>\nRuntimeError: boom",
    )
    body = task_viewer_client.get(f"/tasks/backup/executions/{execution.pk}/").content.decode()
    assert 'id="traceback"' in body
    assert "File &lt;x&gt;\nRuntimeError: boom" in body


def _page(client, execution) -> str:
    response = client.get(f"/tasks/{execution.task.name}/executions/{execution.pk}/")
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.parametrize("which", ["succeeded", "failed"])
def test_viewers_without_the_permission_see_the_run_but_no_details(viewer_client, which):
    _, succeeded, failed = sentinels.task_with_secrets()
    execution = {"succeeded": succeeded, "failed": failed}[which]
    body = _page(viewer_client, execution)
    assert sentinels.leaked(body) == []
    assert 'id="result"' not in body and 'id="traceback"' not in body
    assert {"succeeded": "Success", "failed": "Failed"}[which] in body
    assert "Duration</dt>" in body and "Started</dt>" in body
    assert "shown only to users with the <em>Can view task</em> permission" in body


@pytest.mark.parametrize("client_name", ["task_viewer_client", "staff_client", "admin_client_"])
def test_people_with_the_permission_see_every_detail(request, client_name):
    client = request.getfixturevalue(client_name)
    _, succeeded, failed = sentinels.task_with_secrets()
    assert sentinels.RESULT in _page(client, succeeded)
    body = _page(client, failed)
    for secret in [*sentinels.FAILED_RUN_SECRETS, sentinels.RUN_KWARG]:
        assert secret in body
    assert "Can view task</em> permission" not in body


def test_change_task_alone_implies_seeing_details(client, viewer):
    viewer.user_permissions.add(Permission.objects.get(codename="change_task"))
    client.force_login(viewer)
    _, _, failed = sentinels.task_with_secrets()
    assert sentinels.ERROR in _page(client, failed)


def test_run_task_alone_does_not_show_details(client, viewer):
    viewer.user_permissions.add(Permission.objects.get(codename="run_task"))
    client.force_login(viewer)
    _, _, failed = sentinels.task_with_secrets()
    assert sentinels.leaked(_page(client, failed)) == []


def test_unknown_execution_is_404(viewer_client):
    TaskFactory(name="backup")
    assert viewer_client.get("/tasks/backup/executions/999999/").status_code == 404


def test_an_execution_of_another_task_is_404(viewer_client):
    TaskFactory(name="backup")
    other = TaskExecutionFactory(task=TaskFactory(name="other"))
    assert viewer_client.get(f"/tasks/backup/executions/{other.pk}/").status_code == 404


def test_it_redirects_anonymous_visitors_to_login(client):
    execution = TaskExecutionFactory(task=TaskFactory(name="backup"))
    response = client.get(f"/tasks/backup/executions/{execution.pk}/")
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]
