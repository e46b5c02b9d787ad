"""Module-level functions that tests schedule, registered without a default task.

Test processes load this module through SCHEDULER_TASK_MODULES (see
`processes.SchedulerProcess`), as a deployment loads its own task modules;
the test process itself imports it through `factories`. Tests refer to the
functions by registered name or by dotted path (both are looked up).
"""

import threading
from decimal import Decimal

from scheduling.registry import scheduled_task

calls: list[dict] = []
release = threading.Event()


@scheduled_task(name="test_noop", schedule=None, description="Returns what it was given.")
def noop(**kwargs):
    return {"ok": True, **kwargs}


@scheduled_task(name="test_boom", schedule=None, description="Always fails.")
def boom(**kwargs):
    raise RuntimeError("boom: the task failed on purpose")


@scheduled_task(name="test_record", schedule=None, description="Records its kwargs.")
def record(**kwargs):
    calls.append(kwargs)
    return {"received": kwargs}


@scheduled_task(name="test_returns_object", schedule=None)
def returns_object():
    """Returns a value that is not JSON."""
    return {"when": Decimal("1.5"), "obj": object()}


@scheduled_task(name="test_returns_huge", schedule=None)
def returns_huge():
    """Returns 200 KB."""
    return {"blob": "x" * 200_000}


@scheduled_task(name="test_fails_hugely", schedule=None)
def fails_hugely():
    """Fails with a 200 KB message."""
    raise ValueError("y" * 200_000)


@scheduled_task(name="test_returns", schedule=None, description="Returns its `value` argument.")
def returns(value=None):
    return value


@scheduled_task(name="test_wait_for_release", schedule=None)
def wait_for_release(seconds: float = 5.0):
    """Waits until the test releases it."""
    release.wait(seconds)
    return {"released": release.is_set()}


@scheduled_task(name="test_sleep", schedule=None)
def sleep(seconds: float = 1.0):
    """Sleeps."""
    import time

    time.sleep(seconds)
    return {"slept": seconds}
