"""Queued tasks without real workers: validation, claiming, sending, the worker's claim, crashes.

`test_workers_process.py` runs the same paths with real Celery workers; these
pin each rule on its own, with fake publishing and an injected clock.
"""

from __future__ import annotations

import logging
import os
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.utils import timezone

from scheduling import registry
from scheduling.engine import claims, heartbeat, recovery, runner, sending, worker
from scheduling.models import (
    ExecutionStatus,
    ExecutionTrigger,
    NodeRole,
    SchedulerNode,
    Task,
    TaskExecution,
)
from scheduling.scheduler import TaskScheduler
from scheduling.tests.factories import TaskExecutionFactory, TaskFactory

pytestmark = pytest.mark.django_db

BROKER = "redis://127.0.0.1:6379/15"


@pytest.fixture
def broker(settings):
    settings.CELERY_BROKER_URL = BROKER
    return BROKER


def queued_run(task: Task, **fields) -> TaskExecution:
    return TaskExecution.objects.create(
        task=task, trigger=ExecutionTrigger.MANUAL, status=ExecutionStatus.QUEUED, **fields
    )


# --- a queue needs a broker ---------------------------------------------------------
def test_it_refuses_a_queue_without_a_broker(settings):
    settings.CELERY_BROKER_URL = ""
    with pytest.raises(ValidationError, match="CELERY_BROKER_URL is not set") as caught:
        TaskScheduler().add_interval_task("heavy", "test_noop", 60, queue="heavy")
    assert "queue" in caught.value.message_dict
    assert not Task.objects.filter(name="heavy").exists()
    task = TaskFactory.build(name="heavy2", queue="heavy")
    with pytest.raises(ValidationError, match="needs a Celery broker"):
        task.full_clean()


def test_it_accepts_a_queue_with_a_broker(broker):
    task = TaskScheduler().add_interval_task("heavy", "test_noop", 60, queue="heavy")
    assert Task.objects.get(pk=task.pk).queue == "heavy"


def test_the_create_page_refuses_a_queue_without_a_broker(settings, admin_client_):
    settings.CELERY_BROKER_URL = ""
    response = admin_client_.post(
        "/tasks/new/",
        {
            "name": "heavy",
            "func": "test_noop",
            "trigger_type": "interval",
            "interval_seconds": "60",
            "timezone": "UTC",
            "kwargs": "{}",
            "queue": "heavy",
            "misfire_grace_seconds": "300",
            "max_retries": "0",
            "retry_backoff_seconds": "30",
            "retry_backoff_max_seconds": "3600",
            "enabled": "on",
        },
    )
    assert response.status_code == 400  # the form again, with its errors
    assert "needs a Celery broker" in response.content.decode()
    assert not Task.objects.filter(name="heavy").exists()


def test_the_schedule_form_keeps_the_queue_when_a_post_leaves_it_out(broker, staff_client):
    task = TaskFactory(name="heavy", queue="heavy", trigger_type="interval", interval_seconds=60)
    response = staff_client.post(
        f"/tasks/{task.name}/configure/",
        {"trigger_type": "interval", "interval_seconds": "120", "timezone": "UTC", "kwargs": "{}"},
    )
    assert response.status_code in (200, 302)
    task.refresh_from_db()
    assert (task.interval_seconds, task.queue) == (120, "heavy")


def test_the_decorator_refuses_a_bad_queue_name():
    with pytest.raises(ValueError, match="queue 'no spaces'"):
        registry.scheduled_task(name="bad_queue", schedule=None, queue="no spaces")(
            registry.import_task_modules
        )


def test_syncdefaulttasks_reports_a_queued_default_without_a_broker(settings, monkeypatch, capsys):
    settings.CELERY_BROKER_URL = ""
    entry = registry.RegisteredTask(
        name="queued_default", func=registry.autodiscover, schedule="@daily", queue="heavy"
    )
    monkeypatch.setitem(registry._registry, "queued_default", entry)
    call_command("syncdefaulttasks")
    assert "Task queued_default not created: queue: 'heavy' needs a Celery broker" in (
        capsys.readouterr().err
    )
    assert not Task.objects.filter(name="queued_default").exists()


def test_syncdefaulttasks_gives_a_default_task_its_registered_queue(broker, monkeypatch):
    entry = registry.RegisteredTask(
        name="queued_default", func=registry.autodiscover, schedule="@daily", queue="heavy"
    )
    monkeypatch.setitem(registry._registry, "queued_default", entry)
    call_command("syncdefaulttasks")
    assert Task.objects.get(name="queued_default").queue == "heavy"


# --- claiming: queued, never run in the scheduler ----------------------------------------
def test_a_fire_of_a_queue_task_is_claimed_queued_and_not_run(broker):
    task = TaskFactory(func="test_record", queue="heavy")
    when = timezone.now().replace(microsecond=0)
    execution = runner.run_fire(task.pk, when)
    assert execution.status == ExecutionStatus.QUEUED
    assert (execution.started_at, execution.host, execution.pid) == (None, "", None)
    assert runner.run_fire(task.pk, when) is None, "the same fire is claimed once"
    assert Task.objects.get(pk=task.pk).run_count == 0


def test_a_catch_up_of_a_queue_task_is_queued_for_a_worker(broker):
    task = TaskFactory(queue="heavy")
    when = timezone.now().replace(microsecond=0)
    execution = runner.run_fire(task.pk, when, ExecutionTrigger.CATCHUP)
    assert (execution.status, execution.trigger) == (ExecutionStatus.QUEUED, "catchup")


def test_batched_claims_queue_queue_tasks_and_return_only_local_ones(broker):
    local, remote = TaskFactory(), TaskFactory(queue="heavy")
    when = timezone.now().replace(microsecond=0)
    claimed = claims.claim_fires([(local.pk, when), (remote.pk, when)])
    assert [c.task.pk for c in claimed] == [local.pk]
    row = TaskExecution.objects.get(task=remote)
    assert (row.status, row.scheduled_for) == (ExecutionStatus.QUEUED, when)
    assert claims.claim_fires([(remote.pk, when)]) == []
    assert TaskExecution.objects.filter(task=remote).count() == 1


def test_the_engine_leaves_queued_runs_of_queue_tasks_to_the_sender(broker, engine):
    queued_run(TaskFactory(queue="heavy"))
    local = queued_run(TaskFactory())
    assert engine.dispatch_queued() == 1
    assert engine.submitted_queued == {local.pk}


# --- sending --------------------------------------------------------------------------
class FakeBroker:
    def __init__(self) -> None:
        self.sent: list[tuple[int, str, dict]] = []
        self.down = False

    def __call__(self, execution_id: int, queue: str, limits: dict) -> None:
        if self.down:
            raise ConnectionError("Connection refused")
        self.sent.append((execution_id, queue, limits))


class Clock:
    def __init__(self) -> None:
        self.now = timezone.now()
        self.mono = 1000.0

    def __call__(self):
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
        self.mono += seconds


@pytest.fixture
def fake():
    node = heartbeat.register("sched-1")
    clock, broker = Clock(), FakeBroker()
    sender = sending.Sender(node.node_id, publish=broker, clock=clock, monotonic=lambda: clock.mono)
    return sender, broker, clock


def test_sending_stamps_sent_at_and_never_sends_twice(broker, fake):
    sender, sent, clock = fake
    execution = queued_run(TaskFactory(queue="heavy", timeout_seconds=10))
    assert sender.send_due() == 1
    assert sent.sent == [(execution.pk, "heavy", {"soft_time_limit": 10, "time_limit": 15})]
    assert TaskExecution.objects.get(pk=execution.pk).sent_at == clock.now
    clock.advance(1)
    assert sender.send_due() == 0
    assert len(sent.sent) == 1


def test_a_run_no_worker_claimed_is_sent_again_after_the_resend_delay(broker, fake, settings):
    settings.WORKER_RESEND_SECONDS = 30
    sender, sent, clock = fake
    queued_run(TaskFactory(queue="heavy", misfire_grace_seconds=300))
    sender.send_due()
    clock.advance(29)
    assert sender.send_due() == 0
    clock.advance(2)
    assert sender.send_due() == 1
    assert len(sent.sent) == 2


def test_a_run_never_started_past_its_misfire_grace_is_skipped_with_the_reason(broker, fake):
    sender, sent, clock = fake
    execution = queued_run(TaskFactory(queue="heavy", misfire_grace_seconds=60))
    clock.advance(61)
    assert sender.send_due() == 0
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.SKIPPED
    assert "beyond the 60 s misfire grace" in execution.error
    assert "could not be sent" in execution.error


def test_a_retry_is_sent_when_it_falls_due(broker, fake):
    sender, sent, clock = fake
    queued_run(TaskFactory(queue="heavy"), scheduled_for=clock.now + timedelta(seconds=5))
    assert sender.send_due() == 0
    clock.advance(5)
    assert sender.send_due() == 1


def test_broker_down_keeps_runs_queued_backs_off_logs_once_and_recovers(broker, fake, caplog):
    sender, sent, clock = fake
    first = queued_run(TaskFactory(queue="heavy"))
    sent.down = True
    with caplog.at_level(logging.ERROR, logger="scheduling.engine"):
        assert sender.send_due() == 0
        assert sender.send_due() == 0, "backing off: not even tried"
        clock.advance(1)
        sender.send_due()  # tried again, failed again: 2 s now
    assert caplog.text.count("Broker unreachable") == 1
    assert sender.backoff == 2
    assert TaskExecution.objects.get(pk=first.pk).sent_at is None
    assert SchedulerNode.objects.get(node_id="sched-1").broker_error
    for _ in range(6):
        clock.advance(sender.backoff)
        sender.send_due()
    assert sender.backoff == sending.MAX_BACKOFF_SECONDS
    sent.down = False
    clock.advance(sending.MAX_BACKOFF_SECONDS)
    assert sender.send_due() == 1
    assert SchedulerNode.objects.get(node_id="sched-1").broker_error == ""
    assert sender.backoff == sending.MIN_BACKOFF_SECONDS


def test_without_a_broker_a_stored_queue_skips_its_runs_with_the_reason(settings, fake):
    settings.CELERY_BROKER_URL = ""
    sender, sent, clock = fake
    task = TaskFactory(queue="heavy")  # stored before the broker was removed
    execution = queued_run(task)
    sender.send_due()
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.SKIPPED
    assert "CELERY_BROKER_URL is not set" in execution.error
    assert sent.sent == []


# --- the worker's claim ----------------------------------------------------------------
def test_a_worker_claims_once_and_a_second_claim_runs_nothing(broker, caplog):
    task = TaskFactory(func="test_record", queue="heavy")
    execution = queued_run(task)
    assert worker.run_execution(execution.pk) == ExecutionStatus.SUCCESS
    with caplog.at_level(logging.INFO, logger="scheduling.worker"):
        assert worker.run_execution(execution.pk) == "not run"
    assert f"Execution #{execution.pk} not run: already claimed" in caplog.text
    execution.refresh_from_db()
    assert (execution.host, execution.pid) == (runner.HOST, os.getpid())
    assert Task.objects.get(pk=task.pk).run_count == 1
    assert TaskExecution.objects.filter(task=task).count() == 1


def test_a_run_stopped_at_its_soft_limit_fails_as_timed_out(broker):
    task = TaskFactory(func="test_hits_soft_limit", queue="heavy", timeout_seconds=7)
    execution = queued_run(task)
    assert worker.run_execution(execution.pk) == ExecutionStatus.FAILED
    execution.refresh_from_db()
    assert execution.error.startswith("timed out after 7 s: stopped at the task's time limit")


def test_a_run_killed_at_its_hard_limit_is_recorded_as_timed_out_once(broker, finished):
    task = TaskFactory(queue="heavy", timeout_seconds=7, max_retries=1)
    execution = TaskExecutionFactory(
        task=task, status=ExecutionStatus.RUNNING, finished_at=None, duration_ms=None
    )
    worker.record_hard_timeout(execution.pk, 12)
    worker.record_hard_timeout(execution.pk, 12)
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.FAILED
    assert execution.error.startswith("timed out after 7 s") and "(12 s)" in execution.error
    task.refresh_from_db()
    assert (task.run_count, task.failure_count) == (1, 1)
    assert TaskExecution.objects.filter(task=task, trigger="retry").count() == 1
    assert finished == [(task.name, ExecutionStatus.FAILED, False)]


# --- crashed workers ---------------------------------------------------------------------
def worker_node(host: str, pid: int, beat_at, queues: str = "") -> SchedulerNode:
    return SchedulerNode.objects.create(
        node_id=f"{host}:{pid}:x",
        host=host,
        pid=pid,
        role=NodeRole.WORKER,
        queues=queues,
        last_beat_at=beat_at,
    )


def running_on(task: Task, host: str, pid: int) -> TaskExecution:
    return TaskExecutionFactory(
        task=task,
        status=ExecutionStatus.RUNNING,
        finished_at=None,
        duration_ms=None,
        host=host,
        pid=pid,
    )


def test_a_run_whose_worker_stopped_beating_is_abandoned_and_retried(broker, finished):
    now = timezone.now()
    task = TaskFactory(queue="heavy", max_retries=1)
    worker_node("worker-host", 41, beat_at=now)
    execution = running_on(task, "worker-host", 41)
    assert recovery.abandon_orphans(now + timedelta(seconds=1), only_queue_tasks=True) == []
    later = now + heartbeat.stale_after() + timedelta(seconds=1)
    assert [e.pk for e in recovery.abandon_orphans(later, only_queue_tasks=True)] == [execution.pk]
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.ABANDONED
    assert "worker-host:41" in execution.error
    task.refresh_from_db()
    assert (task.failure_count, task.last_status) == (1, ExecutionStatus.ABANDONED)
    retry = TaskExecution.objects.get(task=task, trigger="retry")
    assert (retry.status, retry.attempt) == (ExecutionStatus.QUEUED, 2)
    assert finished == [(task.name, ExecutionStatus.ABANDONED, False)]


def test_the_frequent_worker_check_leaves_local_runs_alone(broker):
    now = timezone.now()
    local = running_on(TaskFactory(), "other-host", 42)
    later = now + heartbeat.stale_after() + timedelta(seconds=1)
    assert recovery.abandon_orphans(later, only_queue_tasks=True) == []
    assert TaskExecution.objects.get(pk=local.pk).status == ExecutionStatus.RUNNING


# --- status: banner, healthz, metrics, listtasks --------------------------------------
def test_status_counts_workers_and_says_when_the_broker_is_unreachable(broker, client):
    leader = heartbeat.register("sched-1")
    heartbeat.beat("sched-1", is_leader=True)
    worker_node("w1", 1, timezone.now(), queues="heavy,light")
    worker_node("w2", 2, timezone.now() - timedelta(hours=1))  # stale: not counted
    state = heartbeat.current_state()
    assert (state["state"], state["workers"], state["broker"]) == ("running", 1, "ok")
    assert state["worker_queues"] == ["heavy", "light"]
    heartbeat.set_broker_error(leader.node_id, "OperationalError: Connection refused")
    body = client.get("/healthz/").json()
    assert (body["status"], body["workers"], body["broker"]) == ("ok", 1, "unreachable")


def test_without_a_broker_status_says_off_and_healthz_is_as_before(settings, client):
    settings.CELERY_BROKER_URL = ""
    heartbeat.register("sched-1")
    assert heartbeat.current_state()["broker"] == "off"
    assert "workers" not in client.get("/healthz/").json()


def test_an_idle_sender_checks_the_broker_and_reports_an_outage_and_its_end(broker, fake):
    sender, sent, clock = fake
    answers = {"up": True}

    def probe():
        if not answers["up"]:
            raise ConnectionError("Connection refused")

    sender.probe = probe
    assert sender.check_broker() is None, "not due yet"
    clock.advance(sending.PROBE_SECONDS)
    assert sender.check_broker() is True
    answers["up"] = False
    clock.advance(sending.PROBE_SECONDS)
    assert sender.check_broker() is False
    assert heartbeat.current_state()["broker_error"] is None  # sched-1 does not lead here
    assert SchedulerNode.objects.get(node_id="sched-1").broker_error
    answers["up"] = True
    clock.advance(sending.PROBE_SECONDS)
    assert sender.check_broker() is True
    assert SchedulerNode.objects.get(node_id="sched-1").broker_error == ""


def test_metrics_and_listtasks_show_workers_and_the_broker(broker, client, settings, capsys):
    settings.METRICS_TOKEN = "t0ken"
    heartbeat.register("sched-1")
    heartbeat.beat("sched-1", is_leader=True)
    worker_node("w1", 1, timezone.now(), queues="heavy")
    worker_node("w1", 2, timezone.now(), queues="heavy")
    text = client.get("/metrics", headers={"Authorization": "Bearer t0ken"}).content.decode()
    assert "chirpsyncer_workers 2.0" in text
    assert "chirpsyncer_broker_up 1.0" in text
    call_command("listtasks")
    assert "Workers: 2 processes (queues: heavy); broker: ok" in capsys.readouterr().out


def test_the_banner_says_when_the_broker_is_unreachable(broker, staff_client):
    leader = heartbeat.register("sched-1")
    heartbeat.beat("sched-1", is_leader=True)
    heartbeat.set_broker_error(leader.node_id, "OperationalError: Connection refused")
    page = staff_client.get("/tasks/").content.decode()
    assert "Broker unreachable:" in page and "Connection refused" in page


def test_workers_silent_for_a_day_are_forgotten():
    now = timezone.now()
    worker_node("w1", 1, now - heartbeat.WORKER_NODE_RETENTION - timedelta(seconds=1))
    kept = worker_node("w1", 2, now - timedelta(hours=23))
    old_scheduler = heartbeat.register("sched-old")
    SchedulerNode.objects.filter(pk=old_scheduler.pk).update(last_beat_at=now - timedelta(days=9))
    assert heartbeat.prune_workers(now) == 1
    assert set(SchedulerNode.objects.values_list("pk", flat=True)) == {kept.pk, old_scheduler.pk}


def test_a_resend_delay_past_the_misfire_grace_is_a_warning(settings):
    from scheduling.checks import check_scheduler_settings

    settings.CELERY_BROKER_URL = BROKER
    settings.WORKER_RESEND_SECONDS = settings.SCHEDULER_MISFIRE_GRACE_SECONDS
    assert [m.id for m in check_scheduler_settings()] == ["scheduling.W001"]
    settings.WORKER_RESEND_SECONDS = 60
    assert check_scheduler_settings() == []


def test_a_broker_url_of_another_kind_is_refused_without_showing_it(monkeypatch):
    from django.core.exceptions import ImproperlyConfigured

    from chirpsyncer.env import env_broker_url

    monkeypatch.setenv("CELERY_BROKER_URL", "http://user:s3cret@example.com/")
    with pytest.raises(ImproperlyConfigured, match="CELERY_BROKER_URL=<hidden> is invalid") as e:
        env_broker_url("CELERY_BROKER_URL")
    assert "s3cret" not in str(e.value)
    monkeypatch.setenv("CELERY_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672//")
    assert env_broker_url("CELERY_BROKER_URL").startswith("amqp://")
    monkeypatch.delenv("CELERY_BROKER_URL")
    assert env_broker_url("CELERY_BROKER_URL") == ""
