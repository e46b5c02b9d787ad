"""The lease, crash recovery, catch-up and soft timeouts, with an injected clock."""

import os
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from scheduling import signals
from scheduling.engine import heartbeat, leader, recovery
from scheduling.engine.loop import Engine
from scheduling.engine.runner import HOST
from scheduling.models import ExecutionStatus, SchedulerNode, Task, TaskExecution
from scheduling.tests.factories import TaskExecutionFactory, TaskFactory

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def dead_pid() -> int:
    pid = 4_000_000
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return pid
        pid += 1


def test_only_one_node_holds_the_lease_until_it_expires():
    assert leader.try_acquire("a", 30, T0)
    assert not leader.try_acquire("b", 30, T0 + timedelta(seconds=29))
    assert leader.try_acquire("a", 30, T0 + timedelta(seconds=29))  # renewal extends it
    assert not leader.try_acquire("b", 30, T0 + timedelta(seconds=58))
    assert leader.try_acquire("b", 30, T0 + timedelta(seconds=60))  # a stopped renewing
    assert not leader.try_acquire("a", 30, T0 + timedelta(seconds=61))


def test_released_lease_is_taken_at_once():
    leader.try_acquire("a", 30, T0)
    leader.release("a")
    assert leader.try_acquire("b", 30, T0 + timedelta(seconds=1))


def test_runs_of_dead_processes_are_abandoned_and_count_as_failures(finished):
    task = TaskFactory(name="orphaned")
    dead = TaskExecutionFactory(
        task=task, status="running", host=HOST, pid=dead_pid(), finished_at=None
    )
    mine = TaskExecutionFactory(
        task=task, status="running", host=HOST, pid=os.getpid(), finished_at=None
    )
    remote_alive = TaskExecutionFactory(
        task=task, status="running", host="other", pid=7, finished_at=None
    )
    remote_dead = TaskExecutionFactory(
        task=task, status="running", host="gone", pid=8, finished_at=None
    )
    SchedulerNode.objects.create(node_id="other:7", host="other", pid=7)
    abandoned = recovery.abandon_orphans()
    assert {e.pk for e in abandoned} == {dead.pk, remote_dead.pk}
    dead.refresh_from_db()
    assert dead.status == ExecutionStatus.ABANDONED and "stopped before it finished" in dead.error
    for alive in (mine, remote_alive):
        alive.refresh_from_db()
        assert alive.status == ExecutionStatus.RUNNING
    task.refresh_from_db()
    assert (task.failure_count, task.consecutive_failures, task.last_status) == (2, 2, "abandoned")
    assert finished == [("orphaned", "abandoned", True)] * 2
    assert recovery.abandon_orphans() == []  # idempotent


def test_catchup_coalesces_recent_misses_and_records_older_ones_as_one_skip():
    task = TaskFactory(
        trigger_type="interval", interval_seconds=60, cron_expression="", misfire_grace_seconds=150
    )
    Task.objects.filter(pk=task.pk).update(created_at=T0, next_run_at=T0 + timedelta(minutes=1))
    now = T0 + timedelta(minutes=10, seconds=30)
    due = recovery.plan_catchup(now)
    # Missed 10:01 ... 10:10; 10:08, 10:09 and 10:10 are within 150 s.
    assert [(t.name, when) for t, when in due] == [(task.name, T0 + timedelta(minutes=10))]
    skipped = TaskExecution.objects.get(task=task, status="skipped")
    assert "Missed 7 fire time(s)" in skipped.error
    assert skipped.scheduled_for == T0 + timedelta(minutes=1)
    # A second planner (another scheduler taking over) records no second gap.
    recovery.plan_catchup(now)
    assert TaskExecution.objects.filter(task=task, status="skipped").count() == 1


def test_catchup_ignores_tasks_that_are_paused_or_not_yet_due():
    paused = TaskFactory(enabled=False)
    future = TaskFactory()
    Task.objects.filter(pk=paused.pk).update(next_run_at=T0 - timedelta(hours=1))
    Task.objects.filter(pk=future.pk).update(next_run_at=T0 + timedelta(hours=1))
    assert recovery.plan_catchup(T0) == []
    assert not TaskExecution.objects.exists()


def test_overdue_runs_are_flagged_and_alerted_once():
    alerts = []

    def receiver(sender, task, execution, **kwargs):
        alerts.append(execution.pk)

    signals.task_overdue.connect(receiver)
    task = TaskFactory(timeout_seconds=60)
    late = TaskExecutionFactory(
        task=task,
        status="running",
        finished_at=None,
        started_at=timezone.now() - timedelta(minutes=5),
    )
    TaskExecutionFactory(task=task, status="running", finished_at=None, started_at=timezone.now())
    engine = Engine()
    assert engine.flag_overdue() == 1
    assert engine.flag_overdue() == 0
    late.refresh_from_db()
    assert late.is_overdue and late.status == "running"
    assert alerts == [late.pk]
    signals.task_overdue.disconnect(receiver)


def test_heartbeat_state_names_the_leader():
    heartbeat.register("n1")
    heartbeat.register("n2")
    heartbeat.beat("n2", is_leader=True)
    state = heartbeat.current_state()
    assert state["state"] == "running" and state["nodes"] == 2
    assert state["leader"] == f"{state['host']}:{state['pid']}"
    heartbeat.mark_stopped("n1")
    heartbeat.mark_stopped("n2")
    assert heartbeat.current_state()["state"] == "not_running"


def test_a_cli_run_on_another_host_is_not_abandoned_for_lack_of_a_heartbeat():
    task = TaskFactory()
    remote_cli = TaskExecutionFactory(
        task=task, trigger="cli", status="running", host="ops-box", pid=99, finished_at=None
    )
    local_dead_cli = TaskExecutionFactory(
        task=task, trigger="cli", status="running", host=HOST, pid=dead_pid(), finished_at=None
    )
    assert [e.pk for e in recovery.abandon_orphans()] == [local_dead_cli.pk]
    remote_cli.refresh_from_db()
    assert remote_cli.status == ExecutionStatus.RUNNING
