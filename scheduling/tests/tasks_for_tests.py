"""Module-level functions that tests schedule, registered without a default task.

Test processes load this module through SCHEDULER_TASK_MODULES (see
`processes.SchedulerProcess`), as a deployment loads its own task modules;
the test process itself imports it through `factories`. Tests refer to the
functions by registered name or by dotted path (both are looked up).
"""

import logging
import threading
import time
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
    time.sleep(seconds)
    return {"slept": seconds}


log = logging.getLogger("scheduling.tests.tasks")
logged = threading.Event()


@scheduled_task(name="test_log_lines", schedule=None, description="Logs a line per second.")
def log_lines(count: int = 5, seconds: float = 1.0, tag: str = "line"):
    for n in range(1, count + 1):
        log.info("%s %d of %d", tag, n, count)
        if n < count:
            time.sleep(seconds)
    return {"lines": count}


@scheduled_task(name="test_log_many", schedule=None, description="Logs many lines at once.")
def log_many(lines: int = 100, size: int = 80, tag: str = "x", level: str = "INFO"):
    filler = "." * max(0, size - len(tag) - 12)
    for n in range(lines):
        log.log(logging.getLevelName(level), "%s %08d %s", tag, n, filler)
    return {"lines": lines}


@scheduled_task(name="test_log_then_wait", schedule=None)
def log_then_wait(seconds: float = 10.0, tag: str = "waiting"):
    """Logs a line, then waits until the test releases it."""
    log.warning("%s: first line", tag)
    logged.set()
    release.wait(seconds)
    log.warning("%s: last line", tag)
    return {"released": release.is_set()}


@scheduled_task(name="test_ignore_soft_limit", schedule=None)
def ignore_soft_limit(seconds: float = 30.0):
    """Keeps sleeping through a Celery soft time limit: only the hard limit stops it."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            time.sleep(0.1)
        except Exception:  # noqa: BLE001 - SoftTimeLimitExceeded, on purpose
            pass
    return {"slept": seconds}


@scheduled_task(name="test_hits_soft_limit", schedule=None)
def hits_soft_limit():
    """Raises what a Celery worker raises inside a run at its soft time limit."""
    from celery.exceptions import SoftTimeLimitExceeded

    raise SoftTimeLimitExceeded()
