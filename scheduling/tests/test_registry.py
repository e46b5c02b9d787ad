"""The registry: what may run, how it is registered, and how a stored func is found."""

import os
import subprocess
import sys

import pytest
from django.core.checks import run_checks
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command

from chirpsyncer.models import AuditLog
from scheduling import registry
from scheduling.models import Task
from scheduling.tests import tasks_for_tests
from scheduling.tests.factories import TaskFactory
from scheduling.tests.processes import BASE_DIR, TEST_TASK_MODULES, database_url


def _register(**options):
    options = {"name": "probe", "schedule": None, **options}
    return registry.scheduled_task(**options)


@pytest.fixture
def empty_registry(monkeypatch):
    monkeypatch.setattr(registry, "_registry", {})


def test_a_registration_keeps_its_schedule_kwargs_queue_and_description(empty_registry):
    _register(schedule="every 60", kwargs={"n": 1}, queue="slow")(tasks_for_tests.record)
    entry = registry.get("probe")
    assert (entry.schedule, entry.kwargs, entry.queue) == ("every 60", {"n": 1}, "slow")
    assert entry.description == ""  # record() has no docstring
    assert entry.dotted_path == "scheduling.tests.tasks_for_tests.record"


def test_the_description_defaults_to_the_docstrings_first_line(empty_registry):
    _register()(tasks_for_tests.sleep)
    assert registry.get("probe").description == "Sleeps."
    assert registry.choices() == [("probe", "probe — Sleeps.")]


def _closure():
    def inner():
        return 1

    return inner


@pytest.mark.parametrize(
    "options, func, message",
    [
        ({"schedule": "61 * * * *"}, tasks_for_tests.record, "minute: 61 is out of range"),
        ({"schedule": "every 0"}, tasks_for_tests.record, "expected 'every N'"),
        ({"schedule": "every 1000000000000"}, tasks_for_tests.record, "expected 'every N'"),
        ({"name": "has space"}, tasks_for_tests.record, "letters, digits"),
        ({"kwargs": {"a": float("nan")}}, tasks_for_tests.record, "NaN"),
        ({}, lambda: 1, "only module-level functions"),
        ({}, _closure(), "only module-level functions"),
    ],
)
def test_a_registration_no_task_could_use_fails_at_import(empty_registry, options, func, message):
    with pytest.raises(ValueError, match=message):
        _register(**options)(func)
    assert registry.registered() == {}


def test_a_stored_func_is_found_by_name_or_dotted_path_and_nothing_else():
    entry = registry.get("test_record")
    assert registry.lookup("test_record") is entry
    assert registry.lookup("scheduling.tests.tasks_for_tests.record") is entry
    for reference in ["os.system", "scheduling.tests.not_registered.touch", "", None, 42]:
        assert registry.lookup(reference) is None
    assert "scheduling.tests.not_registered" not in sys.modules


def test_unknown_task_modules_stop_start_up_naming_the_module():
    with pytest.raises(ImproperlyConfigured, match="SCHEDULER_TASK_MODULES names 'no.such'"):
        registry.import_task_modules(["no.such"])


@pytest.mark.django_db
def test_syncdefaulttasks_skips_functions_without_a_default_and_audits_what_it_creates():
    call_command("syncdefaulttasks", verbosity=0)
    names = set(Task.objects.values_list("name", flat=True))
    assert "cleanup_expired_sessions" in names
    assert not any(name.startswith("test_") for name in names)  # schedule=None
    assert "simulate_sync" not in names
    created = AuditLog.objects.filter(action="task.created")
    assert set(created.values_list("resource_id", flat=True)) == names
    assert {log.details["source"] for log in created} == {"cli"}
    call_command("syncdefaulttasks", verbosity=0)
    assert AuditLog.objects.count() == len(names)  # nothing changed: no new rows


def test_the_scheduler_refuses_a_lease_no_longer_than_its_heartbeat(settings):
    settings.SCHEDULER_LEASE_SECONDS, settings.SCHEDULER_HEARTBEAT_SECONDS = 2, 2
    settings.SCHEDULER_MISFIRE_GRACE_SECONDS = 10**9
    errors = {error.id: error.msg for error in run_checks()}
    assert "SCHEDULER_LEASE_SECONDS (2) must be greater than" in errors["scheduling.E001"]
    assert "SCHEDULER_MISFIRE_GRACE_SECONDS" in errors["scheduling.E002"]


@pytest.mark.process
@pytest.mark.django_db(transaction=True)
def test_scheduler_task_modules_is_what_makes_a_module_runnable_in_another_process():
    TaskFactory(name="probe", func="test_record", kwargs={"n": 1})

    def runtask(modules: str) -> subprocess.CompletedProcess:
        env = {**os.environ, "DATABASE_URL": database_url(), "SCHEDULER_TASK_MODULES": modules}
        return subprocess.run(
            [sys.executable, "manage.py", "runtask", "probe"],
            cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip

    registered = runtask(TEST_TASK_MODULES)
    assert registered.returncode == 0, registered.stderr
    assert '"n": 1' in registered.stdout
    unregistered = runtask("")
    assert unregistered.returncode == 1
    assert "'test_record' is not a registered task function" in unregistered.stderr
    assert "Traceback" not in unregistered.stderr
    missing = runtask("no.such.module")
    assert missing.returncode != 0
    assert "SCHEDULER_TASK_MODULES names 'no.such.module'" in missing.stderr
