"""NotificationService: the seed's API over the same delivery machinery."""

import pytest
from django.core import mail

from notifications.models import Delivery, DeliveryStatus, Kind
from notifications.service import NotificationService
from notifications.tests.factories import DeliveryFactory
from notifications.tests.smtp import free_port, smtp_settings
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


def test_a_task_name_without_a_row_is_mailed_without_a_link(smtp_server):
    """Scripts report jobs of their own: the name need not be a Task."""
    with smtp_settings(smtp_server.port):
        failed = NotificationService().notify_task_failure(
            "nightly-backup", "Disk full", ["ops@example.com"]
        )
        done = NotificationService().notify_task_completion(
            "nightly-backup", {"bytes": 2048}, ["ops@example.com"]
        )

    assert (failed, done) == (True, True)
    failure, completion = (m["message"] for m in smtp_server.messages)
    assert failure["Subject"] == "[Failing] nightly-backup: Disk full"
    assert completion["Subject"] == "[Completed] nightly-backup"
    for message in (failure, completion):
        text = message.get_body(("plain",)).get_content()
        html = message.get_body(("html",)).get_content()
        assert "nightly-backup" in text and "nightly-backup" in html
        assert "/tasks/" not in text + html  # no task page to link to
    assert "Error: Disk full" in failure.get_body(("plain",)).get_content()
    assert "bytes: 2048" in completion.get_body(("plain",)).get_content()
    assert set(Delivery.objects.values_list("task", "status")) == {(None, DeliveryStatus.SENT)}
    assert not Task.objects.exists()


def test_a_dead_mail_server_is_an_answer_not_an_exception(caplog):
    with smtp_settings(free_port()):  # nothing listens: connection refused
        failed = NotificationService().notify_task_failure(
            "nightly-backup", "Disk full", ["ops@example.com"]
        )
        done = NotificationService().notify_task_completion("nightly-backup", None, "o@example.com")

    assert (failed, done) == (False, False)
    errors = Delivery.objects.values_list("status", "error")
    assert {status for status, _ in errors} == {DeliveryStatus.FAILED}
    assert all("ConnectionRefusedError" in error for _, error in errors)


def test_a_broken_mail_backend_setting_is_an_answer_not_an_exception(settings):
    settings.EMAIL_BACKEND = "no.such.Backend"

    sent = NotificationService().notify_task_failure("nightly-backup", "x", "ops@example.com")

    assert sent is False
    assert Delivery.objects.get().status == DeliveryStatus.FAILED


def test_weekly_report_goes_to_staff_and_admins_by_default(settings, staff):
    settings.ADMINS = [("Ops", "ops@example.com")]

    assert NotificationService().send_weekly_report() is True

    assert sorted(m.to[0] for m in mail.outbox) == ["ops@example.com", "staff@example.com"]
    assert all(m.subject.startswith("Weekly report") for m in mail.outbox)


def test_weekly_report_with_no_one_to_tell_sends_nothing():
    assert NotificationService().send_weekly_report() is False
    assert mail.outbox == []
