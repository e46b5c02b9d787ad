"""A real `runscheduler` against a database holding rows no check lets in.

Issue 12 saw one admin value stop the scheduler for good (OverflowError in
catch-up planning on every start, in the leader loop, when queueing a retry).
Here every such value sits in the database at start-up, written around the
validators and constraints; the process must log each bad task, keep running
and keep running the healthy one, and never run a function that is not registered.
"""

import os
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.utils import timezone

from scheduling.engine.runner import HOST
from scheduling.models import ExecutionStatus, Task, TaskExecution
from scheduling.scheduler import TaskScheduler
from scheduling.tests.factories import TaskExecutionFactory, TaskFactory
from scheduling.tests.processes import SchedulerProcess, wait_until
from scheduling.tests.stored import DEEP_OBJECT, HUGE, LONE_SURROGATE, write_raw

pytestmark = [pytest.mark.process, pytest.mark.django_db(transaction=True)]

# name: (fields of a task due every second, raw values written over them)
BAD = {
    "huge-grace": {"misfire_grace_seconds": HUGE},
    "huge-interval": {"interval_seconds": HUGE},
    "huge-timeout": {"timeout_seconds": HUGE},
    "huge-backoff": {"retry_backoff_seconds": HUGE},
    "far-date": {
        "trigger_type": "date",
        "run_at": datetime(9999, 12, 31, 23, 59, tzinfo=UTC),
        "timezone": "Etc/GMT-14",
    },
    "deep-kwargs": {"kwargs": DEEP_OBJECT},
}
if connection.vendor == "sqlite":  # PostgreSQL's jsonb refuses these outright
    BAD["nan-kwargs"] = {"kwargs": '{"a": NaN}'}
    BAD["surrogate-kwargs"] = {"kwargs": LONE_SURROGATE}


@pytest.fixture
def scheduler():
    processes = []

    def start():
        processes.append(SchedulerProcess())
        return processes[-1]

    yield start
    for process in processes:
        process.kill()


def test_runscheduler_logs_and_skips_bad_rows_and_runs_the_healthy_task(scheduler):
    api = TaskScheduler()
    api.add_interval_task("healthy", "test_record", 1)
    missed = timezone.now() - timedelta(minutes=5)
    for name, values in BAD.items():
        task = TaskFactory(
            name=name, func="test_boom", trigger_type="interval", interval_seconds=1,
            cron_expression="", max_retries=2,
        )  # fmt: skip
        write_raw(task, next_run_at=missed, **values)
    overrunning = TaskExecutionFactory(
        task=Task.objects.get(name="huge-timeout"),
        status="running",
        started_at=missed,
        finished_at=None,
        host=HOST,
        pid=os.getpid(),
    )  # fmt: skip  (this process is alive: the run stays "running", past any timeout)
    queued = TaskExecution.objects.create(
        task=Task.objects.get(name="huge-backoff"),
        trigger="manual",
        status="queued",
    )
    shell = TaskFactory(
        name="shell",
        func="subprocess.check_output",
        kwargs={"args": ["id"]},
        trigger_type="interval",
        interval_seconds=1,
        cron_expression="",
    )  # fmt: skip  (written straight to the database, as issue 12's attacker would)

    process = scheduler()

    wait_until(
        lambda: TaskExecution.objects.filter(task__name="healthy", status="success").count() >= 3,
        30,
        f"3 runs of the healthy task; output:\n{process.output}",
    )
    wait_until(
        lambda: TaskExecution.objects.filter(task=shell, status="failed").exists(),
        15,
        "a failed run of the unregistered function",
    )
    for name in BAD:
        process.wait_for_output(f"Task {name} not scheduled", timeout=10)
        process.wait_for_output(f"No catch-up for {name}", timeout=10)
    process.wait_for_output(f"huge-timeout #{overrunning.pk} not checked for overrun", timeout=15)
    wait_until(
        lambda: TaskExecution.objects.get(pk=queued.pk).status == ExecutionStatus.FAILED,
        10,
        "the manual run of the task with a huge backoff to be refused",
    )
    assert "holds values out of range (retry_backoff_seconds" in (
        TaskExecution.objects.get(pk=queued.pk).error
    )
    assert process.proc.poll() is None, process.output
    assert "Traceback" not in process.output
    assert "OverflowError" not in process.output
    assert not TaskExecution.objects.filter(trigger="retry").exists()
    fired = TaskExecution.objects.filter(task__name__in=list(BAD)).exclude(pk=overrunning.pk)
    assert list(fired.exclude(pk=queued.pk)) == []  # no bad task fired or caught up
    shell_runs = TaskExecution.objects.filter(task=shell)
    assert {run.status for run in shell_runs} == {ExecutionStatus.FAILED}
    assert all("is not a registered task function" in run.error for run in shell_runs)
    assert process.terminate() == 0
