"""/tasks/<name>/: configuration, next fire times, paginated history, the form."""

import pytest
from django.utils import timezone

from scheduling.models import TaskExecution
from scheduling.scheduler import TaskScheduler
from scheduling.tests import sentinels
from scheduling.tests.factories import TaskExecutionFactory, TaskFactory

pytestmark = pytest.mark.django_db


def _ids(body):
    return {int(part.split('"')[0]) for part in body.split('data-execution="')[1:]}


def test_it_redirects_anonymous_visitors_to_login(client):
    TaskFactory(name="backup")
    response = client.get("/tasks/backup/")
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_unknown_task_is_404(viewer_client):
    assert viewer_client.get("/tasks/no-such-task/").status_code == 404


def test_it_shows_configuration_and_the_next_five_fire_times(task_viewer_client):
    TaskFactory(name="backup", cron_expression="0 3 * * *", kwargs={"keep": 7})
    body = task_viewer_client.get("/tasks/backup/").content.decode()
    assert "test_noop" in body
    assert "At 03:00" in body
    assert body.count("03:00 UTC</span>") == 5
    assert "{&#x27;keep&#x27;: 7}" in body


def test_it_says_where_runs_execute_and_what_the_timeout_does_there(viewer_client):
    TaskFactory(name="local", timeout_seconds=30)
    TaskFactory(name="remote", timeout_seconds=30, queue="heavy")
    local = viewer_client.get("/tasks/local/").content.decode()
    remote = viewer_client.get("/tasks/remote/").content.decode()
    assert "the scheduler process" in local
    assert "30 s (flagged, not killed)" in local
    assert "queue <code>heavy</code> (Celery workers)" in remote
    assert "30 s (hard limit: the worker stops the run)" in remote
    assert "flagged, not killed" not in remote


def test_it_escapes_a_description_with_markup(viewer_client):
    TaskFactory(name="x", description="<script>alert(1)</script>")
    body = viewer_client.get("/tasks/x/").content.decode()
    assert "<script>alert(1)" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body


def test_history_pages_fifty_runs_at_a_time_newest_first(viewer_client):
    task = TaskFactory(name="backup")
    runs = TaskExecutionFactory.create_batch(120, task=task, scheduled_for=None)
    ids = sorted(run.pk for run in runs)

    first = viewer_client.get("/tasks/backup/")
    assert _ids(first.content.decode()) == set(ids[-50:])
    assert f"before={ids[-50]}" in first.content.decode()

    second = viewer_client.get(f"/tasks/backup/?before={ids[-50]}").content.decode()
    assert _ids(second) == set(ids[-100:-50])
    assert f"after={ids[-51]}" in second

    last = viewer_client.get(f"/tasks/backup/?before={ids[-100]}").content.decode()
    assert _ids(last) == set(ids[:20])
    assert "Older &rarr;" not in last

    back = viewer_client.get(f"/tasks/backup/?after={ids[-51]}").content.decode()
    assert _ids(back) == set(ids[-50:])


def test_history_filters_by_status(task_viewer_client):
    task = TaskFactory(name="backup")
    failed = TaskExecutionFactory(task=task, status="failed", error="RuntimeError: disk full")
    TaskExecutionFactory(task=task, status="success")
    body = task_viewer_client.get("/tasks/backup/?status=failed").content.decode()
    assert _ids(body) == {failed.pk}
    assert "disk full" in body


def test_history_only_shows_this_tasks_runs(viewer_client):
    mine = TaskExecutionFactory(task=TaskFactory(name="backup"))
    TaskExecutionFactory(task=TaskFactory(name="other"))
    assert _ids(viewer_client.get("/tasks/backup/").content.decode()) == {mine.pk}


def test_an_htmx_request_for_the_history_gets_only_the_fragment(viewer_client):
    task = TaskFactory(name="backup")
    queued = TaskExecutionFactory(task=task, status="queued", started_at=None, duration_ms=None)
    response = viewer_client.get("/tasks/backup/", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="history")
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="history" data-pending="true">')
    assert "<html" not in body
    assert _ids(body) == {queued.pk}


def test_staff_see_the_schedule_form_and_the_admin_link(staff_client):
    task = TaskFactory(name="backup")
    body = staff_client.get("/tasks/backup/").content.decode()
    assert 'id="schedule-form"' in body
    assert 'action="/tasks/backup/configure/"' in body
    assert '<option value="Europe/Madrid">' in body
    assert f"/admin/scheduling/task/{task.pk}/change/" in body
    assert "Run now" in body and "Pause" in body


def test_a_chained_tasks_form_shows_its_upstream_chosen(staff_client):
    """Saving the schedule form unchanged must keep the chain, so the select starts on it."""
    TaskFactory(name="extract")
    TaskScheduler().add_after_task("load", "test_noop", after="extract")
    body = staff_client.get("/tasks/load/").content.decode()
    assert '<option value="extract" selected>' in body


def test_viewers_see_no_form_and_no_buttons(viewer_client):
    TaskFactory(name="backup")
    body = viewer_client.get("/tasks/backup/").content.decode()
    assert 'id="schedule-form"' not in body
    assert "/tasks/backup/trigger/" not in body
    assert "/admin/scheduling/task/" not in body


def test_a_paused_task_offers_resume(staff_client):
    TaskFactory(name="backup", enabled=False)
    body = staff_client.get("/tasks/backup/").content.decode()
    assert ">Resume</button>" in body
    assert "Paused: these times are skipped" in body


def test_a_one_off_task_shows_its_single_fire_time(viewer_client):
    run_at = timezone.now() + timezone.timedelta(days=2)
    TaskFactory(name="once", trigger_type="date", cron_expression="", run_at=run_at)
    body = viewer_client.get("/tasks/once/").content.decode()
    assert "Once at" in body
    assert body.count('class="list-group-item d-flex') == 1


def test_execution_count_is_not_needed_for_paging(viewer_client, django_assert_max_num_queries):
    TaskExecutionFactory.create_batch(3, task=TaskFactory(name="backup"))
    with django_assert_max_num_queries(11) as captured:
        viewer_client.get("/tasks/backup/")
    assert not [q for q in captured.captured_queries if "COUNT(*)" in q["sql"].upper()]
    assert TaskExecution.objects.count() == 3


def test_next_fire_times_read_in_the_tasks_own_timezone(viewer_client):
    TaskFactory(name="backup", cron_expression="0 3 * * *", timezone="Europe/Madrid")
    body = viewer_client.get("/tasks/backup/").content.decode()
    assert body.count(" 03:00 CE") == 5  # CET or CEST, never shifted to UTC


HTMX = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "history"}


@pytest.mark.parametrize("headers", [{}, HTMX], ids=["page", "htmx-history"])
def test_viewers_without_the_permission_see_runs_but_no_details(viewer_client, headers):
    _, succeeded, failed = sentinels.task_with_secrets()
    body = viewer_client.get("/tasks/backup/", **headers).content.decode()
    assert sentinels.leaked(body) == []
    assert "Traceback" not in body
    assert _ids(body) == {succeeded.pk, failed.pk}
    assert f'data-execution="{failed.pk}" data-status="failed"' in body
    assert "2.5 s" in body  # the failed run's duration
    assert "Requested by" not in body and "<th>Error</th>" not in body
    assert "shown only to users with the <em>Can view task</em> permission" in body


def test_viewers_without_the_permission_see_no_failure_text_in_a_filtered_history(
    viewer_client,
):
    sentinels.task_with_secrets()
    body = viewer_client.get("/tasks/backup/?status=failed").content.decode()
    assert sentinels.leaked(body) == []
    assert 'data-status="failed"' in body


@pytest.mark.parametrize("headers", [{}, HTMX], ids=["page", "htmx-history"])
def test_task_viewers_see_every_detail_of_the_task_and_its_runs(task_viewer_client, headers):
    sentinels.task_with_secrets()
    body = task_viewer_client.get("/tasks/backup/", **headers).content.decode()
    for secret in [sentinels.ERROR, sentinels.HOST, str(sentinels.PID), sentinels.REQUESTER]:
        assert secret in body
    if not headers:
        assert sentinels.FUNC in body and sentinels.TASK_KWARG in body
    assert "Can view task</em> permission" not in body


def test_the_empty_history_spans_every_column_it_shows(client, viewer, task_viewer):
    TaskFactory(name="backup")
    client.force_login(viewer)
    assert 'colspan="7"' in client.get("/tasks/backup/").content.decode()
    client.force_login(task_viewer)
    assert 'colspan="10"' in client.get("/tasks/backup/").content.decode()
