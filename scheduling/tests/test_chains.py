"""Chains: which finished runs start which tasks, once; loops refused; upstreams protected."""

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, connections
from django.utils import timezone

from chirpsyncer.models import AuditLog
from scheduling import chains, display, services
from scheduling.engine import recovery, runner
from scheduling.engine.loop import job_id
from scheduling.models import Task, TaskExecution
from scheduling.scheduler import TaskScheduler
from scheduling.tests.factories import TaskExecutionFactory, TaskFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def s():
    return TaskScheduler()


def chain_runs(task_name):
    return list(TaskExecution.objects.filter(task__name=task_name, trigger="chain"))


def run_now(name):
    return runner.run_now(Task.objects.get(name=name), trigger="manual")


# --- the Python API ------------------------------------------------------------------
def test_add_after_task_stores_the_upstream_and_has_no_time_of_its_own(s):
    s.add_cron_task("backup", "test_noop", "0 3 * * *")
    task = s.add_after_task("report", "test_record", after="backup", on="failure")
    assert (task.trigger_type, task.after_task.name, task.after_status) == (
        "after",
        "backup",
        "failure",
    )
    assert task.next_run_at is None
    status = s.get_task_status("report")
    assert status["after_task"] == "backup" and status["after_status"] == "failure"
    assert status["schedule"] == "backup" and status["next_run_at"] is None
    assert display.describe_schedule(task) == "After backup fails"
    assert (
        AuditLog.objects.get(action="task.created", resource_id="report").details["new"][
            "after_task"
        ]
        == "backup"
    )


@pytest.mark.parametrize(
    "after", ["ghost", "", "../x", "x" * 10_000, "\ud800", None, 42, ["backup"], Task()]
)
def test_add_after_task_refuses_an_upstream_that_is_not_a_task(s, after):
    s.add_cron_task("backup", "test_noop", "0 3 * * *")
    with pytest.raises(ValidationError) as caught:
        s.add_after_task("report", "test_noop", after=after)
    assert "after_task" in caught.value.message_dict
    assert not Task.objects.filter(name="report").exists()


@pytest.mark.parametrize("on", ["sometimes", "", "SUCCESS", None, ["any"]])
def test_add_after_task_refuses_a_condition_it_does_not_know(s, on):
    s.add_cron_task("backup", "test_noop", "0 3 * * *")
    with pytest.raises(ValidationError, match="after_status"):
        s.add_after_task("report", "test_noop", after="backup", on=on)


def test_an_upstream_given_as_a_task_object_works(s):
    backup = s.add_cron_task("backup", "test_noop", "0 3 * * *")
    assert s.add_after_task("report", "test_noop", after=backup).after_task_id == backup.pk


# --- loops ---------------------------------------------------------------------------
def test_a_loop_is_refused_at_save_time_naming_every_task_in_it(s):
    s.add_cron_task("a", "test_noop", "0 3 * * *")
    s.add_after_task("b", "test_noop", after="a")
    s.add_after_task("c", "test_noop", after="b")
    a = Task.objects.get(name="a")
    a.trigger_type, a.after_task = "after", Task.objects.get(name="c")
    with pytest.raises(ValidationError) as caught:
        services.save_task(a)
    message = caught.value.message_dict["after_task"][0]
    assert "a -> c -> b -> a" in message and "loop" in message
    assert Task.objects.get(name="a").trigger_type == "cron"


def test_a_task_cannot_run_after_itself(s):
    a = s.add_cron_task("a", "test_noop", "0 3 * * *")
    a.trigger_type, a.after_task = "after", a
    with pytest.raises(ValidationError, match="cannot run after itself"):
        services.save_task(a)


def test_an_after_task_needs_an_upstream(s):
    a = s.add_cron_task("a", "test_noop", "0 3 * * *")
    a.trigger_type = "after"
    with pytest.raises(ValidationError, match="choose the task this one runs after"):
        services.save_task(a)


def test_a_chain_into_a_loop_elsewhere_is_not_this_tasks_loop():
    """A loop written around the checks upstream: saving a task after it ends, not hangs."""
    x, y = TaskFactory(name="x"), TaskFactory(name="y")
    Task.objects.filter(pk=x.pk).update(trigger_type="after", after_task=y)
    Task.objects.filter(pk=y.pk).update(trigger_type="after", after_task=x)
    z = TaskFactory(name="z")
    z.trigger_type, z.after_task = "after", x
    services.save_task(z)
    assert Task.objects.get(name="z").after_task_id == x.pk


def test_another_trigger_drops_the_upstream_so_it_no_longer_protects_it(s):
    s.add_cron_task("backup", "test_noop", "0 3 * * *")
    report = s.add_after_task("report", "test_noop", after="backup")
    report.trigger_type, report.cron_expression = "cron", "0 4 * * *"
    services.save_task(report)
    assert Task.objects.get(name="report").after_task is None
    s.remove_task("backup")
    assert not Task.objects.filter(name="backup").exists()


def test_an_upstream_deleted_between_form_and_save_is_a_field_error(s):
    backup = s.add_cron_task("backup", "test_noop", "0 3 * * *")
    report = Task(name="report", func="test_noop", trigger_type="after", after_task=backup)
    Task.objects.filter(pk=backup.pk).delete()  # around every check, as a race would
    with pytest.raises(ValidationError) as caught:
        services.save_task(report)
    assert "after_task" in caught.value.message_dict
    assert not Task.objects.filter(name="report").exists()


# --- deleting an upstream ---------------------------------------------------------------
def test_deleting_an_upstream_is_refused_naming_its_downstream_tasks(s):
    s.add_cron_task("backup", "test_noop", "0 3 * * *")
    s.add_after_task("report", "test_noop", after="backup")
    s.add_after_task("cleanup", "test_noop", after="backup", on="any")
    with pytest.raises(ValidationError) as caught:
        s.remove_task("backup")
    assert caught.value.messages == [
        "backup cannot be deleted: cleanup, report run after it. Change their trigger or "
        "delete them first."
    ]
    assert Task.objects.filter(name="backup").exists()
    assert not AuditLog.objects.filter(action="task.deleted").exists()


def test_deleting_a_downstream_task_keeps_its_upstreams_history(s):
    s.add_cron_task("backup", "test_noop", "0 3 * * *")
    s.add_after_task("report", "test_noop", after="backup")
    run_now("backup")
    s.remove_task("report")
    assert TaskExecution.objects.filter(task__name="backup").count() == 1
    s.remove_task("backup")  # nothing runs after it now


# --- which outcomes start which tasks ---------------------------------------------------
@pytest.fixture
def fan_out(s):
    """backup, with a task after each of its outcomes."""
    s.add_cron_task("backup", "test_noop", "0 3 * * *")
    s.add_after_task("on-success", "test_noop", after="backup", on="success")
    s.add_after_task("on-failure", "test_noop", after="backup", on="failure")
    s.add_after_task("on-any", "test_noop", after="backup", on="any")
    return Task.objects.get(name="backup")


def queued_after(execution):
    return sorted(
        TaskExecution.objects.filter(parent=execution).values_list("task__name", flat=True)
    )


def test_a_success_starts_the_success_and_any_tasks(fan_out):
    execution = run_now("backup")
    assert queued_after(execution) == ["on-any", "on-success"]
    child = TaskExecution.objects.get(task__name="on-any")
    assert (child.trigger, child.status, child.parent_id) == ("chain", "queued", execution.pk)


def test_a_failure_starts_the_failure_and_any_tasks(fan_out):
    Task.objects.filter(name="backup").update(func="test_boom")
    execution = run_now("backup")
    assert execution.status == "failed"
    assert queued_after(execution) == ["on-any", "on-failure"]


def test_an_abandoned_run_counts_as_a_failure(fan_out):
    execution = TaskExecutionFactory(
        task=fan_out, status="running", host="gone-host", pid=999_999, finished_at=None
    )
    assert recovery.abandon_orphans() == [execution]
    assert queued_after(execution) == ["on-any", "on-failure"]


def test_a_skipped_run_starts_nothing(fan_out):
    TaskExecutionFactory(task=fan_out, status="running", finished_at=None)
    execution = runner.claim_fire(fan_out, timezone.now(), "schedule")
    skipped = runner.execute(execution, fan_out)
    assert skipped.status == "skipped"
    assert queued_after(skipped) == []


def test_a_failure_that_will_be_retried_waits_for_the_final_outcome(fan_out, finished):
    Task.objects.filter(name="backup").update(func="test_boom", max_retries=1)
    first = runner.run_now(Task.objects.get(name="backup"), trigger="manual")
    assert queued_after(first) == []
    retry = TaskExecution.objects.get(task__name="backup", trigger="retry")
    TaskExecution.objects.filter(pk=retry.pk).update(scheduled_for=timezone.now())
    runner.run_queued(retry.pk)
    assert queued_after(retry) == ["on-any", "on-failure"]


def test_a_paused_downstream_task_queues_nothing(fan_out, s):
    s.pause_task("on-any")
    execution = run_now("backup")
    assert queued_after(execution) == ["on-success"]


def test_the_chain_run_runs_like_any_queued_run_and_starts_its_own_downstream(fan_out, s):
    s.add_after_task("then", "test_record", after="on-success")
    upstream = run_now("backup")
    child = TaskExecution.objects.get(task__name="on-success", parent=upstream)
    runner.run_queued(child.pk)
    child.refresh_from_db()
    assert child.status == "success" and child.host and child.pid
    grandchild = TaskExecution.objects.get(task__name="then")
    assert (grandchild.trigger, grandchild.parent_id) == ("chain", child.pk)


def test_a_chain_task_run_by_hand_has_no_parent_and_starts_its_downstream(fan_out, s):
    s.add_after_task("then", "test_noop", after="on-any")
    execution = run_now("on-any")
    assert execution.parent_id is None
    assert queued_after(execution) == ["then"]


# --- exactly once ---------------------------------------------------------------------------
def test_a_finish_seen_twice_queues_one_run_per_downstream_task(fan_out):
    execution = run_now("backup")
    again = chains.queue_downstream(fan_out, execution)
    assert again == []
    assert queued_after(execution) == ["on-any", "on-success"]


def test_the_stored_outcome_decides_not_a_stale_runners_memory(fan_out):
    """A run another scheduler marked abandoned while it ran: its late 'success' starts
    the failure tasks (as the abandoning process did), not the success ones."""
    execution = TaskExecutionFactory(task=fan_out, status="abandoned")
    execution.status = "success"  # what the old runner believes
    queued = chains.queue_downstream(fan_out, execution)
    assert sorted(c.task.name for c in queued) == ["on-any", "on-failure"]


def test_a_loop_written_around_the_checks_is_not_followed():
    x, y = TaskFactory(name="x"), TaskFactory(name="y")
    Task.objects.filter(pk=x.pk).update(trigger_type="after", after_task=y)
    Task.objects.filter(pk=y.pk).update(trigger_type="after", after_task=x)
    execution = run_now("x")
    assert execution.status == "success"
    assert queued_after(execution) == []


def test_a_failing_chain_step_never_fails_the_run(fan_out, monkeypatch):
    def broken(*args):
        raise RuntimeError("database went away")

    monkeypatch.setattr(chains, "downstream", broken)
    execution = run_now("backup")
    assert TaskExecution.objects.get(pk=execution.pk).status == "success"


@pytest.mark.django_db(transaction=True)
def test_concurrent_finishes_of_one_run_queue_one_downstream_run(s):
    """Eight threads (own connections) hear of the same finish at once: one row per task."""
    s.add_cron_task("backup", "test_noop", "0 3 * * *")
    s.add_after_task("report", "test_noop", after="backup", on="any")
    backup = Task.objects.get(name="backup")
    execution = TaskExecutionFactory(task=backup, status="success")
    start = threading.Barrier(8)
    errors = []

    def queue():
        try:
            start.wait()
            chains.queue_downstream(backup, execution)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=queue) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    connections.close_all()
    assert errors == []
    assert TaskExecution.objects.filter(task__name="report", parent=execution).count() == 1


# --- no schedule of its own -------------------------------------------------------------------
def test_the_engine_gives_an_after_task_no_job_and_no_catch_up(engine, s):
    backup = s.add_cron_task("backup", "test_noop", "0 3 * * *")
    report = s.add_after_task("report", "test_noop", after="backup")
    engine.sync(full=True)
    assert {job.id for job in engine.scheduler.get_jobs()} == {job_id(backup.pk)}
    Task.objects.filter(pk=report.pk).update(next_run_at=timezone.now())  # a bad row
    assert [task.name for task, _ in recovery.plan_catchup()] == []
    assert Task.objects.get(pk=report.pk).next_run_at is not None  # left alone, not fired


def test_turning_a_scheduled_task_into_a_chained_one_removes_its_job(engine, s):
    s.add_cron_task("backup", "test_noop", "0 3 * * *")
    report = s.add_cron_task("report", "test_noop", "0 4 * * *")
    engine.sync(full=True)
    assert engine.scheduler.get_job(job_id(report.pk)) is not None
    report.trigger_type, report.after_task = "after", Task.objects.get(name="backup")
    services.save_task(report)
    engine.sync()
    assert engine.scheduler.get_job(job_id(report.pk)) is None
    assert Task.objects.get(pk=report.pk).next_run_at is None


def test_listing_many_chained_tasks_costs_one_query(s, django_assert_num_queries):
    s.add_cron_task("backup", "test_noop", "0 3 * * *")
    for n in range(5):
        s.add_after_task(f"step-{n}", "test_noop", after="backup")
    with django_assert_num_queries(1):
        tasks = s.get_all_tasks()
    assert [t["after_task"] for t in tasks] == [None] + ["backup"] * 5


@pytest.mark.django_db(transaction=True)
def test_two_saves_closing_a_loop_at_the_same_moment_cannot_both_succeed(monkeypatch):
    """Both pass validation (no loop yet), then meet before writing: one save is refused."""
    a, b = TaskFactory(name="a"), TaskFactory(name="b")
    both_validated = threading.Barrier(2, timeout=10)
    real = services.refresh_next_run

    def after_validation(task, **kwargs):
        both_validated.wait()
        real(task, **kwargs)

    monkeypatch.setattr(services, "refresh_next_run", after_validation)
    outcomes = {}

    def save(name, upstream):
        try:
            task = Task.objects.get(name=name)
            task.trigger_type, task.after_task = "after", Task.objects.get(name=upstream)
            services.save_task(task)
            outcomes[name] = "saved"
        except ValidationError as exc:
            outcomes[name] = " ".join(exc.messages)
        finally:
            connection.close()

    threads = [threading.Thread(target=save, args=pair) for pair in (("a", "b"), ("b", "a"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    connections.close_all()
    assert sorted(outcome == "saved" for outcome in outcomes.values()) == [False, True], outcomes
    refused = next(outcome for outcome in outcomes.values() if outcome != "saved")
    assert "loop" in refused
    assert Task.objects.filter(trigger_type="after").count() == 1
    assert Task.objects.filter(pk__in=[a.pk, b.pk]).count() == 2
