"""Chains across two real `runscheduler` processes: each upstream run starts each
downstream task exactly once, through a leader handover, and each run logs only its own lines."""

import pytest

from scheduling.models import ExecutionStatus, TaskExecution
from scheduling.scheduler import TaskScheduler
from scheduling.tests.processes import SchedulerProcess, wait_until

pytestmark = [pytest.mark.process, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def schedulers():
    processes = [SchedulerProcess(), SchedulerProcess()]
    yield processes
    for process in processes:
        process.kill()


def upstream_runs():
    return TaskExecution.objects.filter(task__name="tick", status=ExecutionStatus.SUCCESS)


def test_every_upstream_run_starts_each_downstream_task_exactly_once(schedulers):
    s = TaskScheduler()
    s.add_interval_task("tick", "test_noop", 1)
    # Overlap allowed: on a loaded machine two ticks' chain runs can be
    # dispatched together, and the overlap rule would rightly skip the second.
    s.add_after_task("report", "test_log_lines", after="tick", allow_overlap=True,
                     kwargs={"count": 2, "seconds": 0, "tag": "report"})  # fmt: skip
    s.add_after_task("audit", "test_log_lines", after="tick", on="any", allow_overlap=True,
                     kwargs={"count": 2, "seconds": 0, "tag": "audit"})  # fmt: skip
    s.add_after_task("on-failure", "test_noop", after="tick", on="failure")
    leader = wait_until(
        lambda: next((p for p in schedulers if "is now the leader" in p.output), None),
        30,
        "one scheduler to lead",
    )
    standby = next(p for p in schedulers if p is not leader)
    wait_until(lambda: upstream_runs().count() >= 8, 60, "eight upstream runs")

    # The leader hands over (SIGTERM releases the lease); the standby goes on.
    assert leader.terminate() == 0
    standby.wait_for_output("is now the leader", 15)
    wait_until(lambda: upstream_runs().filter(pid=standby.proc.pid).count() >= 8, 60,
               "eight upstream runs on the new leader")  # fmt: skip
    s.pause_task("tick")
    unfinished = TaskExecution.objects.filter(status__in=["queued", "running"])
    wait_until(lambda: not unfinished.exists(), 30, "every chain run to finish")
    assert standby.terminate() == 0

    upstream = list(upstream_runs())
    assert len(upstream) >= 16
    assert {run.pid for run in upstream} == {leader.proc.pid, standby.proc.pid}
    for run in upstream:
        children = list(run.children.values_list("task__name", "trigger", "status"))
        assert sorted(children) == [("audit", "chain", "success"), ("report", "chain", "success")]
    assert not TaskExecution.objects.filter(task__name="on-failure").exists()
    for name, other in (("report", "audit"), ("audit", "report")):
        for log in TaskExecution.objects.filter(task__name=name).values_list("log", flat=True):
            assert log.count(f"{name} ") == 2 and f"{other} " not in log, log
