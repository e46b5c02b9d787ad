"""The engine with rows no check lets in: it logs and skips that task, and never stops.

Rows are written around the validators and the check constraints (see
`stored.write_raw`), after which the database refuses any UPDATE of them, as
it would for a row from before the constraints.
"""

import logging
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.utils import timezone

from scheduling.engine import recovery, runner
from scheduling.engine.loop import job_id
from scheduling.engine.runner import HOST
from scheduling.models import ExecutionStatus, Task, TaskExecution
from scheduling.tests.factories import TaskExecutionFactory, TaskFactory
from scheduling.tests.stored import HUGE, write_raw
from scheduling.tests.test_leadership import dead_pid

pytestmark = pytest.mark.django_db(transaction=True)

FAR = datetime(9999, 12, 31, 23, 59, tzinfo=UTC)


def bad_rows() -> list[Task]:
    """One task per kind of bad stored value, each otherwise due and runnable."""
    values = [
        {"trigger_type": "interval", "interval_seconds": HUGE},
        {"misfire_grace_seconds": HUGE},
        {"timeout_seconds": HUGE},
        {"retry_backoff_seconds": HUGE},
        {"trigger_type": "date", "run_at": FAR, "timezone": "Etc/GMT-14"},
        {"kwargs": "[1]"},
    ]
    if connection.vendor == "sqlite":  # jsonb refuses these outright
        values += [{"kwargs": '{"a": NaN}'}, {"kwargs": '{"a": "\\ud800"}'}]
    tasks = []
    for i, fields in enumerate(values):
        task = TaskFactory(name=f"bad-{i}", func="test_record", cron_expression="* * * * *")
        write_raw(task, **fields)
        tasks.append(Task.objects.get(pk=task.pk))
    return tasks


def test_sync_schedules_the_healthy_tasks_and_logs_each_bad_one(engine, caplog):
    healthy = TaskFactory(name="healthy", func="test_record", cron_expression="* * * * *")
    bad = bad_rows()
    with caplog.at_level(logging.ERROR, logger="scheduling.engine"):
        engine.sync(full=True)
    assert [job.id for job in engine.scheduler.get_jobs()] == [job_id(healthy.pk)]
    assert Task.objects.get(pk=healthy.pk).next_run_at is not None
    for task in bad:
        assert f"Task {task.name} not scheduled" in caplog.text
    assert engine.sync(full=True) == 0  # logged once, not on every pass


def test_catchup_planning_skips_a_bad_task_and_plans_the_others(caplog):
    now = timezone.now()
    healthy = TaskFactory(name="healthy", cron_expression="* * * * *", misfire_grace_seconds=600)
    bad = bad_rows()
    for task in [healthy, *bad]:
        write_raw(task, next_run_at=now - timedelta(minutes=3))
    with caplog.at_level(logging.ERROR):
        due = recovery.plan_catchup(now)
    assert [task.name for task, _ in due] == ["healthy"]
    for task in bad:
        assert f"No catch-up for {task.name}" in caplog.text


def test_overdue_flagging_skips_a_bad_timeout_and_flags_the_others(engine, caplog):
    long_ago = timezone.now() - timedelta(hours=2)
    healthy = TaskFactory(name="healthy", timeout_seconds=60)
    bad = TaskFactory(name="bad", timeout_seconds=60)
    write_raw(bad, timeout_seconds=HUGE)
    for task in (healthy, bad):
        TaskExecutionFactory(task=task, status="running", started_at=long_ago, finished_at=None)
    with caplog.at_level(logging.ERROR, logger="scheduling.engine"):
        assert engine.flag_overdue() == 1
        assert engine.flag_overdue() == 0
    assert TaskExecution.objects.get(task=healthy).is_overdue
    assert not TaskExecution.objects.get(task=bad).is_overdue
    assert caplog.text.count("not checked for overrun") == 1


def test_a_run_of_a_bad_task_is_refused_and_recorded_without_a_retry(finished, caplog):
    task = TaskFactory(name="bad", func="test_boom", max_retries=3)
    write_raw(task, retry_backoff_seconds=HUGE)
    queued = TaskExecution.objects.create(task=task, trigger="manual", status="queued")
    with caplog.at_level(logging.ERROR):
        runner.run_queued(queued.pk)
    queued.refresh_from_db()
    assert queued.status == ExecutionStatus.FAILED
    assert "holds values out of range (retry_backoff_seconds:" in queued.error
    assert not TaskExecution.objects.filter(trigger="retry").exists()
    assert finished == [("bad", "failed", True)]


def test_one_refused_task_row_does_not_lose_the_other_outcomes_of_its_batch(caplog):
    healthy = TaskFactory(name="healthy", func="test_record")
    bad = TaskFactory(name="bad", func="test_record")
    write_raw(bad, run_count=-5)  # every database refuses to count on from here
    fire = timezone.now().replace(microsecond=0)
    claims = [
        runner.claim_fire(Task.objects.get(pk=t.pk), fire, "schedule") for t in (healthy, bad)
    ]
    outcomes = [runner.Outcome(claim.task, claim, True, {"n": 1}, "", 5) for claim in claims]
    with caplog.at_level(logging.ERROR):
        runner.record_outcomes(outcomes)
    statuses = dict(TaskExecution.objects.values_list("task__name", "status"))
    assert statuses == {"healthy": "success", "bad": "success"}
    assert Task.objects.get(pk=healthy.pk).run_count == 1
    assert Task.objects.get(pk=bad.pk).run_count == -5
    assert "Counters of bad not updated" in caplog.text


def test_a_run_of_a_bad_task_row_is_still_abandoned_when_its_process_dies():
    task = TaskFactory(name="bad")
    write_raw(task, failure_count=-1)  # the abandonment cannot be counted on this row
    orphan = TaskExecutionFactory(
        task=task, status="running", host=HOST, pid=dead_pid(), finished_at=None
    )
    assert [e.pk for e in recovery.abandon_orphans()] == [orphan.pk]
    assert TaskExecution.objects.get(pk=orphan.pk).status == ExecutionStatus.ABANDONED
