"""Real `celery -A chirpsyncer worker` processes with real `runscheduler` processes.

The broker is the Redis on 127.0.0.1:6379 (a database number picked from this
process's pid, flushed at the end), or WORKER_TEST_BROKER_URL, e.g.
amqp://guest:guest@127.0.0.1:5672// for RabbitMQ. Each test consumes a queue
of its own. The broker-down test runs a private `redis-server` it can stop.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from celery import Celery
from django.utils import timezone

from scheduling.engine import heartbeat
from scheduling.models import (
    ExecutionStatus,
    ExecutionTrigger,
    NodeRole,
    SchedulerNode,
    Task,
    TaskExecution,
)
from scheduling.scheduler import TaskScheduler
from scheduling.tests.processes import SchedulerProcess, WorkerProcess, wait_until

pytestmark = [pytest.mark.process, pytest.mark.django_db(transaction=True)]

LEASE_SECONDS = 10


def broker_url() -> str:
    return os.environ.get("WORKER_TEST_BROKER_URL") or (
        f"redis://127.0.0.1:6379/{1 + os.getpid() % 15}"
    )


def answers(url: str) -> bool:
    parts = urlsplit(url)
    default = 6379 if parts.scheme.startswith("redis") else 5672
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or default), 1):
            return True
    except OSError:
        return False


def clean_up(url: str, queues: list[str]) -> None:
    """Flush the Redis database the test used, or delete its RabbitMQ queues."""
    if url.startswith("redis"):
        import redis

        redis.Redis.from_url(url).flushdb()
        return
    from kombu import Connection

    with Connection(url, connect_timeout=3) as conn:
        for name in queues:
            try:
                conn.default_channel.queue_delete(name)
            except Exception:  # noqa: BLE001 - already gone
                pass


class Cluster:
    """Schedulers and workers on one broker and the test database; all killed at the end."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.queue = f"q{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.processes: list = []

    def scheduler(self, **env: str) -> SchedulerProcess:
        process = SchedulerProcess(
            env={"CELERY_BROKER_URL": self.url, "SCHEDULER_LEASE_SECONDS": str(LEASE_SECONDS)} | env
        )
        self.processes.append(process)
        return process

    def worker(self, concurrency: int = 1, **env: str) -> WorkerProcess:
        process = WorkerProcess(self.url, self.queue, concurrency=concurrency, env=env)
        self.processes.append(process)
        started = time.monotonic()
        wait_until(
            lambda: (
                process.output.count("heartbeating") >= concurrency
                or process.proc.poll() is not None
            ),
            60,
            "worker processes heartbeating",
        )
        assert process.proc.poll() is None, process.output
        process.wait_for_output("ready", timeout=max(1, 60 - (time.monotonic() - started)))
        return process

    def stop(self) -> None:
        for process in self.processes:
            process.kill()


@pytest.fixture
def cluster(settings):
    url = broker_url()
    if not answers(url):
        where = f"{urlsplit(url).hostname}:{urlsplit(url).port}"  # no password in the output
        pytest.skip(f"No broker answers at {where} (set WORKER_TEST_BROKER_URL)")
    settings.CELERY_BROKER_URL = url  # this process saves tasks with a queue too
    cluster = Cluster(url)
    yield cluster
    cluster.stop()
    clean_up(url, [cluster.queue])


def executions(name: str):
    return TaskExecution.objects.filter(task__name=name).order_by("id")


def worker_pids() -> set[int]:
    return set(SchedulerNode.objects.filter(role=NodeRole.WORKER).values_list("pid", flat=True))


def finished(execution_id: int, timeout: float = 30) -> TaskExecution:
    def done():
        execution = TaskExecution.objects.get(pk=execution_id)
        return execution if execution.is_finished else None

    return wait_until(done, timeout, f"execution #{execution_id} finished")


def test_two_schedulers_send_each_fire_once_and_a_worker_runs_it(cluster):
    TaskScheduler().add_interval_task("tick", "test_record", 1, queue=cluster.queue)
    schedulers = [cluster.scheduler(), cluster.scheduler()]
    cluster.worker(concurrency=2)
    wait_until(lambda: executions("tick").filter(status="success").count() >= 8, 60, "8 runs")
    leaders = [p for p in schedulers if "is now the leader" in p.output]
    assert len(leaders) == 1, "exactly one scheduler led"
    # The standby first: a leader stopping first hands over, and the catch-up
    # after a handover coalesces fires (by design), which would read as a gap.
    for process in sorted(schedulers, key=lambda p: p is leaders[0]):
        assert process.terminate() == 0
    wait_until(
        lambda: not executions("tick").filter(status__in=["queued", "running"]).exists(),
        30,
        "the last sent runs finished",
    )
    rows = list(executions("tick").values_list("scheduled_for", "status", "host", "pid"))
    times = [row[0] for row in rows]
    assert len(times) == len(set(times)), "a fire time ran twice"
    assert int((max(times) - min(times)).total_seconds()) + 1 == len(times), "a fire was lost"
    assert {row[1] for row in rows} == {ExecutionStatus.SUCCESS}
    # Run by worker processes, not by a scheduler.
    assert {row[2] for row in rows} == {socket.gethostname()}
    assert {row[3] for row in rows} <= worker_pids()
    assert not {row[3] for row in rows} & {p.proc.pid for p in schedulers}
    assert executions("tick").filter(sent_at__isnull=True).count() == 0


def test_manual_run_chain_and_run_log_work_from_a_worker(cluster):
    api = TaskScheduler()
    api.add_interval_task(
        "upstream",
        "test_log_lines",
        3600,
        queue=cluster.queue,
        kwargs={"count": 2, "seconds": 0.1, "tag": "from-worker"},
    )
    api.add_after_task("downstream", "test_noop", "upstream", queue=cluster.queue)
    cluster.scheduler()
    cluster.worker()
    run = finished(api.trigger_task_now("upstream").pk)
    assert run.status == ExecutionStatus.SUCCESS and run.pid in worker_pids()
    assert "from-worker 1 of 2" in run.log and "from-worker 2 of 2" in run.log
    child = wait_until(
        lambda: executions("downstream").filter(status="success").first(), 30, "chain run"
    )
    assert child.trigger == ExecutionTrigger.CHAIN and child.parent_id == run.pk
    task = Task.objects.get(name="upstream")
    assert (task.run_count, task.success_count, task.last_status) == (1, 1, "success")


def test_a_duplicate_message_runs_nothing(cluster):
    """Re-sent while no worker listened, then a copy sent by hand: one run, the rest refused."""
    TaskScheduler().add_interval_task("once", "test_record", 3600, queue=cluster.queue)
    scheduler = cluster.scheduler(WORKER_RESEND_SECONDS="1")
    queued = TaskScheduler().trigger_task_now("once")
    scheduler.wait_for_output("again (not claimed since it was sent)", timeout=30)
    worker = cluster.worker()
    assert finished(queued.pk).status == ExecutionStatus.SUCCESS
    worker.wait_for_output(f"Execution #{queued.pk} not run: already claimed", timeout=30)
    after = len(worker.lines)
    Celery(broker=cluster.url).send_task(
        "scheduling.run_execution", args=[queued.pk], queue=cluster.queue
    )
    worker.wait_for_output(f"Execution #{queued.pk} not run: already claimed", 30, after)
    assert executions("once").count() == 1
    assert Task.objects.get(name="once").run_count == 1


def test_a_worker_killed_mid_run_is_abandoned_within_the_lease_and_retried(cluster):
    TaskScheduler().add_interval_task(
        "victim",
        "test_sleep",
        3600,
        queue=cluster.queue,
        kwargs={"seconds": 4},
        max_retries=1,
        retry_backoff_seconds=1,
    )
    cluster.scheduler()
    first = cluster.worker()
    queued = TaskScheduler().trigger_task_now("victim")
    wait_until(
        lambda: TaskExecution.objects.filter(pk=queued.pk, status="running").exists(),
        30,
        "the run started",
    )
    first.kill_all()
    killed_at = time.monotonic()
    abandoned = finished(queued.pk, timeout=LEASE_SECONDS)
    took = time.monotonic() - killed_at
    assert abandoned.status == ExecutionStatus.ABANDONED, abandoned.error
    assert took < LEASE_SECONDS
    cluster.worker()
    retry = wait_until(
        lambda: executions("victim").filter(trigger="retry", status="success").first(),
        60,
        "the retry ran on the new worker",
    )
    assert retry.attempt == 2
    task = Task.objects.get(name="victim")
    assert (task.run_count, task.failure_count, task.success_count) == (2, 1, 1)


@pytest.mark.parametrize(
    ("func", "ending"),
    [
        ("test_sleep", "stopped at the task's time limit"),
        ("test_ignore_soft_limit", "killed at the hard limit (3 s)"),
    ],
)
def test_a_run_past_its_time_limit_fails_and_the_worker_takes_the_next(cluster, func, ending):
    api = TaskScheduler()
    api.add_interval_task(
        "slow", func, 3600, queue=cluster.queue, kwargs={"seconds": 60}, timeout_seconds=2
    )
    api.add_interval_task("next", "test_noop", 3600, queue=cluster.queue)
    cluster.scheduler(WORKER_HARD_LIMIT_MARGIN_SECONDS="1")
    cluster.worker(concurrency=1)
    slow = finished(api.trigger_task_now("slow").pk, timeout=30)
    assert slow.status == ExecutionStatus.FAILED
    assert slow.error.startswith("timed out after 2 s") and ending in slow.error
    assert finished(api.trigger_task_now("next").pk).status == ExecutionStatus.SUCCESS
    assert Task.objects.get(name="slow").failure_count == 1


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PrivateRedis:
    """A redis-server of this test's own, to stop and start again."""

    def __init__(self) -> None:
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(lambda: answers(f"redis://127.0.0.1:{self.port}"), 10, "redis-server up")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server")
def test_runs_wait_while_the_broker_is_down_and_are_sent_once_when_it_is_back(settings):
    redis = PrivateRedis()
    redis.start()
    cluster = Cluster(f"redis://127.0.0.1:{redis.port}/0")
    settings.CELERY_BROKER_URL = cluster.url
    try:
        # Runs held back by the outage are sent together: they may overlap, by design.
        TaskScheduler().add_interval_task(
            "steady", "test_record", 1, queue=cluster.queue, allow_overlap=True
        )
        TaskScheduler().add_interval_task("local", "test_record", 1)
        scheduler = cluster.scheduler(WORKER_RESEND_SECONDS="3")
        cluster.worker(concurrency=2)
        wait_until(lambda: executions("steady").filter(status="success").count() >= 2, 60, "runs")
        redis.stop()
        scheduler.wait_for_output("Broker unreachable", timeout=20)
        assert wait_until(lambda: heartbeat.current_state()["broker"] == "unreachable", 10, "ui")
        down_at = timezone.now()
        local_before = executions("local").filter(status="success").count()
        wait_until(
            lambda: executions("steady").filter(status="queued", sent_at__isnull=True).count() >= 3,
            30,
            "runs waiting while the broker is down",
        )
        # Tasks without a queue keep running in the scheduler meanwhile.
        assert executions("local").filter(status="success").count() > local_before
        assert scheduler.output.count("Broker unreachable") == 1, "logged once"
        redis.start()
        back_at = timezone.now()
        wait_until(lambda: heartbeat.current_state()["broker"] == "ok", 30, "broker ok again")
        waiting = executions("steady").filter(scheduled_for__lte=back_at)
        wait_until(
            lambda: not waiting.filter(status__in=["queued", "running"]).exists(),
            60,
            "every run due during the outage ran",
        )
        rows = list(executions("steady").values_list("scheduled_for", "status", "error"))
        times = [row[0] for row in rows]
        assert len(times) == len(set(times)), "a fire time ran twice"
        outage = [row[1:] for row in rows if down_at - timedelta(seconds=1) <= row[0] <= back_at]
        assert outage and {s for s, _ in outage} == {ExecutionStatus.SUCCESS}, outage
        assert not executions("steady").filter(status="skipped").exists()
    finally:
        cluster.stop()
        redis.stop()
