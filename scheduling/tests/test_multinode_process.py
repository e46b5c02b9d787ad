"""Several real `runscheduler` processes on one database: one leads, nothing runs twice."""

import signal
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from scheduling.models import ExecutionStatus, SchedulerLease, Task, TaskExecution
from scheduling.scheduler import TaskScheduler
from scheduling.tests.processes import SchedulerProcess, wait_until

pytestmark = [pytest.mark.process, pytest.mark.django_db(transaction=True)]

LEASE_SECONDS = 3


@pytest.fixture
def start_scheduler():
    processes = []

    def start(**env):
        process = SchedulerProcess(env={"SCHEDULER_LEASE_SECONDS": str(LEASE_SECONDS), **env})
        processes.append(process)
        return process

    yield start
    for process in processes:
        process.kill()


def lease_holder_pid():
    lease = SchedulerLease.objects.filter(holder__gt="").first()
    return lease.pid if lease else None


@pytest.mark.parametrize("count", [2, 3])
def test_n_schedulers_run_every_fire_time_exactly_once(start_scheduler, count):
    TaskScheduler().add_interval_task("tick", "test_record", 1)
    processes = [start_scheduler() for _ in range(count)]
    wait_until(lambda: TaskExecution.objects.filter(task__name="tick").exists(), 30, "first run")
    first = TaskExecution.objects.filter(task__name="tick").order_by("scheduled_for").first()
    wait_until(
        lambda: TaskExecution.objects.filter(
            task__name="tick", scheduled_for__gte=first.scheduled_for + timedelta(seconds=30)
        ).exists(),
        60,
        "30 seconds of runs",
    )
    # Before stopping (a stop hands the lease on): exactly one process led.
    leaders = [p for p in processes if "is now the leader" in p.output]
    assert len(leaders) == 1, "exactly one process led"
    for process in sorted(processes, key=lambda p: p is leaders[0]):
        assert process.terminate() == 0
    fires = list(
        TaskExecution.objects.filter(task__name="tick")
        .order_by("scheduled_for")
        .values_list("scheduled_for", "status", "pid")
    )
    times = [f[0] for f in fires]
    assert len(times) == len(set(times)), "a fire time ran twice"
    # No gaps either: one execution per second from the first to the last.
    span = int((times[-1] - times[0]).total_seconds())
    assert len(times) == span + 1 >= 31
    assert {f[1] for f in fires} == {ExecutionStatus.SUCCESS}
    assert {f[2] for f in fires} == {leaders[0].proc.pid}


def slow_run_on_a_leader_with_a_standby(start_scheduler, **env):
    """(leader, standby, the leader's running execution of a 30 s task)."""
    TaskScheduler().add_interval_task(
        "slow", "scheduling.tests.tasks_for_tests.sleep", 2, kwargs={"seconds": 30}
    )
    first = start_scheduler(**env)
    first.wait_for_output("is now the leader")
    second = start_scheduler(SCHEDULER_SHUTDOWN_GRACE_SECONDS="1", **env)
    second.wait_for_output("started")
    running = wait_until(
        lambda: TaskExecution.objects.filter(task__name="slow", status="running").first(),
        20,
        "a run in progress on the leader",
    )
    assert running.pid == first.proc.pid
    return first, second, running


def test_kill_9_of_the_leader_hands_over_within_the_lease_and_abandons_its_run(start_scheduler):
    first, second, running = slow_run_on_a_leader_with_a_standby(start_scheduler)
    first.proc.send_signal(signal.SIGKILL)
    killed_at = time.monotonic()
    first.proc.wait(10)  # reap it, as systemd or kubelet would: a zombie still "exists"
    second.wait_for_output("is now the leader", timeout=LEASE_SECONDS + 10)
    takeover = time.monotonic() - killed_at
    assert takeover <= LEASE_SECONDS + 2, f"standby took {takeover:.1f} s"
    assert lease_holder_pid() == second.proc.pid
    wait_until(
        lambda: TaskExecution.objects.get(pk=running.pk).status == ExecutionStatus.ABANDONED,
        5,
        "the killed leader's run to be marked abandoned",
    )
    running.refresh_from_db()
    assert f":{first.proc.pid})" in running.error
    task = Task.objects.get(name="slow")
    assert task.failure_count >= 1 and task.last_status in {"abandoned", "running", "success", ""}
    # The new leader schedules the task again.
    wait_until(
        lambda: TaskExecution.objects.filter(task__name="slow", pid=second.proc.pid).exists(),
        15,
        "a run on the new leader",
    )
    # Its own 30 s run outlasts the 1 s shutdown grace: it still exits 0, says so.
    assert second.terminate() == 0
    assert "Scheduler stopped; runs left." in second.output


def test_a_killed_leaders_run_is_abandoned_at_takeover_whatever_the_heartbeat(start_scheduler):
    """Lease 3 s, heartbeat 2 s: at takeover the dead leader's heartbeat (stale after 3
    beats, 6 s) still looks fresh; the expired lease is the evidence that it is gone."""
    first, second, running = slow_run_on_a_leader_with_a_standby(
        start_scheduler, SCHEDULER_HEARTBEAT_SECONDS="2"
    )
    first.proc.send_signal(signal.SIGKILL)
    first.proc.wait(10)
    second.wait_for_output("is now the leader", timeout=LEASE_SECONDS + 10)
    took_over = time.monotonic()
    wait_until(
        lambda: TaskExecution.objects.get(pk=running.pk).status == ExecutionStatus.ABANDONED,
        3,  # the orphan scan would come 30 s later
        f"the killed leader's run to be abandoned at takeover; output:\n{second.output}",
    )
    assert time.monotonic() - took_over < 3
    assert f"Took the lease from {first.proc.pid}" not in second.output  # named by node id
    assert "which stopped renewing it" in second.output
    running.refresh_from_db()
    assert f":{first.proc.pid})" in running.error
    assert second.terminate() == 0


def test_a_stopped_scheduler_catches_up_once_on_restart(start_scheduler):
    TaskScheduler().add_interval_task(
        "periodic", "scheduling.tests.tasks_for_tests.record", 2, misfire_grace_seconds=120
    )
    process = start_scheduler()
    wait_until(
        lambda: TaskExecution.objects.filter(
            task__name="periodic", trigger="schedule", status="success"
        ).exists(),
        20,
        "a scheduled run",
    )
    assert process.terminate() == 0
    stopped_at = timezone.now()
    # Let at least two fire times pass with no scheduler running.
    wait_until(
        lambda: (
            timezone.now() > Task.objects.get(name="periodic").next_run_at + timedelta(seconds=2.5)
        ),
        10,
        "two missed fire times",
    )
    restarted = start_scheduler()
    restarted.wait_for_output("Catch-up run of periodic")
    catchups = TaskExecution.objects.filter(
        task__name="periodic", trigger="catchup", pid=restarted.proc.pid
    )
    wait_until(lambda: catchups.filter(status="success").exists(), 10, "the catch-up run")
    assert catchups.count() == 1
    last_before_stop = (
        TaskExecution.objects.filter(
            task__name="periodic", trigger="schedule", started_at__lt=stopped_at
        )
        .order_by("-scheduled_for")
        .first()
    )
    # The latest missed fire time, not a repeat of one that ran.
    assert catchups.get().scheduled_for > last_before_stop.scheduled_for
    assert restarted.output.count("Catch-up run of periodic") == 1
    assert not TaskExecution.objects.filter(status="skipped").exists()  # all within grace
    assert restarted.terminate() == 0


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="pg_terminate_backend is PostgreSQL's"
)
def test_scheduler_survives_its_database_connections_being_terminated(start_scheduler):
    TaskScheduler().add_interval_task(
        "steady", "scheduling.tests.tasks_for_tests.sleep", 1, kwargs={"seconds": 1.5},
        allow_overlap=False,
    )  # fmt: skip
    process = start_scheduler()
    wait_until(
        lambda: TaskExecution.objects.filter(task__name="steady", status="running").exists(),
        20,
        "a run in progress",
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        (terminated,) = cursor.fetchone()
    assert terminated >= 1
    mark = len(process.lines)
    wait_until(
        lambda: TaskExecution.objects.filter(
            task__name="steady",
            status="success",
            started_at__gt=timezone.now() - timedelta(seconds=2),
        ).exists(),
        30,
        "successful runs after the outage",
    )
    assert process.terminate() == 0
    assert not TaskExecution.objects.filter(status__in=["running", "queued"]).exists()
    fires = list(
        TaskExecution.objects.filter(task__name="steady", trigger="schedule").values_list(
            "scheduled_for", flat=True
        )
    )
    assert len(fires) == len(set(fires))
    task = Task.objects.get(name="steady")
    finished = TaskExecution.objects.filter(task=task, status__in=["success", "failed"]).count()
    assert task.run_count == finished, "every run counted exactly once"
    assert mark <= len(process.lines)
