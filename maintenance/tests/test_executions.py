from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from maintenance.tasks import prune_task_executions
from scheduling.models import ExecutionStatus, ExecutionTrigger
from scheduling.tests.factories import TaskExecutionFactory, TaskFactory

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def runs(task, count, age, **fields):
    fields.setdefault("trigger", ExecutionTrigger.MANUAL)  # frozen time: one scheduled_for
    return TaskExecutionFactory.create_batch(count, task=task, created_at=NOW - age, **fields)


def test_it_deletes_old_history_but_keeps_the_newest_twenty_per_task():
    busy, rare = TaskFactory(name="busy"), TaskFactory(name="rare")
    old_busy = runs(busy, 30, timedelta(days=100))
    recent_busy = runs(busy, 5, timedelta(days=1))
    old_rare = runs(rare, 12, timedelta(days=300))

    result = prune_task_executions()

    # busy: 35 runs; the 5 recent ones plus the newest 15 old ones are its newest 20.
    kept_busy = {e.pk for e in recent_busy + old_busy[-15:]}
    assert set(busy.executions.values_list("pk", flat=True)) == kept_busy
    assert rare.executions.count() == len(old_rare)  # fewer than 20: all kept
    assert result["deleted"] == 15
    assert result["tasks"] == 1


def test_the_retention_boundary_is_exact():
    task = TaskFactory()
    just_older = runs(task, 1, timedelta(days=90, microseconds=1))[0]
    at_cutoff = runs(task, 1, timedelta(days=90))[0]
    runs(task, 20, timedelta(days=1))  # the newest 20: always kept

    result = prune_task_executions()

    remaining = set(task.executions.values_list("pk", flat=True))
    assert at_cutoff.pk in remaining
    assert just_older.pk not in remaining
    assert result["deleted"] == 1


def test_unfinished_runs_are_never_pruned():
    task = TaskFactory()
    stuck = runs(task, 1, timedelta(days=200), status=ExecutionStatus.RUNNING)[0]
    runs(task, 1, timedelta(days=200))
    runs(task, 25, timedelta(days=1))
    assert prune_task_executions()["deleted"] == 1
    assert task.executions.filter(pk=stuck.pk).exists()


def test_retention_days_come_from_the_argument_then_the_setting(settings):
    task = TaskFactory()
    old = runs(task, 3, timedelta(days=10))
    runs(task, 20, timedelta(hours=1))
    settings.EXECUTION_RETENTION_DAYS = 30
    assert prune_task_executions()["deleted"] == 0
    assert prune_task_executions(retention_days=5)["deleted"] == len(old)


def test_it_is_idempotent_and_fine_with_no_tasks():
    assert prune_task_executions()["deleted"] == 0
    task = TaskFactory()
    runs(task, 25, timedelta(days=100))
    assert prune_task_executions()["deleted"] == 5
    assert prune_task_executions()["deleted"] == 0
    assert task.executions.count() == 20


def test_notification_deliveries_outlive_the_executions_they_point_to():
    from notifications.models import Delivery

    task = TaskFactory()
    old = runs(task, 21, timedelta(days=100))
    delivery = Delivery.objects.create(
        kind="task_failure", task=task, execution=old[0], recipient="a@example.com"
    )

    assert prune_task_executions()["deleted"] == 1

    delivery.refresh_from_db()
    assert delivery.execution_id is None
    assert delivery.task_id == task.pk
