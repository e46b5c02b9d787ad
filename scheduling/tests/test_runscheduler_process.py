"""A real `runscheduler` process: it fires, picks up edits, runs manual triggers, stops cleanly."""

import signal

import pytest

from scheduling.models import ExecutionStatus, Task, TaskExecution
from scheduling.scheduler import TaskScheduler
from scheduling.tests.processes import SchedulerProcess, wait_until

pytestmark = [pytest.mark.process, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def scheduler_process():
    processes = []

    def start(*args, **kwargs):
        process = SchedulerProcess(*args, **kwargs)
        processes.append(process)
        return process

    yield start
    for process in processes:
        process.kill()


def successes(name: str) -> int:
    return TaskExecution.objects.filter(task__name=name, status=ExecutionStatus.SUCCESS).count()


def test_runscheduler_fires_applies_edits_runs_manual_triggers_pauses_and_stops(scheduler_process):
    api = TaskScheduler()
    api.add_interval_task("tick", "scheduling.tests.tasks_for_tests.record", 1)
    api.add_cron_task("on-demand", "scheduling.tests.tasks_for_tests.record", "0 0 1 1 *")
    process = scheduler_process()

    # It fires on schedule.
    wait_until(lambda: successes("tick") >= 3, 30, "3 successful scheduled runs of tick")
    # A slow start can make the first fire a catch-up; never a manual run or a retry.
    triggers = TaskExecution.objects.filter(task__name="tick").values_list("trigger", flat=True)
    assert set(triggers) <= {"schedule", "catchup"}

    # An edit made by this (other) process is applied without a restart.
    tick = Task.objects.get(name="tick")
    tick.kwargs = {"edited": True}
    tick.save()
    wait_until(
        lambda: TaskExecution.objects.filter(
            task__name="tick", result={"received": {"edited": True}}
        ).exists(),
        15,
        "a run with the edited kwargs",
    )

    # A manual trigger is picked up and run.
    queued = api.trigger_task_now("on-demand")
    wait_until(
        lambda: TaskExecution.objects.get(pk=queued.pk).status == ExecutionStatus.SUCCESS,
        10,
        "the manual run to finish",
    )

    # Pausing stops the runs.
    api.pause_task("tick")
    process.wait_for_output(f"Unscheduled task {tick.pk}", timeout=10)
    before = TaskExecution.objects.filter(task__name="tick").count()
    # Proving an absence takes a bounded watch: three interval lengths, no new run
    # (one run already in flight when the pause landed may still be recorded).
    with pytest.raises(AssertionError, match="Timed out"):
        wait_until(
            lambda: TaskExecution.objects.filter(task__name="tick").count() > before + 1,
            3,
            "a run while paused",
        )

    # SIGTERM: clean exit with code 0, no run left `running`.
    assert process.terminate() == 0
    assert "Scheduler stopped." in process.output
    assert not TaskExecution.objects.filter(status=ExecutionStatus.RUNNING).exists()


def test_runscheduler_exits_zero_on_sigint_too(scheduler_process):
    process = scheduler_process()
    process.wait_for_output("is now the leader")
    process.proc.send_signal(signal.SIGINT)
    assert process.proc.wait(30) == 0
