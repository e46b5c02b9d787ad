"""The engine in this process: sync with the Task table, queued runs, start/stop."""

import pytest
from django.test import override_settings

from scheduling.engine.loop import job_id
from scheduling.models import ExecutionStatus, Task, TaskExecution
from scheduling.scheduler import TaskScheduler
from scheduling.tests.factories import TaskFactory
from scheduling.tests.processes import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def test_sync_schedules_enabled_tasks_and_sets_next_run(engine):
    tasks = [TaskFactory(cron_expression="0 3 * * *") for _ in range(5)]
    TaskFactory(enabled=False)
    assert engine.sync(full=True) == 5
    assert {j.id for j in engine.scheduler.get_jobs()} == {job_id(t.pk) for t in tasks}
    assert Task.objects.filter(enabled=True, next_run_at__isnull=True).count() == 0


def test_sync_picks_up_only_what_changed(engine):
    tasks = [TaskFactory(cron_expression="0 3 * * *") for _ in range(20)]
    engine.sync(full=True)
    assert engine.sync() == 0
    edited = tasks[3]
    edited.cron_expression = "15 4 * * *"
    edited.save()
    assert engine.sync() == 1
    job = engine.scheduler.get_job(job_id(edited.pk))
    assert job.next_run_time.minute == 15
    tasks[4].enabled = False
    tasks[4].save()
    tasks[5].delete()
    assert engine.sync() == 2
    assert engine.scheduler.get_job(job_id(tasks[4].pk)) is None
    assert Task.objects.get(pk=tasks[4].pk).next_run_at is None


def test_full_sync_drops_jobs_left_in_the_store_for_deleted_tasks(engine):
    task = TaskFactory()
    engine.sync(full=True)
    Task.objects.filter(pk=task.pk).delete()
    engine.known.clear()
    engine.sync(full=True)
    assert engine.scheduler.get_jobs() == []


def test_a_task_with_a_broken_schedule_does_not_stop_the_others(engine):
    good = TaskFactory()
    bad = TaskFactory()
    Task.objects.filter(pk=bad.pk).update(cron_expression="99 * * * *")
    engine.sync(full=True)
    assert [j.id for j in engine.scheduler.get_jobs()] == [job_id(good.pk)]


def test_queued_runs_are_dispatched_once(engine):
    task = TaskFactory(func="scheduling.tests.tasks_for_tests.record")
    queued = TaskScheduler().trigger_task_now(task.name)
    assert engine.dispatch_queued() == 1
    assert engine.dispatch_queued() == 0
    wait_until(
        lambda: TaskExecution.objects.get(pk=queued.pk).status == ExecutionStatus.SUCCESS,
        10,
        "the queued run",
    )


@override_settings(SCHEDULER_HEARTBEAT_SECONDS=0.2, SCHEDULER_SYNC_SECONDS=0.2)
def test_taskscheduler_start_runs_the_engine_in_process():
    api = TaskScheduler()
    api.add_interval_task("inproc", "scheduling.tests.tasks_for_tests.record", 1)
    api.start()
    try:
        wait_until(
            lambda: (
                TaskExecution.objects.filter(task__name="inproc", status="success").count() >= 2
            ),
            15,
            "two runs from the in-process engine",
        )
    finally:
        api.stop()
    assert not TaskExecution.objects.filter(status="running").exists()


def test_executor_runs_the_latest_coalesced_fire_and_skips_ones_past_grace(engine):
    from datetime import timedelta
    from types import SimpleNamespace

    from django.utils import timezone

    task = TaskFactory(func="scheduling.tests.tasks_for_tests.record", misfire_grace_seconds=30)
    now = timezone.now()
    on_time = SimpleNamespace(id="task-a", args=[task.pk], misfire_grace_time=30, max_instances=9)
    engine.executor.submit_job(on_time, [now - timedelta(seconds=40), now - timedelta(seconds=1)])
    engine.executor.submit_job(on_time, [now - timedelta(seconds=90)])
    # Outcomes are recorded in batches after the run: wait for both final states.
    wait_until(
        lambda: (
            set(TaskExecution.objects.filter(task=task).values_list("status", flat=True))
            == {"success", "skipped"}
        ),
        10,
        "one run recorded and one miss",
    )
    ran = TaskExecution.objects.get(task=task, status="success")
    assert ran.scheduled_for == now - timedelta(seconds=1)
    missed = TaskExecution.objects.get(task=task, status="skipped")
    assert "beyond the 30 s misfire grace" in missed.error
