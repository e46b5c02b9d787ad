"""The engine's executor claims fires due together in one batch and stores their outcomes."""

from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.utils import timezone

from scheduling.models import ExecutionStatus, Task, TaskExecution
from scheduling.tests.factories import TaskFactory

pytestmark = pytest.mark.django_db(transaction=True)


def job(task):
    return SimpleNamespace(id=f"task-{task.pk}", args=[task.pk], misfire_grace_time=30,
                           max_instances=9)  # fmt: skip


def test_fires_due_together_all_run_once_and_wait_returns_after_their_outcomes(engine):
    tasks = [TaskFactory(func="scheduling.tests.tasks_for_tests.record") for _ in range(25)]
    fire = timezone.now().replace(microsecond=0)
    for task in tasks:
        engine.executor.submit_job(job(task), [fire])
    engine.executor.submit_job(job(tasks[0]), [fire])  # the same fire again: runs once
    assert engine.executor.wait(20)
    runs = TaskExecution.objects.filter(scheduled_for=fire)
    assert runs.count() == 25
    assert set(runs.values_list("status", flat=True)) == {ExecutionStatus.SUCCESS}
    assert set(Task.objects.values_list("run_count", flat=True)) == {1}


def test_a_fire_of_a_task_still_running_is_skipped_and_counted_as_done(engine):
    task = TaskFactory(func="scheduling.tests.tasks_for_tests.record")
    earlier = TaskExecution.objects.create(task=task, status=ExecutionStatus.RUNNING)
    fire = timezone.now().replace(microsecond=0)
    engine.executor.submit_job(job(task), [fire])
    assert engine.executor.wait(20)
    skipped = TaskExecution.objects.get(scheduled_for=fire)
    assert skipped.status == ExecutionStatus.SKIPPED
    assert f"#{earlier.pk} was still running" in skipped.error


def test_a_fire_past_its_grace_is_recorded_as_missed_not_batched(engine):
    task = TaskFactory(func="scheduling.tests.tasks_for_tests.record")
    fire = timezone.now() - timedelta(seconds=90)
    engine.executor.submit_job(job(task), [fire])
    assert engine.executor.wait(20)
    assert TaskExecution.objects.get(scheduled_for=fire).status == ExecutionStatus.SKIPPED


def test_shutdown_stores_outcomes_of_runs_that_finished_within_the_grace(engine):
    task = TaskFactory(func="scheduling.tests.tasks_for_tests.sleep", kwargs={"seconds": 0.3})
    fire = timezone.now().replace(microsecond=0)
    engine.executor.submit_job(job(task), [fire])
    assert engine.shutdown(grace_seconds=10)
    assert TaskExecution.objects.get(scheduled_for=fire).status == ExecutionStatus.SUCCESS
