"""The runner's hand-built SQL reads and writes exactly what the ORM would.

The hot path (read the task, claim the fire, check overlap, store the outcome)
skips the ORM's query building; these tests compare its rows with the ORM's
view of them, on whichever database the suite runs.
"""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.utils import timezone

from scheduling.engine import runner
from scheduling.engine.claims import claim_fires
from scheduling.models import ExecutionStatus, Task, TaskExecution
from scheduling.tests.factories import TaskExecutionFactory, TaskFactory


@pytest.mark.django_db
def test_the_task_a_fire_runs_is_read_as_currently_stored():
    task = TaskFactory(
        func="scheduling.tests.tasks_for_tests.record",
        kwargs={"first": 1},
        run_at=datetime(2031, 5, 6, 7, 8, 9, tzinfo=UTC),
        timeout_seconds=None,
    )
    Task.objects.filter(pk=task.pk).update(kwargs={"edited": [1, "two"]}, enabled=False)
    execution = runner.run_fire(task.pk, timezone.now().replace(microsecond=0))
    assert execution.result == {"received": {"edited": [1, "two"]}}
    loaded = execution.task
    fresh = Task.objects.get(pk=task.pk)
    assert loaded.enabled is False and loaded.timeout_seconds is None
    assert loaded.run_at == fresh.run_at and loaded.created_at == fresh.created_at
    assert loaded.updated_at == fresh.updated_at and loaded.name == task.name


@pytest.mark.django_db
def test_a_fire_of_a_deleted_task_raises_does_not_exist():
    with pytest.raises(Task.DoesNotExist):
        runner.run_fire(987654, timezone.now())


@pytest.mark.django_db
def test_the_claimed_row_matches_what_the_orm_reads_back():
    task = TaskFactory(func="scheduling.tests.tasks_for_tests.record")
    fire = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    execution = runner.claim_fire(task, fire, "catchup")
    stored = TaskExecution.objects.get(pk=execution.pk)
    assert (stored.task_id, stored.trigger, stored.status) == (task.pk, "catchup", "running")
    assert stored.scheduled_for == fire and stored.started_at == execution.started_at
    assert stored.created_at == execution.created_at and stored.kwargs is None
    assert (stored.host, stored.pid, stored.attempt) == (runner.HOST, execution.pid, 1)
    assert stored.result is None and stored.is_overdue is False


@pytest.mark.django_db
def test_outcome_and_counters_are_written_in_place():
    task = TaskFactory(func="scheduling.tests.tasks_for_tests.record", kwargs={"n": 2})
    Task.objects.filter(pk=task.pk).update(consecutive_failures=4, failure_count=4, run_count=4)
    before = Task.objects.get(pk=task.pk).updated_at
    execution = runner.run_fire(task.pk, timezone.now().replace(microsecond=0))
    stored = TaskExecution.objects.get(pk=execution.pk)
    assert stored.result == {"received": {"n": 2}} and stored.status == ExecutionStatus.SUCCESS
    assert stored.finished_at == execution.finished_at and stored.duration_ms is not None
    task = Task.objects.get(pk=task.pk)
    assert (task.run_count, task.success_count, task.failure_count) == (5, 1, 4)
    assert task.consecutive_failures == 0 and task.last_run_at == stored.started_at
    assert task.updated_at == before  # a run is not an edit: sync must not reschedule


@pytest.mark.django_db
def test_a_task_returning_none_stores_sql_null():
    task = TaskFactory(func="test_returns")  # returns None
    execution = runner.run_fire(task.pk, timezone.now())
    assert execution.status == ExecutionStatus.SUCCESS
    assert TaskExecution.objects.filter(pk=execution.pk, result__isnull=True).exists()


@pytest.mark.django_db(transaction=True)
def test_losing_a_claim_outside_a_transaction_leaves_the_connection_usable():
    task = TaskFactory(func="scheduling.tests.tasks_for_tests.record")
    fire = timezone.now().replace(microsecond=0)
    assert not connection.in_atomic_block
    assert runner.run_fire(task.pk, fire) is not None
    assert runner.run_fire(task.pk, fire) is None
    assert TaskExecution.objects.filter(task=task).count() == 1


@pytest.mark.django_db
def test_only_an_earlier_running_row_makes_a_run_skip():
    task = TaskFactory(func="scheduling.tests.tasks_for_tests.record")
    execution = runner.claim_fire(task, timezone.now() - timedelta(hours=1), "schedule")
    TaskExecutionFactory(task=task, status=ExecutionStatus.RUNNING, finished_at=None)  # later id
    assert runner.execute(execution, task).status == ExecutionStatus.SUCCESS


# --- many fires at once: claim_fires / run_claimed / record_outcomes -------------
FIRE = datetime(2030, 6, 1, 12, 0, tzinfo=UTC)


@pytest.mark.django_db
def test_claim_fires_claims_each_fire_once_and_leaves_out_ones_claimed_elsewhere():
    tasks = [TaskFactory(func="scheduling.tests.tasks_for_tests.record") for _ in range(3)]
    elsewhere = runner.claim_fire(tasks[1], FIRE, "schedule")
    fires = [(t.pk, FIRE) for t in tasks] + [(987654, FIRE)]  # and a deleted task
    claims = claim_fires(fires)
    assert [c.task.pk for c in claims] == [tasks[0].pk, tasks[2].pk]
    assert TaskExecution.objects.filter(scheduled_for=FIRE).count() == 3
    for claim in claims:
        row = TaskExecution.objects.get(pk=claim.execution.pk)
        assert (row.task_id, row.status, row.scheduled_for) == (claim.task.pk, "running", FIRE)
    assert claim_fires(fires) == []
    assert elsewhere.pk not in {c.execution.pk for c in claims}


@pytest.mark.django_db
def test_claim_fires_takes_two_fire_times_of_one_task_in_one_call():
    task = TaskFactory(func="scheduling.tests.tasks_for_tests.record", allow_overlap=True)
    later = FIRE + timedelta(minutes=1)
    claims = claim_fires([(task.pk, FIRE), (task.pk, later)])
    assert sorted(c.execution.scheduled_for for c in claims) == [FIRE, later]


@pytest.mark.django_db
def test_claim_fires_reports_an_earlier_running_run_unless_overlap_is_allowed():
    strict = TaskFactory(func="scheduling.tests.tasks_for_tests.record")
    relaxed = TaskFactory(func="scheduling.tests.tasks_for_tests.record", allow_overlap=True)
    running = [
        TaskExecutionFactory(task=t, status=ExecutionStatus.RUNNING, finished_at=None)
        for t in (strict, relaxed)
    ]
    claims = {c.task.pk: c for c in claim_fires([(strict.pk, FIRE), (relaxed.pk, FIRE)])}
    assert claims[strict.pk].earlier_running == running[0].pk
    assert claims[relaxed.pk].earlier_running is None
    assert runner.run_claimed(claims[strict.pk]) is None
    skipped = TaskExecution.objects.get(pk=claims[strict.pk].execution.pk)
    assert skipped.status == ExecutionStatus.SKIPPED
    assert f"Previous run #{running[0].pk} was still running" in skipped.error


@pytest.mark.django_db
def test_record_outcomes_stores_every_run_counts_it_and_signals_each(finished):
    ok = TaskFactory(func="scheduling.tests.tasks_for_tests.record", kwargs={"x": 1})
    bad = TaskFactory(func="scheduling.tests.tasks_for_tests.boom", max_retries=1)
    claims = claim_fires([(ok.pk, FIRE), (bad.pk, FIRE)])
    outcomes = [runner.run_claimed(claim) for claim in claims]
    assert TaskExecution.objects.filter(status=ExecutionStatus.RUNNING).count() == 2
    runner.record_outcomes(outcomes)
    good_run, bad_run = (TaskExecution.objects.get(pk=c.execution.pk) for c in claims)
    assert (good_run.status, good_run.result) == ("success", {"received": {"x": 1}})
    assert bad_run.status == "failed" and bad_run.error.startswith("RuntimeError: boom")
    ok, bad = Task.objects.get(pk=ok.pk), Task.objects.get(pk=bad.pk)
    assert (ok.run_count, ok.success_count, ok.consecutive_failures) == (1, 1, 0)
    assert (bad.run_count, bad.failure_count, bad.consecutive_failures) == (1, 1, 1)
    assert TaskExecution.objects.filter(task=bad, trigger="retry", status="queued").exists()
    assert sorted(finished) == sorted([(ok.name, "success", True), (bad.name, "failed", False)])


@pytest.mark.django_db
def test_a_failing_signal_receiver_does_not_keep_other_runs_unreported(finished):
    from scheduling import signals

    def explode(sender, task, **kwargs):
        if task.name == first.name:
            raise RuntimeError("receiver bug")

    first, second = (TaskFactory(func="scheduling.tests.tasks_for_tests.record") for _ in range(2))
    signals.task_finished.connect(explode)
    try:
        claims = claim_fires([(first.pk, FIRE), (second.pk, FIRE)])
        runner.record_outcomes([runner.run_claimed(c) for c in claims])
    finally:
        signals.task_finished.disconnect(explode)
    assert (second.name, "success", True) in finished
    assert not TaskExecution.objects.filter(status=ExecutionStatus.RUNNING).exists()
