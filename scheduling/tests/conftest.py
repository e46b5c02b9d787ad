"""Fixtures shared by the scheduling tests."""

import pytest

from scheduling import signals
from scheduling.engine.loop import Engine


@pytest.fixture
def finished():
    """Every task_finished signal sent during the test, as (task name, status, final)."""
    received = []

    def receiver(sender, task, execution, final, **kwargs):
        received.append((task.name, execution.status, final))

    signals.task_finished.connect(receiver)
    yield received
    signals.task_finished.disconnect(receiver)


@pytest.fixture
def engine():
    """An engine with APScheduler started but paused: tests drive sync and dispatch."""
    engine = Engine(sync_seconds=0.2, heartbeat_seconds=0.2, lease_seconds=5)
    engine.scheduler.start(paused=True)
    yield engine
    engine.shutdown(grace_seconds=5)
