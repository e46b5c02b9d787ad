"""Mail over a real SMTP connection: aiosmtpd on localhost with a login."""

import pytest
from django.core import mail
from django.core.management import call_command

from chirpsyncer.models import ErrorLog
from notifications.models import Delivery, DeliveryStatus, Kind
from notifications.service import NotificationService
from notifications.tests.smtp import free_port, smtp_settings
from scheduling.engine import runner
from scheduling.models import ExecutionStatus
from scheduling.tests.factories import TaskFactory

pytestmark = pytest.mark.django_db


def test_an_alert_reaches_a_real_smtp_server_after_logging_in(smtp_server, staff):
    task = TaskFactory(name="backup-db", func="scheduling.tests.tasks_for_tests.boom")
    with smtp_settings(smtp_server.port):
        execution = runner.run_now(task)

    assert execution.status == ExecutionStatus.FAILED
    assert smtp_server.logins == ["mailer"]
    [received] = smtp_server.messages
    assert received["authenticated"] is True
    assert received["to"] == ["staff@example.com"]
    assert received["subject"].startswith("[Failing] backup-db")
    # Both bodies travel: multipart/alternative with text first, HTML second.
    assert "multipart/alternative" in received["data"]
    assert received["data"].index("text/plain") < received["data"].index("text/html")
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.kind) == (DeliveryStatus.SENT, Kind.TASK_FAILURE)
    assert delivery.sent_at is not None


def test_a_down_smtp_server_does_not_fail_a_successful_task(settings, staff):
    settings.NOTIFY_ON_TASK_SUCCESS = True
    task = TaskFactory(func="scheduling.tests.tasks_for_tests.noop")
    with smtp_settings(free_port()):
        execution = runner.run_now(task)

    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.SUCCESS
    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.FAILED
    assert "ConnectionRefusedError" in delivery.error
    logged = ErrorLog.objects.get(source="notifications.email")
    assert "ConnectionRefusedError" in logged.message
    assert "staff@example.com" in logged.message


def test_a_refusing_smtp_server_leaves_a_failing_task_failed(smtp_server, staff):
    task = TaskFactory(func="scheduling.tests.tasks_for_tests.boom")
    with smtp_settings(smtp_server.port, password="wrong"):
        execution = runner.run_now(task)

    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.FAILED
    assert smtp_server.messages == []
    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.FAILED
    assert "SMTPAuthenticationError" in delivery.error
    assert ErrorLog.objects.filter(source="notifications.email").count() == 1


def test_the_weekly_report_goes_out_over_smtp(smtp_server, staff):
    with smtp_settings(smtp_server.port):
        assert NotificationService().send_weekly_report() is True

    [received] = smtp_server.messages
    assert received["subject"].startswith("Weekly report")


def test_djangos_sendtestemail_works_with_these_settings(smtp_server):
    with smtp_settings(smtp_server.port):
        call_command("sendtestemail", "someone@example.com")

    [received] = smtp_server.messages
    assert received["to"] == ["someone@example.com"]
    assert "Test email from" in received["data"]


def test_test_connection_is_true_when_the_server_accepts_the_login(smtp_server):
    with smtp_settings(smtp_server.port):
        assert NotificationService().test_connection() is True


def test_test_connection_is_false_with_a_wrong_password(smtp_server, caplog):
    with smtp_settings(smtp_server.port, password="wrong"):
        assert NotificationService().test_connection() is False
    assert "SMTPAuthenticationError" in caplog.text


def test_test_connection_is_false_when_nothing_listens(caplog):
    port = free_port()
    with smtp_settings(port):
        assert NotificationService().test_connection() is False
    assert f"127.0.0.1:{port} refused" in caplog.text


def test_test_connection_is_false_and_says_why_when_smtp_is_disabled(caplog):
    assert NotificationService().test_connection() is False
    assert "SMTP_ENABLED is false" in caplog.text
    assert mail.outbox == []
