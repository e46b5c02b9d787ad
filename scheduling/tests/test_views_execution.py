"""/tasks/<name>/executions/<id>/: one run in full."""

import pytest
from django.utils.html import escape

from scheduling.tests.factories import TaskExecutionFactory, TaskFactory

pytestmark = pytest.mark.django_db


def test_it_shows_status_trigger_requester_timings_host_and_attempt(viewer_client, staff):
    execution = TaskExecutionFactory(
        task=TaskFactory(name="backup"),
        trigger="manual",
        requested_by=staff,
        host="worker-3",
        pid=999,
        attempt=2,
        duration_ms=2500,
    )
    body = viewer_client.get(f"/tasks/backup/executions/{execution.pk}/").content.decode()
    for text in ["Success", "Manual", "staff", "worker-3", "999", "2.5 s", "Attempt</dt><dd"]:
        assert text in body


def test_it_pretty_prints_the_result_and_escapes_markup(viewer_client):
    execution = TaskExecutionFactory(
        task=TaskFactory(name="backup"), result={"note": "<script>alert(1)</script>", "rows": 3}
    )
    body = viewer_client.get(f"/tasks/backup/executions/{execution.pk}/").content.decode()
    assert "<script>alert(1)" not in body
    pretty = '{\n  "note": "<script>alert(1)</script>",\n  "rows": 3\n}'
    assert escape(pretty) in body


def test_it_shows_the_traceback(viewer_client):
    execution = TaskExecutionFactory(
        task=TaskFactory(name="backup"),
        status="failed",
        result=None,
        error="Traceback (most recent call last):\n  File <x>\nRuntimeError: boom",
    )
    body = viewer_client.get(f"/tasks/backup/executions/{execution.pk}/").content.decode()
    assert 'id="traceback"' in body
    assert "File &lt;x&gt;\nRuntimeError: boom" in body


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
