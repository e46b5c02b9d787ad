"""What the pages poll, and the chains they show: the same queries at 10 and at 100 tasks/runs."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from scheduling.engine import runner
from scheduling.models import Task
from scheduling.tests.factories import TaskExecutionFactory, TaskFactory

pytestmark = pytest.mark.django_db


def queries(client, url):
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    return len(captured), response.json()


def make_tasks(count, runs_each):
    """`count` tasks, every other one chained after the first; `runs_each` runs each."""
    first = TaskFactory(name="t-000")
    tasks = [first] + [
        TaskFactory(
            name=f"t-{n:03d}", **({"trigger_type": "after", "after_task": first} if n % 2 else {})
        )
        for n in range(1, count)
    ]
    for task in tasks:
        TaskExecutionFactory.create_batch(runs_each, task=task, created_at=timezone.now())
    return tasks


def test_the_status_api_costs_the_same_queries_at_10_and_100_tasks(viewer_client):
    make_tasks(10, 10)
    small, data = queries(viewer_client, "/api/tasks/status/")
    assert len(data["tasks"]) == 10
    make_tasks_more = [TaskFactory(name=f"u-{n:03d}") for n in range(90)]
    for task in make_tasks_more:
        TaskExecutionFactory.create_batch(10, task=task, created_at=timezone.now())
    big, data = queries(viewer_client, "/api/tasks/status/")
    assert len(data["tasks"]) == 100
    assert big == small


def test_one_tasks_status_costs_the_same_queries_at_10_and_100_runs(viewer_client):
    tasks = make_tasks(3, 10)
    url = f"/api/tasks/status/?task={tasks[1].name}"
    small, data = queries(viewer_client, url)
    assert [t["name"] for t in data["tasks"]] == ["t-001"]
    assert data["tasks"][0]["last_7_days"]["runs"] == 10
    TaskExecutionFactory.create_batch(90, task=tasks[1], created_at=timezone.now())
    big, data = queries(viewer_client, url)
    assert data["tasks"][0]["last_7_days"]["runs"] == 100
    assert big == small


def test_a_chained_task_names_its_upstream_in_the_status_api(viewer_client):
    make_tasks(2, 0)
    _, data = queries(viewer_client, "/api/tasks/status/?task=t-001")
    task = data["tasks"][0]
    assert (task["trigger_type"], task["after_task"], task["after_status"]) == (
        "after",
        "t-000",
        "success",
    )
    assert task["after_task_url"] == "/tasks/t-000/" and task["next_run_at"] is None
    assert task["schedule_description"] == "After t-000 succeeds"


@pytest.mark.parametrize("name", ["../x", "x" * 10_000, "%ED%A0%80", "", "nope"])
def test_a_hostile_task_filter_answers_no_tasks(viewer_client, name):
    TaskFactory(name="backup")
    response = viewer_client.get(f"/api/tasks/status/?task={name}")
    assert response.status_code == 200 and response.json()["tasks"] == []


def test_a_runs_live_view_costs_the_same_queries_at_10_and_100_chain_runs(task_viewer_client):
    upstream = TaskFactory(name="up")
    parent = TaskExecutionFactory(task=upstream, log="a line\n" * 10)
    for n in range(10):
        child_task = TaskFactory(name=f"down-{n:03d}", trigger_type="after", after_task=upstream)
        TaskExecutionFactory(task=child_task, trigger="chain", parent=parent, status="queued")
    url = f"/tasks/up/executions/{parent.pk}/log/"
    small, data = queries(task_viewer_client, url)
    assert len(data["children"]) == 10 and data["log"].count("a line") == 10
    for n in range(10, 100):
        child_task = TaskFactory(name=f"down-{n:03d}", trigger_type="after", after_task=upstream)
        TaskExecutionFactory(task=child_task, trigger="chain", parent=parent, status="queued")
    parent.log = "a line\n" * 1000
    parent.save()
    big, data = queries(task_viewer_client, url)
    assert len(data["children"]) == 100
    assert big == small


def test_the_live_view_shows_the_log_only_with_view_task(viewer_client, task_viewer):
    execution = TaskExecutionFactory(
        task=TaskFactory(name="secretive"), status="running", finished_at=None,
        log="password=hunter2", error="", result=None, host="worker-7", pid=4321,
    )  # fmt: skip
    url = f"/tasks/secretive/executions/{execution.pk}/log/"
    data = viewer_client.get(url).json()
    assert data["status"] == "running" and data["finished"] is False
    assert not {"log", "result", "error", "host"} & set(data)
    viewer_client.force_login(task_viewer)
    data = viewer_client.get(url).json()
    assert data["log"] == "password=hunter2" and data["host"] == "worker-7 / 4321"
    page = viewer_client.get(f"/tasks/secretive/executions/{execution.pk}/").content.decode()
    assert 'id="run-log"' in page and "password=hunter2" in page


def test_a_viewer_sees_no_log_on_the_run_page(viewer_client):
    execution = TaskExecutionFactory(task=TaskFactory(name="secretive"), log="password=hunter2")
    page = viewer_client.get(f"/tasks/secretive/executions/{execution.pk}/").content.decode()
    assert "hunter2" not in page and 'id="run-log"' not in page


def test_the_live_view_of_another_tasks_run_is_404(viewer_client):
    execution = TaskExecutionFactory(task=TaskFactory(name="a"))
    TaskFactory(name="b")
    assert viewer_client.get(f"/tasks/b/executions/{execution.pk}/log/").status_code == 404
    assert viewer_client.get("/tasks/a/executions/99999999999999999999/log/").status_code == 404


def test_the_run_pages_link_parent_and_children(task_viewer_client):
    backup = TaskFactory(name="backup")
    TaskFactory(name="report", trigger_type="after", after_task=backup)
    parent = runner.run_now(backup, trigger="manual")
    child = parent.children.get()
    page = task_viewer_client.get(parent.get_absolute_url()).content.decode()
    assert f'href="/tasks/report/executions/{child.pk}/"' in page
    page = task_viewer_client.get(child.get_absolute_url()).content.decode()
    assert 'id="parent-run"' in page and f'href="/tasks/backup/executions/{parent.pk}/"' in page


def test_the_pages_show_a_chain_from_both_ends(viewer_client):
    backup = TaskFactory(name="backup")
    TaskFactory(name="report", trigger_type="after", after_task=backup, after_status="failure")
    TaskFactory(name="paused", trigger_type="after", after_task=backup, enabled=False)
    page = viewer_client.get("/tasks/backup/").content.decode()
    assert 'id="then-runs"' in page and "when this fails" in page
    assert "paused: nothing is queued" in page
    page = viewer_client.get("/tasks/report/").content.decode()
    assert 'id="runs-after"' in page and "each time it fails" in page
    assert "None of its own: it runs when backup fails." in page
    listing = viewer_client.get("/tasks/").content.decode()
    row = listing.split('data-task="report"')[1].split("</tr>")[0]
    assert "After backup fails" in row and 'href="/tasks/backup/" class="upstream"' in row


def test_the_task_page_polls_its_own_status(viewer_client):
    TaskFactory(name="backup")
    page = viewer_client.get("/tasks/backup/").content.decode()
    assert 'data-status-url="/api/tasks/status/?task=backup"' in page
    assert 'data-live="run_count"' in page and 'data-live="running"' in page


def test_task_names_with_chained_upstreams_render_without_extra_queries(
    viewer_client, django_assert_max_num_queries
):
    make_tasks(30, 0)
    with django_assert_max_num_queries(8):
        body = viewer_client.get("/tasks/").content.decode()
    assert body.count('class="upstream"') == 15
    assert Task.objects.count() == 30
