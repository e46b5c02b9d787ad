"""The alert policy driven by real runs: scheduling.engine.runner executes the task,
sends task_finished, and the receivers decide what lands in the outbox."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail

from chirpsyncer.models import ErrorLog
from notifications import emails
from notifications.models import Delivery, DeliveryStatus, Kind
from scheduling.engine import runner
from scheduling.models import ExecutionStatus
from scheduling.tests.factories import TaskFactory

BOOM = "scheduling.tests.tasks_for_tests.boom"
NOOP = "scheduling.tests.tasks_for_tests.noop"
START = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)

pytestmark = pytest.mark.django_db


@pytest.fixture
def failing_task(staff):
    return TaskFactory(name="sync-feeds", func=BOOM)


def test_three_failures_in_a_row_send_one_alert(failing_task):
    for _ in range(3):
        execution = runner.run_now(failing_task)
        assert execution.status == ExecutionStatus.FAILED

    assert len(mail.outbox) == 1
    alert = mail.outbox[0]
    assert alert.to == ["staff@example.com"]
    assert alert.subject.startswith("[Failing] sync-feeds")
    assert "boom: the task failed on purpose" in alert.body


def test_a_task_failing_past_the_repeat_window_gets_one_reminder(failing_task):
    with time_machine.travel(START, tick=False) as clock:
        runner.run_now(failing_task)  # alert
        clock.shift(timedelta(hours=23))
        runner.run_now(failing_task)  # inside the window: nothing
        clock.shift(timedelta(hours=2))
        runner.run_now(failing_task)  # 25 h after the alert: reminder
        clock.shift(timedelta(hours=1))
        runner.run_now(failing_task)  # 1 h after the reminder: nothing

    subjects = [m.subject for m in mail.outbox]
    assert len(subjects) == 2
    assert subjects[0].startswith("[Failing]")
    assert subjects[1].startswith("[Still failing]")


def test_success_after_failure_sends_one_recovery(failing_task):
    runner.run_now(failing_task)
    runner.run_now(failing_task)
    failing_task.func = NOOP
    failing_task.save(update_fields=["func"])
    runner.run_now(failing_task)
    runner.run_now(failing_task)

    assert [m.subject for m in mail.outbox] == [
        mail.outbox[0].subject,
        "[Recovered] sync-feeds is working again",
    ]
    assert "succeeded again after 2 failed runs" in mail.outbox[1].body


def test_failing_again_after_recovery_alerts_again(failing_task):
    runner.run_now(failing_task)
    failing_task.func = NOOP
    failing_task.save(update_fields=["func"])
    runner.run_now(failing_task)
    failing_task.func = BOOM
    failing_task.save(update_fields=["func"])
    runner.run_now(failing_task)

    kinds = [d.kind for d in Delivery.objects.order_by("pk")]
    assert kinds == [Kind.TASK_FAILURE, Kind.TASK_RECOVERED, Kind.TASK_FAILURE]
    assert mail.outbox[2].subject.startswith("[Failing]")


def test_a_failure_with_retries_pending_sends_nothing_until_the_final_attempt(staff):
    task = TaskFactory(func=BOOM, max_retries=1)
    first = runner.claim_fire(task, START, "schedule")
    runner.execute(first, task)

    assert mail.outbox == []
    retry = task.executions.get(status=ExecutionStatus.QUEUED)
    runner.run_queued(retry.pk)
    assert len(mail.outbox) == 1
    assert "attempt 2" in mail.outbox[0].body


def test_a_retry_that_succeeds_sends_no_recovery(staff):
    task = TaskFactory(func=BOOM, max_retries=1)
    runner.execute(runner.claim_fire(task, START, "schedule"), task)
    task.func = NOOP
    task.save(update_fields=["func"])
    runner.run_queued(task.executions.get(status=ExecutionStatus.QUEUED).pk)

    assert mail.outbox == []


def test_success_mails_are_off_by_default(staff):
    runner.run_now(TaskFactory(func=NOOP))

    assert mail.outbox == []


def test_success_mails_follow_the_setting_and_the_task_switch(settings, staff):
    settings.NOTIFY_ON_TASK_SUCCESS = True
    runner.run_now(TaskFactory(name="wanted", func=NOOP, notify_on_success=True))
    runner.run_now(TaskFactory(name="unwanted", func=NOOP, notify_on_success=False))

    assert len(mail.outbox) == 1
    assert mail.outbox[0].subject.startswith("[Completed] wanted")
    assert "ok: True" in mail.outbox[0].body


def test_the_task_switch_turns_failure_mail_off(staff):
    task = TaskFactory(func=BOOM, notify_on_failure=False)
    runner.run_now(task)

    assert mail.outbox == []
    assert not Delivery.objects.exists()


def test_the_global_switch_turns_failure_mail_off(settings, failing_task):
    settings.NOTIFY_ON_TASK_FAILURE = False
    runner.run_now(failing_task)

    assert mail.outbox == []


def test_a_broken_notifier_never_fails_the_task(monkeypatch, failing_task):
    def explode(*args, **kwargs):
        raise RuntimeError("template exploded")

    monkeypatch.setattr(emails, "task_failure", explode)
    execution = runner.run_now(failing_task)

    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.FAILED
    logged = ErrorLog.objects.get(source="notifications.policy")
    assert "template exploded" in logged.message


def test_a_failed_alert_is_tried_again_on_the_next_failure(settings, failing_task):
    from notifications.tests.smtp import free_port, smtp_settings

    with smtp_settings(free_port()):  # nothing listens there: connection refused
        runner.run_now(failing_task)
    assert Delivery.objects.get().status == DeliveryStatus.FAILED

    runner.run_now(failing_task)  # back to the (locmem) backend

    assert len(mail.outbox) == 1
    assert mail.outbox[0].subject.startswith("[Failing]")  # an alert, not a reminder
