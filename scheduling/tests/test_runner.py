"""The runner's bookkeeping: rows, counters, results, failures, retries, signals."""

import random
import subprocess
import sys
from datetime import timedelta

import pytest
from django.utils import timezone

from scheduling.engine import runner
from scheduling.models import ExecutionStatus, ExecutionTrigger, Task, TaskExecution
from scheduling.tests.factories import TaskExecutionFactory, TaskFactory
from scheduling.tests.stored import DEEP, not_registered_marker, write_raw

pytestmark = pytest.mark.django_db


def test_success_records_result_counters_and_timings(finished):
    task = TaskFactory(func="scheduling.tests.tasks_for_tests.record", kwargs={"days": 3})
    execution = runner.run_now(task)
    execution.refresh_from_db()
    task.refresh_from_db()
    assert execution.status == ExecutionStatus.SUCCESS
    assert execution.result == {"received": {"days": 3}}
    assert execution.trigger == ExecutionTrigger.CLI
    assert execution.finished_at >= execution.started_at
    assert execution.duration_ms is not None and execution.host and execution.pid
    assert (task.run_count, task.success_count, task.failure_count) == (1, 1, 0)
    assert task.last_status == "success" and task.last_run_at == execution.started_at
    assert task.next_run_at > timezone.now()
    assert finished == [(task.name, "success", True)]


def test_failure_records_traceback_and_consecutive_failures(finished):
    task = TaskFactory(func="scheduling.tests.tasks_for_tests.boom")
    runner.run_now(task)
    execution = runner.run_now(task)
    execution.refresh_from_db()
    task.refresh_from_db()
    assert execution.status == ExecutionStatus.FAILED
    assert execution.error.startswith("RuntimeError: boom")
    assert "Traceback (most recent call last)" in execution.error
    assert (task.failure_count, task.consecutive_failures, task.last_status) == (2, 2, "failed")
    task.func = "scheduling.tests.tasks_for_tests.noop"
    task.save()
    runner.run_now(task)
    task.refresh_from_db()
    assert (task.consecutive_failures, task.success_count, task.run_count) == (0, 1, 3)


def test_a_stored_func_that_is_not_registered_fails_without_importing_anything():
    module = "scheduling.tests.not_registered"
    assert module not in sys.modules
    task = TaskFactory(func=f"{module}.touch")  # written straight to the database
    execution = runner.run_now(task)
    assert execution.status == ExecutionStatus.FAILED
    assert f"'{module}.touch' is not a registered task function" in execution.error
    assert "@scheduled_task" in execution.error and "SCHEDULER_TASK_MODULES" in execution.error
    assert module not in sys.modules
    assert not not_registered_marker().exists()
    task.refresh_from_db()
    assert (task.failure_count, task.last_status) == (1, "failed")


@pytest.mark.parametrize("path", ["scheduling.tests.tasks_for_tests.record", "test_record"])
def test_rows_naming_a_registered_function_by_path_or_name_keep_working(path):
    execution = runner.run_now(TaskFactory(func=path, kwargs={"n": 1}))
    assert (execution.status, execution.result) == (ExecutionStatus.SUCCESS, {"received": {"n": 1}})


def test_a_shell_command_written_to_the_database_never_runs(monkeypatch, finished):
    ran = []
    monkeypatch.setattr(subprocess, "check_output", lambda *a, **k: ran.append(a) or b"uid=0")
    task = TaskFactory(func="subprocess.check_output", kwargs={"args": ["id"]}, max_retries=3)
    scheduled = runner.run_fire(task.pk, timezone.now().replace(microsecond=0))
    manual = TaskExecution.objects.create(task=task, trigger="manual", status="queued")
    runner.run_queued(manual.pk)
    manual.refresh_from_db()
    for execution in (scheduled, manual):
        assert execution.status == ExecutionStatus.FAILED
        assert "'subprocess.check_output' is not a registered task function" in execution.error
    assert ran == []
    assert not TaskExecution.objects.filter(trigger="retry").exists()  # a retry cannot help


def test_unreadable_stored_kwargs_fail_the_run_with_the_reason(finished):
    task = TaskFactory(func="test_record")
    execution = TaskExecution.objects.create(task=task, trigger="manual", status="queued")
    write_raw(execution, kwargs=DEEP)
    runner.run_queued(execution.pk)
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.FAILED
    assert "kwargs: the stored value is unreadable (nested 900 levels deep" in execution.error


def test_bad_kwargs_fail_the_run_with_a_clear_error():
    task = TaskFactory(func="scheduling.tests.tasks_for_tests.boom")
    task.func = "scheduling.tests.tasks_for_tests.wait_for_release"
    execution = runner.run_now(task, kwargs={"no_such_argument": 1})
    assert execution.status == ExecutionStatus.FAILED
    assert "unexpected keyword argument 'no_such_argument'" in execution.error


def test_non_json_result_is_stored_as_repr_with_a_note():
    task = TaskFactory(func="scheduling.tests.tasks_for_tests.returns_object")
    execution = runner.run_now(task)
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.SUCCESS
    assert "not JSON" in execution.result["note"]
    assert "<object object at" in execution.result["repr"]


def test_results_and_errors_are_capped_at_64_kib():
    ok = runner.run_now(TaskFactory(func="scheduling.tests.tasks_for_tests.returns_huge"))
    bad = runner.run_now(TaskFactory(func="scheduling.tests.tasks_for_tests.fails_hugely"))
    ok.refresh_from_db()
    bad.refresh_from_db()
    import json

    assert len(json.dumps(ok.result).encode()) <= 64 * 1024
    assert "only the start is kept" in ok.result["note"]
    assert len(bad.error.encode()) <= 64 * 1024
    assert "bytes cut" in bad.error and bad.error.rstrip().endswith("y" * 10)


def test_run_fire_claims_each_fire_time_once():
    task = TaskFactory(func="scheduling.tests.tasks_for_tests.record")
    fire = timezone.now().replace(microsecond=0)
    first = runner.run_fire(task.pk, fire)
    second = runner.run_fire(task.pk, fire)
    assert first.status == ExecutionStatus.SUCCESS
    assert second is None
    assert TaskExecution.objects.filter(task=task, scheduled_for=fire).count() == 1


def test_a_fire_that_finds_the_task_running_is_recorded_as_skipped():
    task = TaskFactory(func="scheduling.tests.tasks_for_tests.record")
    running = TaskExecutionFactory(task=task, status=ExecutionStatus.RUNNING, finished_at=None)
    execution = runner.run_fire(task.pk, timezone.now())
    assert execution.status == ExecutionStatus.SKIPPED
    assert f"Previous run #{running.pk} was still running" in execution.error
    task.refresh_from_db()
    assert task.run_count == 0


def test_overlap_is_allowed_when_the_task_says_so():
    task = TaskFactory(func="scheduling.tests.tasks_for_tests.record", allow_overlap=True)
    TaskExecutionFactory(task=task, status=ExecutionStatus.RUNNING, finished_at=None)
    assert runner.run_fire(task.pk, timezone.now()).status == ExecutionStatus.SUCCESS


def test_queued_execution_is_claimed_once_and_uses_its_own_kwargs():
    task = TaskFactory(func="scheduling.tests.tasks_for_tests.record", kwargs={"a": 1})
    queued = TaskExecutionFactory(
        task=task, status=ExecutionStatus.QUEUED, trigger="manual", kwargs={"b": 2},
        started_at=None, finished_at=None, scheduled_for=None,
    )  # fmt: skip
    assert runner.run_queued(queued.pk).result == {"received": {"b": 2}}
    assert runner.run_queued(queued.pk) is None


def test_failure_with_retries_queues_the_next_attempt_and_defers_the_final_signal(finished):
    task = TaskFactory(func="scheduling.tests.tasks_for_tests.boom", max_retries=2)
    fire = timezone.now()
    first = runner.run_fire(task.pk, fire)
    retry = TaskExecution.objects.get(trigger=ExecutionTrigger.RETRY)
    assert (retry.attempt, retry.status) == (2, ExecutionStatus.QUEUED)
    assert retry.scheduled_for > first.finished_at
    assert finished == [(task.name, "failed", False)]
    second = runner.run_queued(retry.pk)
    assert second.attempt == 2
    third = runner.run_queued(TaskExecution.objects.get(attempt=3).pk)
    assert third.status == ExecutionStatus.FAILED
    assert not TaskExecution.objects.filter(attempt=4).exists()
    assert [f[2] for f in finished] == [False, False, True]
    assert Task.objects.get(pk=task.pk).consecutive_failures == 3


def test_cli_runs_are_not_retried():
    task = TaskFactory(func="scheduling.tests.tasks_for_tests.boom", max_retries=3)
    runner.run_now(task)
    assert not TaskExecution.objects.filter(trigger=ExecutionTrigger.RETRY).exists()


@pytest.mark.parametrize("attempt", [1, 2, 3, 4, 8, 20])
def test_retry_delay_is_exponential_jittered_and_capped(attempt):
    task = TaskFactory.build(retry_backoff_seconds=10, retry_backoff_max_seconds=300)
    ceiling = min(300, 10 * 2 ** (attempt - 1))
    delays = [runner.retry_delay(task, attempt, random.Random(seed)) for seed in range(200)]
    assert all(ceiling / 2 <= d <= ceiling for d in delays)
    assert max(delays) - min(delays) > ceiling / 10  # jittered, not constant


def test_retry_delay_is_deterministic_with_an_injected_random_source():
    task = TaskFactory.build(retry_backoff_seconds=10, retry_backoff_max_seconds=300)
    assert runner.retry_delay(task, 3, random.Random(7)) == runner.retry_delay(
        task, 3, random.Random(7)
    )


def test_disabled_task_has_no_next_run_after_a_manual_run():
    task = TaskFactory(func="scheduling.tests.tasks_for_tests.record", enabled=False)
    runner.run_now(task)
    task.refresh_from_db()
    assert task.next_run_at is None and task.run_count == 1


def test_interval_next_run_follows_the_anchor():
    task = TaskFactory(trigger_type="interval", interval_seconds=60, cron_expression="")
    runner.run_now(task)
    task.refresh_from_db()
    assert timedelta(0) < task.next_run_at - timezone.now() <= timedelta(seconds=60)


def test_a_fire_dispatched_past_its_grace_is_recorded_as_missed_not_run():
    task = TaskFactory(func="scheduling.tests.tasks_for_tests.record", misfire_grace_seconds=60)
    fire = timezone.now() - timedelta(minutes=5)
    runner.record_missed(task.pk, fire, 300)
    execution = TaskExecution.objects.get(task=task)
    assert (execution.status, execution.scheduled_for) == (ExecutionStatus.SKIPPED, fire)
    assert "300 s late, beyond the 60 s misfire grace" in execution.error
    assert Task.objects.get(pk=task.pk).run_count == 0


def test_a_missed_fire_is_never_running_even_for_a_moment():
    """A `running` row, however brief, made an on-time fire of the task skip as overlapping."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    task = TaskFactory(func="scheduling.tests.tasks_for_tests.record", misfire_grace_seconds=60)
    with CaptureQueriesContext(connection) as queries:
        runner.record_missed(task.pk, timezone.now() - timedelta(minutes=5), 300)
    writes = [
        q["sql"] for q in queries if q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE"))
    ]
    assert len(writes) == 1 and writes[0].lstrip().upper().startswith("INSERT")
    assert "'skipped'" in writes[0]


def test_saving_a_stale_task_never_writes_old_counters_back():
    task = TaskFactory(func="scheduling.tests.tasks_for_tests.record")
    stale = Task.objects.get(pk=task.pk)
    runner.run_now(task)
    stale.description = "edited in the admin meanwhile"
    stale.save()
    fresh = Task.objects.get(pk=task.pk)
    assert (fresh.run_count, fresh.success_count, fresh.last_status) == (1, 1, "success")
    assert fresh.description == "edited in the admin meanwhile"
