"""`manage.py taskhistory NAME --format csv|json`: the export, from the shell."""

import csv
import io
import json
import subprocess
import sys
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from benchmarks.pages import seed
from chirpsyncer.tests.isolated import PRELUDE, environment
from scheduling import export
from scheduling.management.commands import taskhistory
from scheduling.tests import sentinels
from scheduling.tests.factories import TaskExecutionFactory, TaskFactory
from scheduling.tests.processes import database_url

pytestmark = pytest.mark.django_db


def run(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("taskhistory", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_csv_goes_to_stdout_with_every_column_and_the_count_to_stderr():
    sentinels.task_with_secrets()
    out, err = run("backup", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out, newline="")))
    assert [row["status"] for row in rows] == ["success", "failed"]
    assert rows[1]["requested_by"] == sentinels.REQUESTER and rows[1]["host"] == sentinels.HOST
    assert list(rows[0]) == export.columns(details=True)
    assert err == "Exported 2 runs of backup as csv.\n"


def test_json_takes_the_same_filters_as_the_urls():
    task = TaskFactory(name="backup")
    TaskExecutionFactory(task=task, status="success")
    failed = TaskExecutionFactory(task=task, status="failed", error="boom")
    out, _ = run("backup", "--format", "json", "--status", "failed", "--since", "2000-01-01")
    assert [(item["id"], item["error"]) for item in json.loads(out)] == [(failed.pk, "boom")]
    out, _ = run("backup", "--format", "json", "--until", "2000-01-01")
    assert json.loads(out) == []


def test_text_lists_newest_first_and_takes_the_filters_too():
    task = TaskFactory(name="backup")
    TaskExecutionFactory(task=task, status="success")
    failed = TaskExecutionFactory(task=task, status="failed", error="KeyError: 'x'\ntrace")
    out, _ = run("backup", "--status", "failed")
    assert out.startswith(f"#{failed.pk}") and "KeyError: 'x'" in out and out.count("\n") == 1
    out, _ = run("backup", "--status", "skipped")
    assert out == "backup has no runs matching the filters.\n"


def test_long_exports_report_progress_on_stderr(monkeypatch):
    monkeypatch.setattr(taskhistory, "PROGRESS_EVERY", 2_000)
    monkeypatch.setattr(export, "CHUNK", 1_000)
    (task,) = seed(1, 5_000)
    out, err = run(task.name, "--format", "json")
    assert len(json.loads(out)) == 5_000
    assert err.splitlines() == [
        "... 2,000 runs",
        "... 4,000 runs",
        f"Exported 5,000 runs of {task.name} as json.",
    ]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--since", "last week"], "--since: 'last week' is not a date or time"),
        (["--status", "done"], "--status: 'done' is not one of queued"),
        (["--since", "2025-03-02", "--until", "2025-03-01"], "--since: must be before until"),
        (["--format", "xml"], "invalid choice: 'xml'"),
    ],
)
def test_bad_options_are_a_clear_error_and_print_nothing(args, message):
    TaskFactory(name="backup")
    out = StringIO()
    with pytest.raises(CommandError, match=message):
        call_command("taskhistory", "backup", *args, stdout=out)
    assert out.getvalue() == ""


@pytest.mark.django_db(transaction=True)
def test_a_reader_that_stops_early_gets_no_traceback():
    """`taskhistory NAME --format csv | head -1`: the closed pipe ends the export quietly."""
    (task,) = seed(1, 5_000)  # far more than a pipe buffers
    code = PRELUDE + (
        "import sys\nfrom django.core.management import execute_from_command_line\n"
        "execute_from_command_line(['manage.py', *sys.argv[1:]])\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "taskhistory", task.name, "--format", "csv"],
        cwd=settings.BASE_DIR,
        env=environment(DATABASE_URL=database_url(), SECRET_KEY="k" * 50),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout.readline().startswith(b"id,task,status")
    proc.stdout.close()
    stderr = proc.stderr.read().decode()
    assert proc.wait(60) == 0, stderr
    assert "Traceback" not in stderr and "Exported" not in stderr
