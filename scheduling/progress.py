"""Progress of a long task run, shown where someone is watching.

Task code calls `advance(n, what)` as it goes. Under the scheduler nobody is
watching, so nothing is shown (the tasks log their own counts every few
seconds); `manage.py runtask` in a terminal shows a tqdm bar per `what` for
its run, with log lines printed above the bars instead of through them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import TextIO

from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

_reporter: ContextVar[Callable[[int, str], None] | None] = ContextVar("progress", default=None)


def advance(count: int, what: str) -> None:
    """Count `count` more units of `what` (e.g. "expired sessions deleted") as done."""
    reporter = _reporter.get()
    if reporter is not None:
        reporter(count, what)


@contextlib.contextmanager
def progress_bars(stream: TextIO) -> Iterator[None]:
    """Show what this thread's task run reports through `advance` as bars on `stream`."""
    bars: dict[str, tqdm] = {}

    def report(count: int, what: str) -> None:
        if what not in bars:
            bars[what] = tqdm(desc=what, unit=" rows", unit_scale=True, file=stream)
        bars[what].update(count)

    token = _reporter.set(report)
    try:
        with logging_redirect_tqdm():
            yield
    finally:
        _reporter.reset(token)
        for bar in bars.values():
            bar.close()
