"""Module-level functions that tests schedule (tasks must be importable by path)."""

import threading
from decimal import Decimal

calls: list[dict] = []
release = threading.Event()


def record(**kwargs):
    calls.append(kwargs)
    return {"received": kwargs}


def returns_object():
    return {"when": Decimal("1.5"), "obj": object()}


def returns_huge():
    return {"blob": "x" * 200_000}


def fails_hugely():
    raise ValueError("y" * 200_000)


def wait_for_release(seconds: float = 5.0):
    release.wait(seconds)
    return {"released": release.is_set()}


def sleep(seconds: float = 1.0):
    import time

    time.sleep(seconds)
    return {"slept": seconds}
