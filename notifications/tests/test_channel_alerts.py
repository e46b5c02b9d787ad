"""Channel alerts from real runs: the runner finishes, the policy claims, the
background sender posts to a real HTTP endpoint on 127.0.0.1.

These tests commit (transaction=True): the sender's threads use their own
database connections and only see committed rows, as in production.
"""

import os
import subprocess
import sys

import pytest
from django.conf import settings

from chirpsyncer.models import ErrorLog
from notifications.background import sender
from notifications.models import Delivery, DeliveryStatus, Kind
from notifications.tests.factories import ChannelFactory
from notifications.tests.smtp import free_port
from scheduling.engine import runner
from scheduling.models import ExecutionStatus
from scheduling.tests.factories import TaskFactory
from scheduling.tests.processes import database_url, wait_until

BOOM = "test_boom"
NOOP = "test_noop"

pytestmark = pytest.mark.django_db(transaction=True)


def finished_post(channel) -> Delivery:
    """The channel's delivery row once its post has ended (sent or failed)."""
    rows = Delivery.objects.filter(channel=channel).exclude(status=DeliveryStatus.PENDING)
    return wait_until(rows.first, 15, f"the post to {channel.name} to end")


def runtask(name: str, **env: str) -> subprocess.CompletedProcess:
    """`manage.py runtask NAME` in its own process, against the test database."""
    return subprocess.run(
        [sys.executable, "manage.py", "runtask", name],
        capture_output=True,
        text=True,
        cwd=settings.BASE_DIR,
        env={**os.environ, "DATABASE_URL": database_url(), **env},
        timeout=120,
    )


def test_a_failing_task_posts_one_alert_with_title_body_and_link(endpoint, staff):
    channel = ChannelFactory(name="ops-webhook", url=endpoint.url("json", "alerts"))
    task = TaskFactory(name="sync-feeds", func=BOOM)

    runner.run_now(task)
    row = finished_post(channel)
    runner.run_now(task)  # still failing: no news
    assert sender.flush(timeout=15)

    assert (row.status, row.kind, row.task, row.recipient) == (
        DeliveryStatus.SENT,
        Kind.TASK_FAILURE,
        task,
        "ops-webhook",
    )
    [request] = endpoint.requests
    error = "RuntimeError: boom: the task failed on purpose"
    assert request.json["title"] == f"[Failing] sync-feeds: {error}"
    assert request.json["type"] == "failure"
    message = request.json["message"]
    assert message.startswith(f"{error}\nRun #")
    assert message.endswith("https://scheduler.example.com/tasks/sync-feeds/")


def test_a_slow_endpoint_never_delays_the_run_and_its_post_times_out(endpoint, staff, settings):
    settings.NOTIFY_CHANNEL_TIMEOUT_SECONDS = 2
    channel = ChannelFactory(url=endpoint.url("json", "slow/alerts"))
    task = TaskFactory(func=BOOM)

    execution = runner.run_now(task)

    # The run and its task_finished receivers are done, yet the post is still
    # under way: it has neither timed out nor been answered.
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.FAILED and execution.finished_at is not None
    assert Delivery.objects.get(channel=channel).status == DeliveryStatus.PENDING
    assert endpoint.answered == []

    row = finished_post(channel)
    assert row.status == DeliveryStatus.FAILED
    assert row.error.startswith("Timed out after 2 s")
    assert endpoint.answered == []  # the endpoint was still holding the request


def test_a_refusing_endpoint_fails_the_post_not_the_run(staff, settings):
    settings.NOTIFY_ON_TASK_SUCCESS = True
    channel = ChannelFactory(url=f"json://127.0.0.1:{free_port()}/alerts", events=["success"])
    task = TaskFactory(func=NOOP, notify_on_success=True)

    execution = runner.run_now(task)
    row = finished_post(channel)

    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.SUCCESS
    assert (row.kind, row.status) == (Kind.TASK_COMPLETION, DeliveryStatus.FAILED)
    assert "Connection error" in row.error
    logged = ErrorLog.objects.get(source="notifications.channel")
    assert channel.name in logged.message and "Connection error" in logged.message


def test_a_recovery_is_posted_to_channels_that_want_it(endpoint, staff):
    ChannelFactory(name="failures-only", url=endpoint.url("json", "failures"), events=["failure"])
    both = ChannelFactory(name="both", url=endpoint.url("form", "both"))
    task = TaskFactory(name="sync-feeds", func=BOOM)
    runner.run_now(task)
    task.func = NOOP
    task.save(update_fields=["func"])

    runner.run_now(task)
    assert sender.flush(timeout=15)

    paths = sorted(r.path for r in endpoint.requests)
    assert paths == ["/both", "/both", "/failures"]
    recovered = Delivery.objects.get(channel=both, kind=Kind.TASK_RECOVERED)
    assert recovered.status == DeliveryStatus.SENT
    assert endpoint.requests[-1].form["title"] == "[Recovered] sync-feeds is working again"


def test_the_weekly_report_posts_a_summary_with_the_link(endpoint, staff):
    ChannelFactory(url=endpoint.url("json", "weekly"), events=["weekly_report"])
    ChannelFactory(url=endpoint.url("json", "alerts-only"), events=["failure"])
    runner.run_now(TaskFactory(name="sync-feeds", func=NOOP))
    report = TaskFactory(name="send_weekly_report", func="send_weekly_report")

    execution = runner.run_now(report)
    assert sender.flush(timeout=15)

    assert execution.result["channels"] == 1
    [request] = endpoint.requests
    assert request.path == "/weekly"
    assert request.json["title"].startswith("Weekly report")
    assert "1 run, 100% succeeded, 0 failures." in request.json["message"]
    assert request.json["message"].endswith("https://scheduler.example.com/tasks/")


@pytest.mark.process
def test_a_command_that_exits_finishes_its_posts_first(endpoint, staff):
    """`runtask` exits right after the run; the post it queued still goes out."""
    channel = ChannelFactory(url=endpoint.url("json", "alerts"))
    TaskFactory(name="sync-feeds", func=BOOM)

    done = runtask("sync-feeds")

    assert done.returncode == 1, done.stderr  # the task failed
    row = Delivery.objects.get(channel=channel)
    assert row.status == DeliveryStatus.SENT, (row.error, done.stderr)
    assert endpoint.requests[0].json["title"].startswith("[Failing] sync-feeds")


@pytest.mark.process
def test_a_command_does_not_wait_for_a_hung_endpoint_to_exit(endpoint, staff):
    """At exit a process waits for at most one post's timeout, not for the service."""
    channel = ChannelFactory(url=endpoint.url("json", "slow/alerts"))
    TaskFactory(name="sync-feeds", func=BOOM)

    done = runtask("sync-feeds", NOTIFY_CHANNEL_TIMEOUT_SECONDS="1")

    assert done.returncode == 1, done.stderr
    assert endpoint.arrived.is_set() and endpoint.answered == []  # exited while it hung
    row = Delivery.objects.get(channel=channel)
    assert (row.status, row.error[:20]) == (DeliveryStatus.FAILED, "Timed out after 1 s:")
