"""The TaskScheduler API as DESIGN.md fixes it: names, dict keys, errors."""

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.utils import timezone

from chirpsyncer.models import AuditLog
from scheduling.models import ExecutionStatus, Task, TaskExecution
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


def test_add_task_accepts_a_registered_function_and_stores_its_name(s):
    task = s.add_interval_task("every-minute", tasks_for_tests.record, 60)
    assert task.func == "test_record"
    assert task.next_run_at > timezone.now()


def test_a_dotted_path_of_a_registered_function_is_stored_as_its_name(s):
    task = s.add_interval_task("by-path", "scheduling.tests.tasks_for_tests.record", 60)
    assert task.func == "test_record"


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


@pytest.mark.parametrize(
    "func",
    [
        "subprocess.check_output",
        subprocess.check_output,
        os.system,
        "os.system",
        "no_such_module.func",
        "not_registered",
        "scheduling.tests.not_registered.touch",
    ],
)
def test_an_unregistered_function_is_refused_with_how_to_register_it(s, func):
    with pytest.raises(ValidationError) as excinfo:
        s.add_cron_task("shell", func, "* * * * *", kwargs={"args": ["id"]})
    message = " ".join(excinfo.value.message_dict["func"])
    assert "is not a registered task function" in message
    assert "@scheduled_task" in message and "SCHEDULER_TASK_MODULES" in message
    assert not Task.objects.exists()
    assert "scheduling.tests.not_registered" not in sys.modules  # looked up, never imported


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


@pytest.mark.parametrize(
    "option, value, message",
    [
        ("misfire_grace_seconds", 100_000_000_000_000, "out of range 1-2,592,000"),
        ("misfire_grace_seconds", 0, "out of range 1-"),
        ("timeout_seconds", 10**12, "out of range 1-2,592,000"),
        ("max_retries", 101, "out of range 0-100"),
        ("retry_backoff_seconds", 10**15, "out of range 0-86,400"),
        ("retry_backoff_max_seconds", 10**15, "out of range 0-604,800"),
        ("description", "x" * 1001, "at most 1000 characters"),
        ("notify_recipients", "a@example.com," * 200, "at most 2000 characters"),
    ],
)
def test_every_number_has_a_range_the_api_enforces(s, option, value, message):
    with pytest.raises(ValidationError) as excinfo:
        s.add_cron_task("bounded", tasks_for_tests.record, "@daily", **{option: value})
    assert message in " ".join(excinfo.value.message_dict[option])
    assert not Task.objects.exists()


def test_an_interval_longer_than_a_year_is_refused(s):
    with pytest.raises(ValidationError) as excinfo:
        s.add_interval_task("slow", tasks_for_tests.record, 1_000_000_000_000)
    assert "at most 365 days" in " ".join(excinfo.value.message_dict["interval_seconds"])
    assert not Task.objects.exists()


def test_a_date_past_year_9000_is_refused_whatever_its_zone(s):
    far = datetime(9999, 12, 31, 23, 59, tzinfo=ZoneInfo("Etc/GMT+12"))
    with pytest.raises(ValidationError) as excinfo:
        s.add_date_task("far", tasks_for_tests.record, far, timezone="Etc/GMT+12")
    assert "out of range" in " ".join(excinfo.value.message_dict["run_at"])
    assert not Task.objects.exists()


DEEP = {}
_node = DEEP
for _ in range(10_000):
    _node["a"] = {}
    _node = _node["a"]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"a": float("nan")}, "NaN and Infinity are not JSON"),
        ({"a": float("inf")}, "NaN and Infinity are not JSON"),
        ({"a": "\ud800"}, "lone surrogate"),
        ({"\udcff": 1}, "lone surrogate"),
        ({"a": "nul \x00"}, "NUL"),
        (DEEP, "nested more than 32 levels"),
        ({"blob": "x" * 70_000}, "64 KiB"),
        ({"when": object()}, "not JSON serializable"),
    ],
)
def test_kwargs_must_be_a_small_plain_json_object(s, kwargs, message):
    with pytest.raises(ValidationError) as excinfo:
        s.add_cron_task("k", tasks_for_tests.record, "@daily", kwargs=kwargs)
    assert message in " ".join(excinfo.value.message_dict["kwargs"])
    assert not Task.objects.exists()


def test_trigger_task_now_applies_the_kwargs_rules(s):
    s.add_interval_task("t", tasks_for_tests.record, 60)
    for bad in ({"a": float("nan")}, DEEP, [1, 2]):
        with pytest.raises(ValidationError):
            s.trigger_task_now("t", kwargs=bad)
    assert not TaskExecution.objects.exists()
    assert s.trigger_task_now("t", kwargs={"n": 1}).kwargs == {"n": 1}


def test_every_change_through_the_api_is_audited_once(s):
    s.add_interval_task("audited", tasks_for_tests.record, 60, description="First")
    s.pause_task("audited")
    s.pause_task("audited")  # no change: no row
    s.resume_task("audited")
    s.remove_task("audited")
    rows = list(AuditLog.objects.order_by("id").values_list("action", "details"))
    assert [action for action, _ in rows] == [
        "task.created", "task.disabled", "task.enabled", "task.deleted",
    ]  # fmt: skip
    assert all(details["source"] == "python" for _, details in rows)
    created = rows[0][1]["new"]
    assert (created["func"], created["interval_seconds"], created["description"]) == (
        "test_record", 60, "First",
    )  # fmt: skip
    assert rows[1][1]["old"] == {"enabled": True} and rows[1][1]["new"] == {"enabled": False}
    assert rows[3][1]["old"]["func"] == "test_record"


def test_interval_phase_anchors_on_the_stored_creation_time():
    """next_run_at lies a whole number of intervals after created_at, as APScheduler
    computes it at start: a mismatch made the leader run one extra catch-up fire."""
    with time_machine.travel("2026-03-01 12:00:00.123456+00:00", tick=True):
        TaskScheduler().add_interval_task("phase", "test_noop", 7)
    task = Task.objects.get(name="phase")
    offset = task.next_run_at - task.created_at
    assert offset.total_seconds() > 0
    assert offset.total_seconds() % 7 == 0
