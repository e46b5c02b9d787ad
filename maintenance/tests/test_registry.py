from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.sessions.models import Session
from django.core.management import call_command

from maintenance import tasks
from scheduling import registry
from scheduling.engine.runner import run_now
from scheduling.models import ExecutionStatus, Task

DEFAULT_SCHEDULES = {
    "cleanup_expired_sessions": "0 * * * *",
    "archive_audit_logs": "0 2 * * *",
    "backup_database": "0 3 * * *",
    "cleanup_inactive_credentials": "0 5 1 * *",
    "aggregate_daily_stats": "0 1 * * *",
    "cleanup_error_logs": "0 4 * * 0",
    "prune_task_executions": "30 4 * * *",
}


def test_every_task_is_registered_under_its_function_name_with_its_default_schedule():
    entries = registry.registered()
    for name, schedule in DEFAULT_SCHEDULES.items():
        assert entries[name].schedule == schedule
        assert entries[name].func is getattr(tasks, name)
        assert entries[name].description


@pytest.mark.django_db
def test_syncdefaulttasks_creates_the_maintenance_tasks_with_their_schedules():
    call_command("syncdefaulttasks")
    rows = dict(
        Task.objects.filter(name__in=DEFAULT_SCHEDULES).values_list("name", "cron_expression")
    )
    assert rows == DEFAULT_SCHEDULES
    assert set(Task.objects.filter(name__in=DEFAULT_SCHEDULES).values_list("func", flat=True)) == (
        set(DEFAULT_SCHEDULES)
    )


@pytest.mark.django_db
def test_a_run_through_the_runner_stores_the_returned_counts_and_honours_task_kwargs():
    call_command("syncdefaulttasks")
    Session.objects.create(
        session_key="old", session_data="e30", expire_date=datetime.now(UTC) - timedelta(days=1)
    )
    task = Task.objects.get(name="cleanup_expired_sessions")
    task.kwargs = {"batch_size": 10}
    task.save()

    execution = run_now(task)

    assert execution.status == ExecutionStatus.SUCCESS
    execution.refresh_from_db()
    assert execution.result["deleted"] == 1
    assert execution.result["batches"] == 1


@pytest.mark.django_db
def test_a_failing_task_is_recorded_as_failed_with_its_error(settings, tmp_path):
    call_command("syncdefaulttasks")
    blocker = tmp_path / "file.txt"
    blocker.write_text("")
    settings.BACKUP_DIR = blocker / "sub"

    execution = run_now(Task.objects.get(name="backup_database"))

    assert execution.status == ExecutionStatus.FAILED
    assert "Cannot create backup directory" in execution.error
    assert execution.result is None
