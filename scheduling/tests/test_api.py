"""GET /api/tasks/status/ and the cron preview endpoint."""

from datetime import timedelta

import pytest
from django.utils import timezone

from scheduling.models import SchedulerNode
from scheduling.tests import sentinels
from scheduling.tests.factories import TaskExecutionFactory, TaskFactory

pytestmark = pytest.mark.django_db


def test_anonymous_json_clients_get_401(client):
    response = client.get("/api/tasks/status/", HTTP_ACCEPT="application/json")
    assert response.status_code == 401
    assert response.json() == {"error": "authentication required"}


def test_anonymous_browsers_are_sent_to_login(client):
    response = client.get("/api/tasks/status/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_it_lists_every_task_with_status_schedule_and_counters(viewer_client):
    now = timezone.now()
    task = TaskFactory(
        name="backup",
        cron_expression="0 3 * * *",
        description="Nightly dump",
        last_status="success",
        last_run_at=now - timedelta(hours=1),
        next_run_at=now + timedelta(hours=5),
        run_count=10,
        success_count=9,
        failure_count=1,
    )
    TaskExecutionFactory(task=task, status="success")
    TaskExecutionFactory(task=task, status="failed")
    TaskExecutionFactory(task=task, status="running", finished_at=None, duration_ms=None)
    TaskFactory(name="paused", enabled=False)

    body = viewer_client.get("/api/tasks/status/").json()
    assert [t["name"] for t in body["tasks"]] == ["backup", "paused"]
    backup = body["tasks"][0]
    assert backup["enabled"] is True
    assert backup["url"] == "/tasks/backup/"
    assert backup["trigger_type"] == "cron"
    assert backup["schedule"] == "0 3 * * *"
    assert backup["schedule_description"] == "At 03:00"
    assert backup["description"] == "Nightly dump"
    assert backup["last_status"] == "success"
    assert backup["last_run_at"].startswith(str((now - timedelta(hours=1)).date()))
    assert backup["next_run_at"] is not None
    assert backup["next_run_local"].endswith(" UTC")
    assert backup["running"] is True
    assert (backup["run_count"], backup["success_count"], backup["failure_count"]) == (10, 9, 1)
    assert backup["success_rate"] == 0.9
    assert backup["last_7_days"] == {"runs": 3, "success": 1, "failed": 1, "success_rate": 0.5}
    assert body["tasks"][1]["running"] is False
    assert body["tasks"][1]["last_7_days"]["success_rate"] is None


def test_it_includes_the_scheduler_heartbeat(task_viewer_client):
    SchedulerNode.objects.create(node_id="n1", host="worker-1", pid=77, is_leader=True)
    scheduler = task_viewer_client.get("/api/tasks/status/").json()["scheduler"]
    assert scheduler["state"] == "running"
    assert (scheduler["host"], scheduler["pid"], scheduler["nodes"]) == ("worker-1", 77, 1)
    assert scheduler["leader"] == "worker-1:77"


def test_viewers_without_the_permission_get_no_detail_keys(viewer_client):
    sentinels.task_with_secrets()
    response = viewer_client.get("/api/tasks/status/")
    assert sentinels.leaked(response.content.decode()) == []
    body = response.json()
    (task,) = body["tasks"]
    assert "func" not in task and "kwargs" not in task
    assert (task["name"], task["schedule"], task["run_count"]) == ("backup", "0 * * * *", 0)
    assert body["scheduler"]["state"] == "running" and body["scheduler"]["nodes"] == 1
    assert not {"host", "pid", "leader"} & set(body["scheduler"])


@pytest.mark.parametrize("client_name", ["task_viewer_client", "staff_client", "admin_client_"])
def test_people_with_the_permission_get_func_kwargs_and_the_scheduler_host(request, client_name):
    sentinels.task_with_secrets()
    body = request.getfixturevalue(client_name).get("/api/tasks/status/").json()
    (task,) = body["tasks"]
    assert task["func"] == sentinels.FUNC
    assert task["kwargs"] == {"target": sentinels.TASK_KWARG}
    assert body["scheduler"]["host"] == sentinels.SCHEDULER_HOST
    assert body["scheduler"]["pid"] == sentinels.SCHEDULER_PID


def test_status_queries_do_not_grow_with_tasks(viewer_client, django_assert_max_num_queries):
    for _ in range(30):
        TaskExecutionFactory(task=TaskFactory())
    # session, user, its permissions (2), tasks, 7-day counts, heartbeat
    with django_assert_max_num_queries(7):
        assert len(viewer_client.get("/api/tasks/status/").json()["tasks"]) == 30


def test_cron_preview_describes_a_valid_expression_and_its_next_runs(viewer_client):
    body = viewer_client.get(
        "/api/tasks/cron-preview/", {"expression": "30 2 * * MON", "timezone": "Europe/Madrid"}
    ).json()
    assert body["valid"] is True and body["error"] is None
    assert body["description"] == "At 02:30, only on Monday"
    assert len(body["next_runs"]) == 5
    assert all(run.endswith(("+01:00", "+02:00")) for run in body["next_runs"])
    assert all(text.startswith("Mon ") for text in body["next_runs_display"])


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"expression": "61 * * * *"}, "minute: 61 is out of range 0-59"),
        ({"expression": ""}, "cron expression: it is empty"),
        ({"expression": "* * * * *", "timezone": "Mars/Base"}, "not an IANA time zone"),
    ],
)
def test_cron_preview_explains_what_is_wrong(viewer_client, params, error):
    body = viewer_client.get("/api/tasks/cron-preview/", params).json()
    assert body["valid"] is False
    assert error in body["error"]
    assert body["next_runs"] == []


def test_cron_preview_needs_a_signed_in_user(client):
    response = client.get("/api/tasks/cron-preview/?expression=*", HTTP_ACCEPT="application/json")
    assert response.status_code == 401
