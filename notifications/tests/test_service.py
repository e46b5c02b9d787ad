"""NotificationService: the seed's API over the same delivery machinery."""

import pytest
from django.core import mail

from notifications.models import Delivery, DeliveryStatus, Kind
from notifications.service import NotificationService
from notifications.tests.factories import DeliveryFactory
from scheduling.models import ExecutionStatus, Task
from scheduling.tests.factories import TaskExecutionFactory, TaskFactory

pytestmark = pytest.mark.django_db


def test_send_email_sends_plain_text_to_each_address_and_logs_it():
    sent = NotificationService().send_email(
        "a@example.com, b@example.com", "Subject\nwith a newline", "Body"
    )

    assert sent is True
    assert [(m.to, m.subject, m.body, m.alternatives) for m in mail.outbox] == [
        (["a@example.com"], "Subject with a newline", "Body", []),
        (["b@example.com"], "Subject with a newline", "Body", []),
    ]
    assert set(Delivery.objects.values_list("kind", "status")) == {(Kind.MESSAGE, "sent")}


def test_send_email_is_false_when_the_rate_limit_suppresses_it(settings):
    settings.NOTIFY_MAX_PER_HOUR = 1
    DeliveryFactory(recipient="a@example.com")

    assert NotificationService().send_email(["a@example.com"], "Hi", "Body") is False
    assert mail.outbox == []
    assert Delivery.objects.filter(status=DeliveryStatus.SUPPRESSED).count() == 1


def test_notify_task_completion_describes_the_result():
    task = TaskFactory(name="archive-logs")
    TaskExecutionFactory(task=task, status=ExecutionStatus.SUCCESS)

    sent = NotificationService().notify_task_completion(
        "archive-logs", {"archived": 1200}, ["ops@example.com"]
    )

    assert sent is True
    assert mail.outbox[0].subject.startswith("[Completed] archive-logs")
    assert "archived: 1200" in mail.outbox[0].body
    assert Delivery.objects.get().task == task


def test_notify_task_failure_uses_the_given_error():
    TaskFactory(name="backup-db")

    NotificationService().notify_task_failure("backup-db", "OSError: disk full", "ops@example.com")

    assert mail.outbox[0].subject == "[Failing] backup-db: OSError: disk full"


def test_an_unknown_task_name_is_an_error():
    with pytest.raises(Task.DoesNotExist):
        NotificationService().notify_task_failure("nope", "x", ["ops@example.com"])


def test_weekly_report_goes_to_staff_and_admins_by_default(settings, staff):
    settings.ADMINS = [("Ops", "ops@example.com")]

    assert NotificationService().send_weekly_report() is True

    assert sorted(m.to[0] for m in mail.outbox) == ["ops@example.com", "staff@example.com"]
    assert all(m.subject.startswith("Weekly report") for m in mail.outbox)


def test_weekly_report_with_no_one_to_tell_sends_nothing():
    assert NotificationService().send_weekly_report() is False
    assert mail.outbox == []
