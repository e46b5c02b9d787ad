"""How many statements one `run_fire` sends: each is a round trip on PostgreSQL.

Autocommit, as in the engine (a test transaction would add savepoints). The
numbers are the budget: a change that adds a statement to every run must say
why here.
"""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from scheduling.engine import runner
from scheduling.models import ExecutionStatus, Task
from scheduling.tests.factories import TaskFactory

pytestmark = pytest.mark.django_db(transaction=True)

# PostgreSQL: claim + start in one statement, the outcome (with what the
# chain and alert receivers read) in one. SQLite: the per-statement path
# (seven statements and BEGIN IMMEDIATE/COMMIT), where none is a round trip.
STATEMENTS = {"postgresql": 2, "sqlite": 9}


def _fire(task: Task, seconds: int = 0):
    when = timezone.now().replace(microsecond=0) + timedelta(seconds=seconds)
    with CaptureQueriesContext(connection) as queries:
        execution = runner.run_fire(task.pk, when)
    return execution, [q["sql"] for q in queries.captured_queries]


def test_a_successful_run_fire_sends_its_budget_of_statements():
    task = TaskFactory(func="scheduling.tests.tasks_for_tests.noop")
    runner.run_fire(task.pk, timezone.now() - timedelta(days=1))  # a previous success
    execution, sql = _fire(task)
    assert execution.status == ExecutionStatus.SUCCESS
    assert len(sql) == STATEMENTS[connection.vendor], "\n".join(s[:60] for s in sql)
    task.refresh_from_db()
    assert (task.run_count, task.success_count, task.last_status) == (2, 2, "success")


def test_a_fire_claimed_elsewhere_sends_one_statement_on_postgresql():
    task = TaskFactory(func="scheduling.tests.tasks_for_tests.noop")
    when = timezone.now().replace(microsecond=0)
    runner.run_fire(task.pk, when)
    with CaptureQueriesContext(connection) as queries:
        assert runner.run_fire(task.pk, when) is None
    if connection.vendor == "postgresql":
        assert len(queries.captured_queries) == 1
    task.refresh_from_db()
    assert task.run_count == 1


def test_a_queue_task_is_claimed_queued_in_one_statement_on_postgresql():
    task = TaskFactory(func="scheduling.tests.tasks_for_tests.noop", queue="bench")
    execution, sql = _fire(task)
    assert execution.status == ExecutionStatus.QUEUED
    assert execution.started_at is None and execution.host == "" and execution.pid is None
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.QUEUED and execution.started_at is None
    assert execution.host == "" and execution.pid is None
    if connection.vendor == "postgresql":
        assert len(sql) == 1
    task.refresh_from_db()
    assert task.run_count == 0


def test_a_fire_while_an_earlier_run_is_going_is_skipped():
    task = TaskFactory(func="scheduling.tests.tasks_for_tests.noop")
    earlier = runner.claim_fire(task, timezone.now() - timedelta(minutes=1), "schedule")
    execution, _ = _fire(task)
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.SKIPPED
    assert f"#{earlier.pk} was still running" in execution.error


def test_overlap_allowed_runs_beside_an_earlier_run():
    task = TaskFactory(func="scheduling.tests.tasks_for_tests.noop", allow_overlap=True)
    runner.claim_fire(task, timezone.now() - timedelta(minutes=1), "schedule")
    execution, _ = _fire(task)
    assert execution.status == ExecutionStatus.SUCCESS


def test_a_missing_task_raises_does_not_exist():
    with pytest.raises(Task.DoesNotExist):
        runner.run_fire(987654, timezone.now())
