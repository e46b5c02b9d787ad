"""Which channels the alert policy claims a post for, and when.

Decisions only: these tests never commit, so the claimed rows stay `pending`
and the background sender (which posts after commit) is never handed them.
Posting itself is tested against a real endpoint in test_channel_alerts.
"""

from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from notifications import channel_posts, policy
from notifications.models import Channel, Delivery, DeliveryStatus, Kind
from notifications.service import deliver_weekly_report
from notifications.tests.factories import ChannelFactory, DeliveryFactory
from scheduling.models import ExecutionStatus
from scheduling.tests.factories import TaskExecutionFactory, TaskFactory

pytestmark = pytest.mark.django_db


def failed(task):
    return TaskExecutionFactory(task=task, status=ExecutionStatus.FAILED, error="OSError: full")


def succeeded(task):
    return TaskExecutionFactory(task=task, status=ExecutionStatus.SUCCESS)


def posts(**filters):
    return list(Delivery.objects.filter(channel__isnull=False, **filters).order_by("pk"))


def test_a_failure_is_claimed_for_channels_subscribed_to_failures_only():
    wants = ChannelFactory(events=["failure"])
    ChannelFactory(events=["recovery", "success", "weekly_report"])
    ChannelFactory(events=["failure"], enabled=False)
    task = TaskFactory()

    rows = policy.handle_finished(task, failed(task))

    assert [(r.channel, r.kind, r.status) for r in rows] == [
        (wants, Kind.TASK_FAILURE, DeliveryStatus.PENDING)
    ]
    assert rows[0].subject.startswith(f"[Failing] {task.name}")


def test_a_channel_with_chosen_tasks_hears_only_about_those():
    watched, other = TaskFactory(), TaskFactory()
    channel = ChannelFactory()
    channel.tasks.set([watched])

    policy.handle_finished(other, failed(other))
    policy.handle_finished(watched, failed(watched))

    assert [r.task for r in posts(channel=channel)] == [watched]


def test_a_post_counts_as_the_streak_s_alert():
    """No mail recipient at all: the channel's row alone stops the next alert."""
    ChannelFactory()
    task = TaskFactory()

    first = policy.handle_finished(task, failed(task))
    second = policy.handle_finished(task, failed(task))

    assert len(first) == 1 and second == []


def test_a_reminder_goes_to_channels_too(staff):
    ChannelFactory()
    task = TaskFactory()
    with time_machine.travel(timezone.now(), tick=False) as clock:
        policy.handle_finished(task, failed(task))
        clock.shift(timedelta(hours=25))
        policy.handle_finished(task, failed(task))

    assert [r.subject.split()[0] for r in posts()] == ["[Failing]", "[Still"]
    assert [m.subject.split()[0] for m in mail.outbox] == ["[Failing]", "[Still"]


def test_mail_and_channels_get_the_same_recovery(staff):
    channel = ChannelFactory(events=["failure", "recovery"])
    task = TaskFactory()
    policy.handle_finished(task, failed(task))

    rows = policy.handle_finished(task, succeeded(task))

    assert {(r.kind, r.channel) for r in rows} == {
        (Kind.TASK_RECOVERED, None),
        (Kind.TASK_RECOVERED, channel),
    }


def test_success_posts_need_the_setting_the_task_switch_and_the_subscription(settings):
    channel = ChannelFactory(events=["success"])
    ChannelFactory(events=["failure", "recovery"])
    quiet, loud = TaskFactory(notify_on_success=False), TaskFactory(notify_on_success=True)

    policy.handle_finished(loud, succeeded(loud))  # setting off
    settings.NOTIFY_ON_TASK_SUCCESS = True
    policy.handle_finished(quiet, succeeded(quiet))  # task switch off
    policy.handle_finished(loud, succeeded(loud))

    assert [(r.channel, r.task, r.kind) for r in posts()] == [(channel, loud, Kind.TASK_COMPLETION)]


def test_an_overdue_run_is_a_failure_event():
    channel = ChannelFactory(events=["failure"])
    task = TaskFactory(timeout_seconds=60)
    running = TaskExecutionFactory(
        task=task, status=ExecutionStatus.RUNNING, started_at=timezone.now() - timedelta(minutes=5)
    )

    policy.handle_overdue(task, running)

    assert [(r.channel, r.kind) for r in posts()] == [(channel, Kind.TASK_OVERDUE)]


def test_a_channel_past_the_hourly_limit_is_suppressed(settings):
    settings.NOTIFY_MAX_PER_HOUR = 2
    channel = ChannelFactory()
    DeliveryFactory.create_batch(2, channel=channel, recipient=channel.name)
    task = TaskFactory()

    [row] = policy.handle_finished(task, failed(task))

    assert row.status == DeliveryStatus.SUPPRESSED
    assert "NOTIFY_MAX_PER_HOUR" in row.error


def test_a_post_left_pending_by_a_dead_process_expires_and_the_next_failure_alerts():
    channel = ChannelFactory()
    task = TaskFactory()
    with time_machine.travel(timezone.now(), tick=False) as clock:
        policy.handle_finished(task, failed(task))  # claimed; its process then died
        clock.shift(timedelta(minutes=10))
        assert policy.handle_finished(task, failed(task)) == []  # maybe still posting
        clock.shift(channel_posts.STALE_AFTER)
        [again] = policy.handle_finished(task, failed(task))

    stale = posts(channel=channel)[0]
    assert (stale.status, stale.error) == (DeliveryStatus.FAILED, channel_posts.INTERRUPTED)
    assert again.status == DeliveryStatus.PENDING
    assert again.subject.startswith("[Failing]")  # an alert, not a reminder


def test_the_weekly_report_is_claimed_only_for_its_subscribers():
    wants = ChannelFactory(events=["weekly_report"])
    wants.tasks.set([TaskFactory()])  # a task filter does not apply to the report
    ChannelFactory(events=["failure"])

    rows = deliver_weekly_report(to_channels=True)

    assert [(r.channel, r.kind, r.task) for r in rows] == [(wants, Kind.WEEKLY_REPORT, None)]
    assert Channel.objects.for_kind(Kind.WEEKLY_REPORT) == [wants]
