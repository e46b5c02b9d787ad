"""Unit tests of notifications.policy: each branch, with factory-made history."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail

from chirpsyncer.tests.factories import UserFactory
from notifications import policy
from notifications.models import Delivery, DeliveryStatus, Kind
from notifications.tests.factories import DeliveryFactory
from scheduling import signals
from scheduling.models import ExecutionStatus, Task
from scheduling.tests.factories import TaskExecutionFactory, TaskFactory

START = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)

pytestmark = pytest.mark.django_db


def failed(task, **fields):
    fields.setdefault("error", "RuntimeError: disk full\n\nTraceback ...\nRuntimeError: disk full")
    return TaskExecutionFactory(task=task, status=ExecutionStatus.FAILED, result=None, **fields)


def test_an_abandoned_execution_counts_as_a_failure(staff):
    task = TaskFactory()
    execution = TaskExecutionFactory(task=task, status=ExecutionStatus.ABANDONED, error="")

    signals.task_finished.send(sender=Task, task=task, execution=execution, final=True)

    assert len(mail.outbox) == 1
    assert mail.outbox[0].subject == f"[Failing] {task.name}"


def test_a_non_final_failure_is_ignored(staff):
    task = TaskFactory()

    signals.task_finished.send(sender=Task, task=task, execution=failed(task), final=False)

    assert mail.outbox == []


def test_skipped_runs_send_nothing(staff):
    task = TaskFactory()
    execution = TaskExecutionFactory(task=task, status=ExecutionStatus.SKIPPED)

    assert policy.handle_finished(task, execution) == []


def test_an_alert_already_sent_in_this_streak_stops_the_next(staff):
    task = TaskFactory()
    first = policy.handle_finished(task, failed(task))
    second = policy.handle_finished(task, failed(task))

    assert [d.status for d in first] == [DeliveryStatus.SENT]
    assert second == []


def test_an_alert_before_the_last_success_belongs_to_an_old_streak(staff):
    task = TaskFactory()
    with time_machine.travel(START, tick=False) as clock:
        DeliveryFactory(task=task, kind=Kind.TASK_FAILURE)
        clock.shift(timedelta(minutes=5))
        TaskExecutionFactory(task=task, status=ExecutionStatus.SUCCESS)
        clock.shift(timedelta(minutes=5))
        policy.handle_finished(task, failed(task))

    assert len(mail.outbox) == 1
    assert mail.outbox[0].subject.startswith("[Failing]")


def test_a_suppressed_alert_does_not_count_as_sent(staff):
    task = TaskFactory()
    DeliveryFactory(task=task, kind=Kind.TASK_FAILURE, status=DeliveryStatus.SUPPRESSED)

    policy.handle_finished(task, failed(task))

    assert mail.outbox[0].subject.startswith("[Failing]")


def test_a_pending_alert_counts_as_sent_so_concurrent_runs_do_not_both_alert(staff):
    task = TaskFactory()
    DeliveryFactory(task=task, kind=Kind.TASK_FAILURE, status=DeliveryStatus.PENDING)

    assert policy.handle_finished(task, failed(task)) == []


def test_recovery_needs_a_failure_alert_in_the_streak(staff):
    task = TaskFactory()
    failed(task)  # a failure nobody was told about (alerting was off)

    ok = TaskExecutionFactory(task=task, status=ExecutionStatus.SUCCESS)
    assert policy.handle_finished(task, ok) == []


def test_recovery_is_sent_even_when_the_alert_could_not_be_delivered(staff):
    task = TaskFactory(failure_count=1)
    bad = failed(task)
    DeliveryFactory(task=task, execution=bad, status=DeliveryStatus.FAILED)
    ok = TaskExecutionFactory(task=task, status=ExecutionStatus.SUCCESS)

    sent = policy.handle_finished(task, ok)

    assert [d.kind for d in sent] == [Kind.TASK_RECOVERED]


def test_recovery_replaces_the_success_mail(settings, staff):
    settings.NOTIFY_ON_TASK_SUCCESS = True
    task = TaskFactory(failure_count=1)
    policy.handle_finished(task, failed(task))
    policy.handle_finished(task, TaskExecutionFactory(task=task, status=ExecutionStatus.SUCCESS))

    assert [m.subject.split()[0] for m in mail.outbox] == ["[Failing]", "[Recovered]"]


def test_a_recovery_already_sent_for_the_streak_is_not_repeated(staff):
    """Two successes finishing together after a failing streak: one recovery."""
    task = TaskFactory(failure_count=1)
    DeliveryFactory(task=task, execution=failed(task), kind=Kind.TASK_FAILURE)
    DeliveryFactory(task=task, kind=Kind.TASK_RECOVERED)
    ok = TaskExecutionFactory(task=task, status=ExecutionStatus.SUCCESS)

    assert policy.handle_finished(task, ok) == []


def test_overdue_sends_one_alert_per_execution(staff):
    task = TaskFactory(timeout_seconds=60)
    running = TaskExecutionFactory(
        task=task, status=ExecutionStatus.RUNNING, finished_at=None, duration_ms=None
    )

    for _ in range(2):
        signals.task_overdue.send(sender=Task, task=task, execution=running)

    assert len(mail.outbox) == 1
    assert mail.outbox[0].subject.startswith(f"[Overdue] {task.name} has been running for")
    assert "60-second timeout" in mail.outbox[0].body


def test_overdue_respects_the_failure_switch(staff):
    task = TaskFactory(timeout_seconds=60, notify_on_failure=False)
    running = TaskExecutionFactory(task=task, status=ExecutionStatus.RUNNING, finished_at=None)

    signals.task_overdue.send(sender=Task, task=task, execution=running)

    assert mail.outbox == []


def test_rate_limit_suppresses_the_excess_and_logs_it(settings, staff):
    settings.NOTIFY_MAX_PER_HOUR = 2
    with time_machine.travel(START, tick=False) as clock:
        for _ in range(3):
            task = TaskFactory()
            policy.handle_finished(task, failed(task))
        assert len(mail.outbox) == 2
        suppressed = Delivery.objects.get(status=DeliveryStatus.SUPPRESSED)
        assert suppressed.recipient == "staff@example.com"
        assert "NOTIFY_MAX_PER_HOUR" in suppressed.error

        clock.shift(timedelta(minutes=61))
        task = TaskFactory()
        policy.handle_finished(task, failed(task))

    assert len(mail.outbox) == 3


def test_rate_limit_counts_each_recipient_separately(settings, staff):
    settings.NOTIFY_MAX_PER_HOUR = 1
    DeliveryFactory(recipient="staff@example.com")
    UserFactory(username="other", is_staff=True, email="other@example.com")
    task = TaskFactory()

    policy.handle_finished(task, failed(task))

    assert [m.to for m in mail.outbox] == [["other@example.com"]]


def test_admins_only_leaves_out_the_tasks_own_recipients(settings, staff):
    settings.ADMINS = [("Ops", "ops@example.com")]
    task = TaskFactory(notify_recipients="owner@example.com")

    policy.handle_finished(task, failed(task))

    assert sorted(m.to[0] for m in mail.outbox) == ["ops@example.com", "staff@example.com"]


def test_without_admins_only_the_tasks_own_recipients_are_added(settings, staff):
    settings.NOTIFY_ADMINS_ONLY = False
    task = TaskFactory(notify_recipients="Owner <owner@example.com>\nteam@example.com, bad-address")

    policy.handle_finished(task, failed(task))

    assert sorted(m.to[0] for m in mail.outbox) == [
        "owner@example.com",
        "staff@example.com",
        "team@example.com",
    ]


def test_inactive_and_non_staff_users_get_no_alerts(staff):
    UserFactory(username="gone", is_staff=True, is_active=False)
    UserFactory(username="plain", is_staff=False)
    UserFactory(username="nomail", is_staff=True, email="")
    task = TaskFactory()

    policy.handle_finished(task, failed(task))

    assert [m.to for m in mail.outbox] == [["staff@example.com"]]


def test_each_recipient_gets_a_separate_message(settings, staff):
    settings.ADMINS = [("Ops", "ops@example.com"), ("Staff again", "STAFF@example.com")]
    task = TaskFactory()

    policy.handle_finished(task, failed(task))

    assert [m.to for m in mail.outbox] == [["staff@example.com"], ["ops@example.com"]]
