"""Each run keeps what it logged: capped, bounded in memory, never mixed with another run's."""

import logging
import threading
import tracemalloc

import pytest
from django.db import connection

from scheduling.engine import runlog, runner
from scheduling.engine.stored import MAX_STORED_BYTES
from scheduling.models import Task, TaskExecution
from scheduling.tests import tasks_for_tests
from scheduling.tests.factories import TaskFactory
from scheduling.tests.processes import wait_until

pytestmark = pytest.mark.django_db


def run(func, **kwargs):
    task = TaskFactory(func=func, kwargs=kwargs)
    execution = runner.run_now(task, trigger="manual")
    return TaskExecution.objects.get(pk=execution.pk)


def test_a_run_keeps_what_its_task_logged_at_info_and_above():
    execution = run("test_log_lines", count=3, seconds=0)
    lines = execution.log.splitlines()
    assert [line.split(": ", 1)[1] for line in lines] == [
        "line 1 of 3",
        "line 2 of 3",
        "line 3 of 3",
    ]
    assert all(" INFO scheduling.tests.tasks: " in line for line in lines)


def test_debug_lines_are_left_out_by_default_and_kept_with_task_log_level_debug(settings):
    assert "DEBUG" not in run("test_log_many", lines=3, level="DEBUG").log
    settings.TASK_LOG_LEVEL = "DEBUG"
    logging.getLogger("scheduling.tests.tasks").setLevel(logging.DEBUG)
    try:
        assert run("test_log_many", lines=3, level="DEBUG").log.count(" DEBUG ") == 3
    finally:
        logging.getLogger("scheduling.tests.tasks").setLevel(logging.NOTSET)


def test_task_log_level_warning_keeps_only_warnings(settings):
    settings.TASK_LOG_LEVEL = "WARNING"
    assert run("test_log_many", lines=3, level="INFO").log == ""
    assert run("test_log_many", lines=2, level="WARNING").log.count(" WARNING ") == 2


def test_a_failed_run_keeps_its_log_too_and_a_refused_one_says_why():
    assert "line 1 of 1" in run("test_log_lines", count=1).log
    execution = run("test_boom")
    assert execution.status == "failed" and execution.log == ""
    task = TaskFactory()
    Task.objects.filter(pk=task.pk).update(func="os.system")
    refused = runner.run_now(Task.objects.get(pk=task.pk), trigger="manual")
    assert "not a registered task function" in TaskExecution.objects.get(pk=refused.pk).log


def test_what_is_logged_outside_runs_is_not_kept_anywhere():
    logging.getLogger("scheduling.tests.tasks").warning("between runs")
    execution = run("test_noop")
    assert "between runs" not in execution.log


def test_a_huge_log_keeps_its_head_and_tail_and_says_what_was_cut():
    execution = run("test_log_many", lines=8_000, size=100)  # about 800 KB
    log = execution.log
    assert len(log.encode()) <= MAX_STORED_BYTES
    assert "x 00000000" in log and "x 00007999" in log  # first and last lines
    assert "x 00004000" not in log
    cut = [line for line in log.splitlines() if line.startswith("[... ")]
    assert len(cut) == 1 and "lines (" in cut[0] and "bytes) cut" in cut[0]
    head, tail = log.split(cut[0])
    assert abs(len(head) - len(tail)) < 2_000  # about half each


def test_memory_stays_bounded_while_a_run_logs_far_more_than_it_keeps():
    """Logging 40 MB through one buffer holds at most a few hundred KB at any moment."""
    buffer = runlog.RunLog(None)
    line = "y" * 1_000
    tracemalloc.start()
    try:
        for _ in range(40_000):
            buffer.write(line)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 400_000, peak
    assert buffer.cut_lines > 39_000 and len(buffer.text().encode()) <= MAX_STORED_BYTES


def test_one_enormous_line_is_cut_in_its_middle():
    buffer = runlog.RunLog(None)
    buffer.write("start" + "z" * 1_000_000 + "end")
    text = buffer.text()
    assert text.startswith("start") and text.endswith("end")
    assert len(text.encode()) <= runlog.LINE_MAX


def test_nul_and_lone_surrogates_are_stored_as_escapes():
    buffer = runlog.RunLog(None)
    buffer.write("a\x00b \ud800 c")
    assert buffer.text() == "a\\x00b \\ud800 c"


def test_concurrent_runs_in_threads_never_see_each_others_lines():
    """Eight runs log at once in eight threads; each log holds its own tag only."""
    start = threading.Barrier(8)
    texts = {}

    def one(tag):
        start.wait()
        with runlog.capture(None) as buffer:
            for n in range(300):
                logging.getLogger("scheduling.tests.tasks").info("%s %d", tag, n)
        texts[tag] = buffer.text()

    threads = [threading.Thread(target=one, args=(f"run{n}",)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for tag, text in texts.items():
        lines = text.splitlines()
        assert len(lines) == 300
        assert all(line.endswith(f"{tag} {n}") for n, line in enumerate(lines))


def test_the_engines_own_lines_stay_out_of_the_runs_logs():
    with runlog.capture(None) as buffer:
        seen = []
        other = threading.Thread(
            target=lambda: logging.getLogger("scheduling.engine").warning("loop line")
        )
        other.start()
        other.join()
        logging.getLogger("scheduling.tests.tasks").warning("task line")
        seen.append(buffer.text())
    assert "task line" in seen[0] and "loop line" not in seen[0]


@pytest.mark.django_db(transaction=True)
def test_a_running_execution_shows_its_log_before_it_finishes(monkeypatch):
    """The flusher writes the log of a run in progress; the task's thread never writes."""
    monkeypatch.setattr(runlog.flusher, "every", 0.1)
    tasks_for_tests.release.clear()
    tasks_for_tests.logged.clear()
    task = TaskFactory(func="test_log_then_wait", kwargs={"seconds": 20})
    execution = TaskExecution.objects.create(task=task, trigger="manual", status="queued")
    worker = threading.Thread(target=lambda: (runner.run_queued(execution.pk), connection.close()))
    worker.start()
    try:
        row = wait_until(
            lambda: (
                TaskExecution.objects.filter(pk=execution.pk, log__contains="first line")
                .values("status", "log")
                .first()
            ),
            10,
            "the first line in the stored log while the run waits",
        )
        assert row["status"] == "running" and "last line" not in row["log"]
    finally:
        tasks_for_tests.release.set()
        worker.join(10)
    final = TaskExecution.objects.get(pk=execution.pk)
    assert final.status == "success" and "last line" in final.log
    assert not runlog.flusher._runs  # nothing left to write


@pytest.mark.django_db(transaction=True)
def test_the_flusher_never_overwrites_a_finished_runs_log():
    task = TaskFactory()
    execution = TaskExecution.objects.create(task=task, status="success", log="final text")
    buffer = runlog.RunLog(execution.pk)
    buffer.write("stale line")
    assert runlog.Flusher._write(buffer) is True
    assert TaskExecution.objects.get(pk=execution.pk).log == "final text"


def test_task_log_level_is_read_strictly_and_lowers_the_root_level_only():
    from chirpsyncer.tests.test_settings import failure, load

    assert "Setting TASK_LOG_LEVEL='chatty' is invalid: expected one of DEBUG" in failure(
        {"TASK_LOG_LEVEL": "chatty"}
    )
    values = load({"TASK_LOG_LEVEL": "debug"}, "TASK_LOG_LEVEL", "LOGGING")
    assert values["TASK_LOG_LEVEL"] == "DEBUG"
    assert values["LOGGING"]["root"]["level"] == "DEBUG"
    assert values["LOGGING"]["handlers"]["console"]["level"] == "INFO"  # the console as before


@pytest.mark.django_db(transaction=True)
def test_a_write_the_database_refuses_is_retried_and_reported_once(monkeypatch, caplog):
    task = TaskFactory()
    execution = TaskExecution.objects.create(task=task, status="running")
    buffer = runlog.RunLog(execution.pk)
    buffer.write("a line")

    def locked(*args, **kwargs):
        from django.db import OperationalError

        raise OperationalError("database is locked")

    monkeypatch.setattr(TaskExecution.objects, "filter", locked)
    with caplog.at_level(logging.DEBUG, logger="scheduling.engine.runlog"):
        assert runlog.Flusher._write(buffer) is False
        assert runlog.Flusher._write(buffer) is False
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "database is locked" in warnings[0].getMessage()
    monkeypatch.undo()
    assert runlog.Flusher._write(buffer) is True
    assert TaskExecution.objects.get(pk=execution.pk).log.endswith("a line")
