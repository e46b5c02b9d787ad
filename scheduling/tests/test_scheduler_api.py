"""The TaskScheduler API as DESIGN.md fixes it: names, dict keys, errors."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.utils import timezone

from scheduling.models import ExecutionStatus, Task
from scheduling.scheduler import TaskScheduler
from scheduling.tests import tasks_for_tests
from scheduling.tests.factories import TaskExecutionFactory

pytestmark = pytest.mark.django_db

STATUS_KEYS = {
    "name", "trigger_type", "schedule", "description", "enabled", "last_run_at",
    "last_status", "next_run_at", "run_count", "success_count", "failure_count",
}  # fmt: skip
HISTORY_KEYS = {
    "id", "status", "trigger", "scheduled_for", "started_at", "finished_at",
    "duration_ms", "result", "error",
}  # fmt: skip


@pytest.fixture
def s():
    return TaskScheduler()


def test_add_cron_task_stores_the_schedule_and_computes_next_run(s):
    with time_machine.travel("2026-11-23 10:00:00+00:00", tick=False):
        task = s.add_cron_task(
            "nightly",
            "scheduling.tests.tasks_for_tests.record",
            "30 2 * * *",
            timezone="Europe/Madrid",
            kwargs={"days": 3},
            description="Nightly job",
        )
    assert task.trigger_type == "cron"
    assert task.kwargs == {"days": 3}
    assert task.next_run_at == datetime(2026, 11, 24, 1, 30, tzinfo=UTC)  # 02:30 in Madrid


def test_add_task_accepts_an_importable_function_object(s):
    task = s.add_interval_task("every-minute", tasks_for_tests.record, 60)
    assert task.func == "scheduling.tests.tasks_for_tests.record"
    assert task.next_run_at > timezone.now()


def test_add_date_task_runs_once_in_the_future(s):
    when = timezone.now() + timedelta(hours=2)
    task = s.add_date_task("one-off", tasks_for_tests.record, when)
    assert task.next_run_at == when
    assert s.get_task_status("one-off")["schedule"] == when.isoformat()


def test_status_and_all_tasks_carry_the_contract_keys(s):
    s.add_cron_task("a", tasks_for_tests.record, "@daily")
    s.add_interval_task("b", tasks_for_tests.record, 90)
    status = s.get_task_status("a")
    assert STATUS_KEYS <= set(status)
    assert status["schedule"] == "@daily"
    all_tasks = s.get_all_tasks()
    assert [t["name"] for t in all_tasks] == ["a", "b"]
    assert all(STATUS_KEYS <= set(t) for t in all_tasks)
    assert all_tasks[1]["schedule"] == "90"


def test_history_is_newest_first_and_limited(s):
    task = s.add_interval_task("h", tasks_for_tests.record, 60)
    executions = [TaskExecutionFactory(task=task) for _ in range(5)]
    history = s.get_task_history("h", limit=3)
    assert [h["id"] for h in history] == [e.pk for e in reversed(executions)][:3]
    assert HISTORY_KEYS <= set(history[0])
    assert history[0]["started_at"].tzinfo is not None


def test_pause_clears_next_run_and_resume_restores_it(s):
    s.add_interval_task("p", tasks_for_tests.record, 60)
    s.pause_task("p")
    assert s.get_task_status("p")["next_run_at"] is None
    assert s.get_task_status("p")["enabled"] is False
    s.resume_task("p")
    assert s.get_task_status("p")["next_run_at"] > timezone.now()


def test_trigger_task_now_queues_a_manual_execution(s, staff):
    s.add_interval_task("t", tasks_for_tests.record, 60)
    execution = s.trigger_task_now("t", user=staff)
    assert (execution.status, execution.trigger) == (ExecutionStatus.QUEUED, "manual")
    assert execution.requested_by == staff


def test_remove_task_deletes_it_and_its_history(s):
    task = s.add_interval_task("r", tasks_for_tests.record, 60)
    TaskExecutionFactory(task=task)
    s.remove_task("r")
    assert not Task.objects.filter(name="r").exists()


@pytest.mark.parametrize(
    "call, field, message",
    [
        (lambda s: s.add_cron_task("x", tasks_for_tests.record, "61 * * * *"), "cron_expression",
         "minute: 61 is out of range 0-59"),
        (lambda s: s.add_interval_task("x", tasks_for_tests.record, 0), "interval_seconds",
         "must be a positive integer"),
        (lambda s: s.add_interval_task("x", tasks_for_tests.record, -5), "interval_seconds",
         "must be a positive integer"),
        (lambda s: s.add_date_task("x", tasks_for_tests.record, timezone.now() - timedelta(
            minutes=1)), "run_at", "is in the past"),
        (lambda s: s.add_cron_task("x", tasks_for_tests.record, "@daily", timezone="Nowhere/City"),
         "timezone", "is not an IANA time zone"),
        (lambda s: s.add_cron_task("x", tasks_for_tests.record, "@daily", kwargs=[1, 2]),
         "kwargs", "must be a JSON object"),
    ],
)  # fmt: skip
def test_bad_schedules_raise_validation_error_naming_the_field(s, call, field, message):
    with pytest.raises(ValidationError) as excinfo:
        call(s)
    assert message in " ".join(excinfo.value.message_dict[field])
    assert not Task.objects.exists()


def test_naive_run_date_is_refused(s):
    with pytest.raises(ValidationError, match="timezone-aware"):
        s.add_date_task("x", tasks_for_tests.record, timezone.now().replace(tzinfo=None))


def test_duplicate_name_is_refused(s):
    s.add_interval_task("dup", tasks_for_tests.record, 60)
    with pytest.raises(ValidationError, match="already exists"):
        s.add_cron_task("dup", tasks_for_tests.record, "@daily")
    assert Task.objects.get(name="dup").trigger_type == "interval"


def test_lambdas_and_closures_are_refused(s):
    def closure():
        return 1

    with pytest.raises(ValidationError, match="cannot be stored"):
        s.add_interval_task("l", lambda: 1, 60)
    with pytest.raises(ValidationError, match="cannot be stored"):
        s.add_interval_task("c", closure, 60)


def test_unimportable_function_path_is_refused(s):
    with pytest.raises(ValidationError, match="cannot import module"):
        s.add_interval_task("u", "no_such_module.func", 60)
    with pytest.raises(ValidationError, match="neither a registered task nor a dotted path"):
        s.add_interval_task("u", "not_registered", 60)


def test_unknown_option_is_refused(s):
    with pytest.raises(ValidationError, match="Unknown option"):
        s.add_interval_task("o", tasks_for_tests.record, 60, colour="blue")


@pytest.mark.parametrize(
    "method, args",
    [
        ("remove_task", ()), ("pause_task", ()), ("resume_task", ()),
        ("trigger_task_now", ()), ("get_task_status", ()), ("get_task_history", ()),
    ],
)  # fmt: skip
def test_unknown_name_raises_does_not_exist(s, method, args):
    with pytest.raises(Task.DoesNotExist):
        getattr(s, method)("missing", *args)
