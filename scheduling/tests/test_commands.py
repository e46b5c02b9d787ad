"""runtask, listtasks, taskhistory and syncdefaulttasks as ops use them."""

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from scheduling import registry
from scheduling.models import ExecutionStatus, Task
from scheduling.tests.factories import TaskExecutionFactory, TaskFactory

pytestmark = pytest.mark.django_db


def run(*args):
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_runtask_runs_inline_records_cli_and_prints_the_result():
    task = TaskFactory(name="echo", func="scheduling.tests.tasks_for_tests.record")
    out, _ = run("runtask", "echo", "--kwargs", '{"n": 2}')
    assert "success in" in out and '"n": 2' in out
    execution = task.executions.get()
    assert (execution.trigger, execution.status) == ("cli", ExecutionStatus.SUCCESS)


def test_runtask_exits_1_on_failure_and_prints_the_error():
    TaskFactory(name="bad", func="scheduling.tests.tasks_for_tests.boom")
    with pytest.raises(SystemExit) as excinfo:
        run("runtask", "bad")
    assert excinfo.value.code == 1
    assert Task.objects.get(name="bad").failure_count == 1


@pytest.mark.parametrize(
    "args, message",
    [
        (["runtask", "nope"], "Unknown task 'nope'"),
        (["runtask", "echo", "--kwargs", "{not json"], "--kwargs: not valid JSON"),
        (["runtask", "echo", "--kwargs", "[1]"], "--kwargs: must be a JSON object"),
        (["runtask", "echo", "--kwargs", '{"a": NaN}'], "--kwargs: NaN is not a JSON number"),
        (["runtask", "echo", "--kwargs", '{"a": Infinity}'], "Infinity is not a JSON number"),
        (["runtask", "echo", "--kwargs", "[" * 10_000 + "]" * 10_000], "nested 10000 levels"),
        (["runtask", "echo", "--kwargs", '{"a": "\\ud800"}'], "lone surrogate"),
        (["runtask", "echo", "--kwargs", '{"a": "\udcff"}'], "lone surrogate"),  # bad argv byte
        (["runtask", "echo", "--kwargs", '{"a": "' + "x" * 70_000 + '"}'], "64 KiB"),
        (["taskhistory", "echo", "--limit", "-1"], "--limit: -1 is out of range"),
        (["taskhistory", "nope"], "Unknown task 'nope'"),
        (["taskhistory", "nope", "--log", "1"], "Unknown task 'nope'"),
        (["taskhistory", "echo", "--log", "99999999999999999999999"], "echo has no execution"),
        (["taskhistory", "echo", "--log", "abc"], "invalid int value"),
        (["taskhistory", "echo", "--log", "-3"], "echo has no execution #-3"),
    ],
)
def test_bad_command_input_gives_a_clear_error_and_runs_nothing(args, message):
    TaskFactory(name="echo", func="scheduling.tests.tasks_for_tests.record")
    with pytest.raises(CommandError, match=message):
        run(*args)
    assert not Task.objects.get(name="echo").executions.exists()


def test_listtasks_prints_an_aligned_table_and_json():
    TaskFactory(name="alpha", cron_expression="0 3 * * *", timezone="Europe/Madrid")
    TaskFactory(name="beta-longer-name", trigger_type="interval", interval_seconds=30)
    out, _ = run("listtasks")
    lines = out.splitlines()
    assert lines[0].split() == ["name", "schedule", "enabled", "last", "status", "next", "run"]
    assert lines[1].startswith("alpha ") and "0 3 * * * (Europe/Madrid)" in lines[1]
    assert "every 30 s" in lines[2]
    assert lines[1].index("yes") == lines[2].index("yes")  # aligned columns
    assert "Scheduler: not_running" in out
    payload = json.loads(run("listtasks", "--json")[0])
    assert [t["name"] for t in payload["tasks"]] == ["alpha", "beta-longer-name"]
    assert payload["scheduler"]["state"] == "not_running"


def test_taskhistory_lists_newest_first_with_limit():
    task = TaskFactory(name="hist")
    first = TaskExecutionFactory(task=task)
    second = TaskExecutionFactory(task=task, status="failed", error="KeyError: 'x'\ntrace")
    out, _ = run("taskhistory", "hist", "--limit", "1")
    assert f"#{second.pk}" in out and "KeyError: 'x'" in out
    assert f"#{first.pk}" not in out


def test_taskhistory_log_prints_one_runs_log_even_while_it_runs():
    task = TaskFactory(name="hist")
    done = TaskExecutionFactory(task=task, log="12:00:00 INFO x: first\n12:00:01 INFO x: second")
    running = TaskExecutionFactory(task=task, status="running", finished_at=None, log="so far")
    quiet = TaskExecutionFactory(task=task)
    out, _ = run("taskhistory", "hist", "--log", str(done.pk))
    assert out.splitlines() == [
        f"# hist #{done.pk} (success)",
        "12:00:00 INFO x: first",
        "12:00:01 INFO x: second",
    ]
    out, _ = run("taskhistory", "hist", "--log", str(running.pk))
    assert "still running: the log so far" in out and out.endswith("so far\n")
    assert "(nothing logged)" in run("taskhistory", "hist", "--log", str(quiet.pk))[0]
    other = TaskExecutionFactory(task=TaskFactory(name="other"), log="not yours")
    with pytest.raises(CommandError, match=f"hist has no execution #{other.pk}"):
        run("taskhistory", "hist", "--log", str(other.pk))


def test_listtasks_shows_a_chained_task_with_its_upstream():
    backup = TaskFactory(name="backup")
    TaskFactory(name="report", trigger_type="after", after_task=backup, after_status="any")
    out, _ = run("listtasks")
    row = [line for line in out.splitlines() if line.startswith("report")][0]
    assert "after backup (any)" in row and row.rstrip().endswith("-")


def test_syncdefaulttasks_creates_missing_tasks_and_never_overwrites_edits(monkeypatch):
    monkeypatch.setattr(registry, "_registry", {})
    registry.scheduled_task(name="demo-default", schedule="0 3 * * *", description="Demo")(
        __import__("scheduling.tests.tasks_for_tests", fromlist=["record"]).record
    )
    out, _ = run("syncdefaulttasks")
    assert "Created task demo-default" in out
    task = Task.objects.get(name="demo-default")
    assert (task.cron_expression, task.func, task.description) == (
        "0 3 * * *",
        "demo-default",
        "Demo",
    )
    task.cron_expression = "15 4 * * *"
    task.enabled = False
    task.save()
    out, _ = run("syncdefaulttasks")
    assert "0 created, 1 already present" in out
    task.refresh_from_db()
    assert (task.cron_expression, task.enabled) == ("15 4 * * *", False)


def test_registry_interval_schedules_become_interval_tasks(monkeypatch):
    monkeypatch.setattr(registry, "_registry", {})
    registry.scheduled_task(name="fast", schedule="every 15")(
        __import__("scheduling.tests.tasks_for_tests", fromlist=["record"]).record
    )
    run("syncdefaulttasks")
    task = Task.objects.get(name="fast")
    assert (task.trigger_type, task.interval_seconds) == ("interval", 15)


def test_a_default_task_cannot_take_a_reserved_name(monkeypatch):
    monkeypatch.setattr(registry, "_registry", {})
    record = __import__("scheduling.tests.tasks_for_tests", fromlist=["record"]).record
    with pytest.raises(ValueError, match="'new' is reserved"):
        registry.scheduled_task(name="new", schedule="0 3 * * *")(record)
    registry.scheduled_task(name="new", schedule=None)(record)  # a function name only: fine


def test_registering_two_functions_under_one_name_is_an_error(monkeypatch):
    monkeypatch.setattr(registry, "_registry", {})
    module = __import__("scheduling.tests.tasks_for_tests", fromlist=["record"])
    registry.scheduled_task(name="same", schedule="@daily")(module.record)
    with pytest.raises(ValueError, match="registered twice"):
        registry.scheduled_task(name="same", schedule="@daily")(module.returns_object)
