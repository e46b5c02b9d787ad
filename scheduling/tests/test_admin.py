"""Admin for tasks, executions and scheduler nodes: what staff operate the system from."""

import re

import pytest
from django.urls import reverse

from chirpsyncer.models import AuditLog
from scheduling.models import SchedulerLease, SchedulerNode, Task, TaskExecution
from scheduling.tests.factories import TaskExecutionFactory, TaskFactory

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:scheduling_task_changelist")


def _change_url(task):
    return reverse("admin:scheduling_task_change", args=[task.pk])


def _change_form(task, **changes):
    data = {
        "name": task.name,
        "func": task.func,
        "description": task.description,
        "trigger_type": task.trigger_type,
        "cron_expression": task.cron_expression,
        "interval_seconds": "",
        "run_at_0": "",
        "run_at_1": "",
        "timezone": task.timezone,
        "kwargs": "{}",
        "enabled": "on",
        "misfire_grace_seconds": "300",
        "max_retries": "0",
        "retry_backoff_seconds": "30",
        "retry_backoff_max_seconds": "3600",
        "timeout_seconds": "",
        "notify_on_failure": "on",
        "notify_on_success": "on",
        "notify_recipients": "",
        "executions-TOTAL_FORMS": "0",
        "executions-INITIAL_FORMS": "0",
        "executions-MIN_NUM_FORMS": "0",
        "executions-MAX_NUM_FORMS": "0",
    }
    data.update(changes)
    return data


def test_task_changelist_shows_schedule_in_words_and_a_link_to_the_page(admin_client_):
    TaskFactory(name="backup", cron_expression="0 3 * * *", run_count=4)
    body = admin_client_.get(CHANGELIST).content.decode()
    assert "backup" in body and "At 03:00" in body
    assert 'href="/tasks/backup/"' in body


def test_task_changelist_filters_and_searches(admin_client_):
    TaskFactory(name="backup", description="Nightly dump", enabled=False)
    TaskFactory(name="sessions", description="Clear sessions")
    assert "sessions" not in admin_client_.get(CHANGELIST + "?enabled__exact=0").content.decode()
    body = admin_client_.get(CHANGELIST + "?q=dump").content.decode()
    assert "backup" in body and "/tasks/sessions/" not in body


def test_task_change_page_has_readonly_counters_and_latest_20_executions(admin_client_):
    task = TaskFactory(name="backup", run_count=42, success_count=40)
    runs = TaskExecutionFactory.create_batch(25, task=task, scheduled_for=None)
    response = admin_client_.get(_change_url(task))
    body = response.content.decode()
    assert 'name="run_count"' not in body  # read-only, shown as text
    assert "42" in body
    assert "Latest 20 executions" in body
    shown = [r.pk for r in runs if f"/admin/scheduling/taskexecution/{r.pk}/change/" in body]
    assert shown == [r.pk for r in runs[-20:]]
    assert 'href="/tasks/backup/"' in body


def test_saving_a_bad_cron_in_admin_shows_the_same_error_as_the_page(admin_client_):
    task = TaskFactory(name="backup", cron_expression="0 3 * * *")
    response = admin_client_.post(
        _change_url(task), _change_form(task, cron_expression="61 * * * *")
    )
    assert response.status_code == 200
    assert "minute: 61 is out of range 0-59" in response.content.decode()
    assert Task.objects.get().cron_expression == "0 3 * * *"


def test_saving_in_admin_recomputes_next_run_and_audits(admin_client_, superuser):
    task = TaskFactory(name="backup", cron_expression="0 3 * * *", next_run_at=None)
    response = admin_client_.post(
        _change_url(task), _change_form(task, cron_expression="*/5 * * * *")
    )
    assert response.status_code == 302
    task.refresh_from_db()
    assert task.cron_expression == "*/5 * * * *" and task.next_run_at is not None
    log = AuditLog.objects.get()
    assert (log.user, log.action, log.resource_id) == (superuser, "task.configured", "backup")
    assert log.details["new"]["cron_expression"] == "*/5 * * * *"


def test_run_now_action_queues_runs_and_audits(admin_client_, superuser):
    tasks = [TaskFactory(name="a"), TaskFactory(name="b")]
    response = admin_client_.post(
        CHANGELIST, {"action": "run_now", "_selected_action": [t.pk for t in tasks]}
    )
    assert response.status_code == 302
    assert TaskExecution.objects.filter(trigger="manual", status="queued").count() == 2
    assert set(TaskExecution.objects.values_list("requested_by", flat=True)) == {superuser.pk}
    assert AuditLog.objects.filter(action="task.triggered").count() == 2


def test_disable_and_enable_actions_change_tasks_and_audit(admin_client_):
    task = TaskFactory(name="a")
    admin_client_.post(CHANGELIST, {"action": "disable", "_selected_action": [task.pk]})
    task.refresh_from_db()
    assert task.enabled is False and task.next_run_at is None
    admin_client_.post(CHANGELIST, {"action": "enable", "_selected_action": [task.pk]})
    task.refresh_from_db()
    assert task.enabled is True and task.next_run_at is not None
    assert list(AuditLog.objects.order_by("id").values_list("action", flat=True)) == [
        "task.disabled",
        "task.enabled",
    ]


def test_staff_without_run_permission_do_not_get_the_run_action(client, staff):
    staff.user_permissions.remove(*staff.user_permissions.filter(codename="run_task"))
    client.force_login(staff)
    TaskFactory(name="a")
    body = client.get(CHANGELIST).content.decode()
    assert 'value="disable"' in body
    assert 'value="run_now"' not in body


def test_execution_admin_is_read_only_with_filters_and_search(admin_client_):
    task = TaskFactory(name="backup")
    failed = TaskExecutionFactory(task=task, status="failed", error="OSError: disk full")
    TaskExecutionFactory(task=TaskFactory(name="other"), status="success")
    changelist = reverse("admin:scheduling_taskexecution_changelist")
    body = admin_client_.get(changelist).content.decode()
    titles = set(re.findall(r'data-filter-title="([^"]+)"', body))
    assert {"status", "trigger", "task"} <= titles
    assert "Show counts" not in body  # facets would count millions of rows
    assert "Add task execution" not in body
    found = admin_client_.get(changelist + "?q=disk").content.decode()
    assert found.count('class="action-select"') == 1
    change = admin_client_.get(
        reverse("admin:scheduling_taskexecution_change", args=[failed.pk])
    ).content.decode()
    assert 'name="status"' not in change  # view only
    assert "OSError: disk full" in change
    assert f'href="/tasks/backup/executions/{failed.pk}/"' in change
    assert admin_client_.get(changelist + "?status__exact=failed").status_code == 200


def test_execution_changelist_does_not_count_every_row(
    admin_client_, django_assert_max_num_queries
):
    TaskExecutionFactory.create_batch(5)
    changelist = reverse("admin:scheduling_taskexecution_changelist")
    with django_assert_max_num_queries(12) as captured:
        admin_client_.get(changelist)
    counts = [q["sql"] for q in captured.captured_queries if "COUNT(" in q["sql"].upper()]
    assert len(counts) == 1  # the filtered count only; no full-table count


def test_scheduler_nodes_and_lease_are_read_only(admin_client_):
    node = SchedulerNode.objects.create(node_id="n1", host="worker-1", pid=1)
    lease = SchedulerLease.objects.create(holder="n1", host="worker-1")
    for model, obj in [("schedulernode", node), ("schedulerlease", lease)]:
        assert (
            "worker-1"
            in admin_client_.get(reverse(f"admin:scheduling_{model}_changelist")).content.decode()
        )
        change = admin_client_.get(reverse(f"admin:scheduling_{model}_change", args=[obj.pk]))
        assert 'name="host"' not in change.content.decode()
        assert admin_client_.get(reverse(f"admin:scheduling_{model}_add")).status_code == 403


def test_staff_without_perms_cannot_see_task_admin(client, viewer):
    viewer.is_staff = True
    viewer.save()
    client.force_login(viewer)
    assert client.get(CHANGELIST).status_code == 403


def test_adding_a_task_in_admin_validates_and_audits_the_creation(admin_client_):
    add = reverse("admin:scheduling_task_add")
    form = _change_form(
        Task(name="new-task", func="test_noop", timezone="UTC"),
        trigger_type="interval",
        interval_seconds="600",
        cron_expression="",
    )
    response = admin_client_.post(add, form)
    assert response.status_code == 302
    task = Task.objects.get(name="new-task")
    assert task.next_run_at is not None
    log = AuditLog.objects.get()
    assert (log.action, log.details["new"]["interval_seconds"]) == ("task.created", 600)


def test_staff_cannot_point_a_task_at_a_shell_command(client, staff):
    """The attack from issue 12: change_task only, func=subprocess.check_output."""
    client.force_login(staff)
    task = TaskFactory(name="backup", cron_expression="0 3 * * *")
    page = client.get(_change_url(task)).content.decode()
    assert '<select name="func"' in page and '<input type="text" name="func"' not in page
    assert "test_record — Records its kwargs." in page
    response = client.post(
        _change_url(task),
        _change_form(
            task,
            func="subprocess.check_output",
            kwargs='{"args": ["id"]}',
            cron_expression="* * * * *",
        ),
    )
    assert response.status_code == 200
    assert "Select a valid choice. subprocess.check_output is not one of" in response.text
    task.refresh_from_db()
    assert (task.func, task.kwargs, task.cron_expression) == ("test_noop", {}, "0 3 * * *")
    assert not AuditLog.objects.exists()


def test_changing_func_in_admin_is_audited_with_old_and_new(admin_client_, superuser):
    task = TaskFactory(name="backup")
    response = admin_client_.post(_change_url(task), _change_form(task, func="test_record"))
    assert response.status_code == 302
    log = AuditLog.objects.get()
    assert (log.user, log.action, log.details["source"]) == (superuser, "task.configured", "admin")
    assert (log.details["old"], log.details["new"]) == (
        {"func": "test_noop"},
        {"func": "test_record"},
    )


def test_a_row_storing_a_registered_dotted_path_saves_unchanged_without_an_audit_row(
    admin_client_,
):
    task = TaskFactory(name="legacy", func="scheduling.tests.tasks_for_tests.record")
    page = admin_client_.get(_change_url(task)).content.decode()
    assert '<option value="test_record" selected>' in page
    response = admin_client_.post(_change_url(task), _change_form(task, func="test_record"))
    assert response.status_code == 302
    assert Task.objects.get().func == "scheduling.tests.tasks_for_tests.record"
    assert not AuditLog.objects.exists()


def test_a_stored_func_that_is_not_registered_is_named_escaped_on_the_change_page(admin_client_):
    task = TaskFactory(name="legacy", func="<b>os.system</b>")
    page = admin_client_.get(_change_url(task)).content.decode()
    assert "Stored now: <code>&lt;b&gt;os.system&lt;/b&gt;</code>, which is not registered" in page


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("misfire_grace_seconds", "100000000000000", "at most 30 days"),
        ("misfire_grace_seconds", "0", "out of range 1-"),
        ("timeout_seconds", "1000000000000", "at most 30 days"),
        ("max_retries", "101", "out of range 0-100"),
        ("max_retries", "9" * 30, "Ensure this value is less than or equal to"),
        ("retry_backoff_seconds", "1000000000000000", "at most 1 day"),
        ("retry_backoff_max_seconds", "9" * 40, "at most 7 days"),
        ("retry_backoff_max_seconds", "9" * 5000, "Enter a whole number"),
        ("interval_seconds", "1000000000000", "at most 365 days"),
        ("kwargs", '{"a": NaN}', "NaN is not a JSON number"),
        ("kwargs", "[" * 950 + "]" * 950, "nested 950 levels deep"),
        ("kwargs", '{"a": "\\ud800"}', "lone surrogate"),
        ("description", "x" * 1001, "at most 1000 characters"),
    ],
)
def test_admin_shows_a_field_error_for_every_out_of_range_value(
    admin_client_, field, value, message
):
    task = TaskFactory(name="backup", cron_expression="0 3 * * *")
    response = admin_client_.post(_change_url(task), _change_form(task, **{field: value}))
    assert response.status_code == 200
    assert message in response.text
    assert Task.objects.get().updated_at == task.updated_at
    assert not AuditLog.objects.exists()


def test_admin_refuses_a_date_past_year_9000(admin_client_):
    task = TaskFactory(name="once", cron_expression="")
    form = _change_form(task, trigger_type="date", run_at_0="9999-12-31", run_at_1="23:59")
    response = admin_client_.post(_change_url(task), form)
    assert response.status_code == 200
    assert "run_at: 9999-12-31 23:59 is out of range" in response.text


def test_deleting_in_admin_is_audited_one_row_per_task(admin_client_, superuser):
    one, two, three = (TaskFactory(name=n) for n in ("one", "two", "three"))
    admin_client_.post(reverse("admin:scheduling_task_delete", args=[one.pk]), {"post": "yes"})
    admin_client_.post(
        CHANGELIST,
        {"action": "delete_selected", "_selected_action": [two.pk, three.pk], "post": "yes"},
    )
    assert not Task.objects.exists()
    rows = AuditLog.objects.order_by("id")
    assert [(r.action, r.resource_id) for r in rows] == [
        ("task.deleted", "one"), ("task.deleted", "three"), ("task.deleted", "two"),
    ]  # fmt: skip
    assert all(r.user == superuser and r.details["source"] == "admin" for r in rows)
    assert rows[0].details["old"]["func"] == "test_noop"


def test_django_apschedulers_run_jobs_admin_is_not_offered(admin_client_):
    body = admin_client_.get(reverse("admin:index")).content.decode()
    assert "djangojob" not in body.lower()


@pytest.mark.parametrize("model", ["djangojob", "djangojobexecution"])
def test_django_apschedulers_empty_pages_are_gone_and_task_executions_stay(admin_client_, model):
    body = admin_client_.get(reverse("admin:index")).content.decode()
    assert "Django job" not in body and "Django_Apscheduler" not in body
    assert "Task executions" in body
    assert admin_client_.get(f"/admin/django_apscheduler/{model}/").status_code == 404


def test_policy_notification_and_description_changes_are_audited_field_by_field(admin_client_):
    task = TaskFactory(name="backup")
    changes = {
        "description": "Nightly dump",
        "max_retries": "3",
        "timeout_seconds": "600",
        "allow_overlap": "on",
        "notify_on_failure": "",
        "notify_recipients": "ops@example.com",
    }
    admin_client_.post(_change_url(task), _change_form(task, **changes))
    log = AuditLog.objects.get()
    assert log.details["new"] == {
        "description": "Nightly dump",
        "allow_overlap": True,
        "max_retries": 3,
        "timeout_seconds": 600,
        "notify_on_failure": False,
        "notify_recipients": "ops@example.com",
    }
    assert log.details["old"]["max_retries"] == 0 and log.details["old"]["timeout_seconds"] is None


def test_the_admin_makes_a_chained_task_and_refuses_a_loop_naming_it(admin_client_):
    backup = TaskFactory(name="backup")
    report = TaskFactory(name="report")
    response = admin_client_.post(
        _change_url(report),
        _change_form(report, trigger_type="after", after_task=str(backup.pk), after_status="any"),
    )
    assert response.status_code == 302
    report.refresh_from_db()
    assert (report.trigger_type, report.after_task, report.after_status) == ("after", backup, "any")
    assert AuditLog.objects.get(action="task.configured").details["new"]["after_task"] == "backup"
    response = admin_client_.post(
        _change_url(backup), _change_form(backup, trigger_type="after", after_task=str(report.pk))
    )
    assert response.status_code == 200
    assert "backup -&gt; report -&gt; backup" in response.content.decode()
    assert Task.objects.get(name="backup").trigger_type == "cron"


def test_the_changelist_of_chained_tasks_reads_each_upstream_in_the_same_query(
    admin_client_, django_assert_max_num_queries
):
    backup = TaskFactory(name="backup")
    for n in range(20):
        TaskFactory(name=f"step-{n}", trigger_type="after", after_task=backup)
    with django_assert_max_num_queries(12):
        body = admin_client_.get(CHANGELIST).content.decode()
    assert body.count("After backup succeeds") == 20
