"""The /tasks/ page: one row per task, the scheduler banner, filters."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.utils import timezone

from scheduling.models import SchedulerNode, Task
from scheduling.tests import sentinels
from scheduling.tests.factories import TaskExecutionFactory, TaskFactory

pytestmark = pytest.mark.django_db


def test_it_redirects_anonymous_visitors_to_login(client):
    response = client.get("/tasks/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/tasks/")


def test_it_shows_each_task_with_its_schedule_in_words_and_as_written(viewer_client):
    TaskFactory(name="backup", cron_expression="0 3 * * *", timezone="Europe/Madrid")
    TaskFactory(name="sessions", trigger_type="interval", cron_expression="", interval_seconds=300)
    body = viewer_client.get("/tasks/").content.decode()
    assert "At 03:00" in body
    assert "<code>0 3 * * *</code>" in body
    assert "Europe/Madrid" in body
    assert "Every 5 minutes" in body
    assert 'data-task="backup"' in body and 'data-task="sessions"' in body


@time_machine.travel(datetime(2025, 3, 10, 8, 0, tzinfo=UTC), tick=False)
def test_it_shows_last_run_next_run_and_weekly_success_rate(viewer_client):
    now = timezone.now()
    task = TaskFactory(
        name="stats",
        last_status="failed",
        last_run_at=now - timedelta(minutes=3),
        last_duration_ms=1500,
        next_run_at=now + timedelta(hours=2),
    )
    TaskExecutionFactory.create_batch(3, task=task, status="success", scheduled_for=None)
    TaskExecutionFactory(task=task, status="failed", duration_ms=2000, scheduled_for=None)
    body = viewer_client.get("/tasks/").content.decode()
    assert 'data-status="failed"' in body
    assert "3 minutes ago" in body
    assert "1.5 s" in body
    assert "2 hours from now" in body
    assert "75%" in body  # 3 of 4 in the last 7 days
    assert '<svg class="sparkline"' in body
    assert body.count("<rect ") == 4


def test_old_runs_do_not_count_towards_the_weekly_rate(viewer_client):
    task = TaskFactory()
    TaskExecutionFactory(task=task, status="failed", created_at=timezone.now() - timedelta(days=8))
    TaskExecutionFactory(task=task, status="success")
    assert "100%" in viewer_client.get("/tasks/").content.decode()


def test_it_escapes_a_description_with_markup(viewer_client):
    TaskFactory(description="<script>alert('x')</script> cleanup")
    body = viewer_client.get("/tasks/").content.decode()
    assert "<script>alert" not in body
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; cleanup" in body


def test_it_filters_by_last_status_and_enabled(viewer_client):
    TaskFactory(name="good", last_status="success")
    TaskFactory(name="bad", last_status="failed")
    TaskFactory(name="paused-bad", last_status="failed", enabled=False)
    TaskFactory(name="fresh", last_status="")

    def names(query):
        body = viewer_client.get("/tasks/" + query).content.decode()
        return {n for n in ["good", "bad", "paused-bad", "fresh"] if f'data-task="{n}"' in body}

    assert names("?status=failed") == {"bad", "paused-bad"}
    assert names("?status=failed&enabled=yes") == {"bad"}
    assert names("?enabled=no") == {"paused-bad"}
    assert names("?status=never") == {"fresh"}
    assert names("?status=nonsense") == {"good", "bad", "paused-bad", "fresh"}


def test_it_says_queued_runs_wait_when_no_scheduler_runs(viewer_client):
    body = viewer_client.get("/tasks/").content.decode()
    assert 'data-state="not_running"' in body
    assert "queued runs wait until a scheduler is running" in body


def test_it_names_the_host_of_a_running_scheduler_to_task_viewers(task_viewer_client):
    SchedulerNode.objects.create(node_id="n1", host="worker-7", pid=4242, is_leader=True)
    body = task_viewer_client.get("/tasks/").content.decode()
    assert 'data-state="running"' in body
    assert "worker-7" in body and "4242" in body


def test_viewers_without_the_permission_see_status_but_no_details(viewer_client):
    sentinels.task_with_secrets()
    Task.objects.filter(name="backup").update(
        last_status="failed", last_run_at=timezone.now(), last_duration_ms=2500
    )
    body = viewer_client.get("/tasks/").content.decode()
    assert sentinels.leaked(body) == []
    assert 'data-state="running"' in body and "Scheduler running</strong> since" in body
    assert 'data-status="failed"' in body and "2.5 s" in body


def test_it_warns_when_the_heartbeat_is_stale(viewer_client):
    old = timezone.now() - timedelta(hours=1)
    SchedulerNode.objects.create(node_id="n1", host="worker-7", pid=1, last_beat_at=old)
    body = viewer_client.get("/tasks/").content.decode()
    assert 'data-state="stale"' in body
    assert "queued runs wait until a scheduler is running again" in body
    assert "worker-7" not in body  # the host is a detail


def test_run_now_buttons_show_only_for_people_who_may_run_tasks(client, viewer, staff):
    TaskFactory(name="backup")
    client.force_login(viewer)
    assert "/tasks/backup/trigger/" not in client.get("/tasks/").content.decode()
    client.force_login(staff)
    assert "/tasks/backup/trigger/" in client.get("/tasks/").content.decode()
