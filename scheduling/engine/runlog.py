"""Each run's own log: what a task logs while it runs, kept on `TaskExecution.log`.

1. One handler on the root logger (installed by the first run in a process)
   hands each record to the buffer of the run whose context it was emitted
   in: a `ContextVar` the runner sets around the call of the task function.
   Records from any other thread or context (the engine's loop, another run)
   find another buffer or none, so concurrent runs never see each other's
   lines. Threads a task starts itself begin with an empty context: their
   records are not captured unless the task copies its context into them.
2. A buffer keeps at most 64 KiB: the first half as it came, then a ring of
   the newest lines, and a count of what fell out in between. Its memory stays
   bounded however much a run logs.
3. While a run is in progress, a flusher thread (one per process, started by
   the first run) writes each running execution's buffer to its row about once
   a second, on its own database connection: the task's thread never does (its
   function may be inside a transaction of its own, and on SQLite that write
   would wait for it). The final text is stored with the outcome, in the
   runner's UPDATE of the status.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection

from scheduling.engine.stored import MAX_STORED_BYTES, cap_text
from scheduling.models import ExecutionStatus, TaskExecution

logger = logging.getLogger(__name__)

HALF = MAX_STORED_BYTES // 2 - 256  # head and tail; the rest is room for the "cut" line
LINE_MAX = 16 * 1024  # one record (a traceback included) keeps at most this much
FLUSH_SECONDS = 1.0
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

_current: ContextVar[RunLog | None] = ContextVar("scheduling_run_log", default=None)


class RunLog:
    """The lines one run logged: the head as it came, a ring of the newest, what was cut."""

    def __init__(self, execution_id: int | None) -> None:
        self.execution_id = execution_id
        self._lock = threading.Lock()
        self._head: list[str] = []
        self._head_bytes = 0
        self._head_full = False
        self._tail: deque[tuple[str, int]] = deque()
        self._tail_bytes = 0
        self.cut_lines = 0
        self.cut_bytes = 0
        self.version = 0  # bumped by each line; the flusher writes a buffer whose version moved
        self.flushed = 0
        self.write_failed = False  # the flusher says so once per run, not every second

    def write(self, line: str) -> None:
        line = cap_text(line, LINE_MAX)  # also escapes NUL and lone surrogates
        size = len(line.encode("utf-8")) + 1
        with self._lock:
            self.version += 1
            if not self._head_full and self._head_bytes + size <= HALF:
                self._head.append(line)
                self._head_bytes += size
                return
            self._head_full = True  # later lines go to the tail, even short ones: order holds
            self._tail.append((line, size))
            self._tail_bytes += size
            while self._tail_bytes > HALF:
                _, dropped = self._tail.popleft()
                self._tail_bytes -= dropped
                self.cut_lines += 1
                self.cut_bytes += dropped

    def snapshot(self) -> tuple[int, str]:
        """(version, text): the text as it would be stored now."""
        with self._lock:
            lines = list(self._head)
            if self.cut_lines:
                lines.append(
                    f"[... {self.cut_lines:,} lines ({self.cut_bytes:,} bytes) cut: the log "
                    "keeps its first and last 32 KiB ...]"
                )
            lines += [line for line, _ in self._tail]
            return self.version, "\n".join(lines)

    def text(self) -> str:
        return self.snapshot()[1]


class RunLogHandler(logging.Handler):
    """Sends a record to the current run's buffer; outside a run, does nothing at all."""

    def handle(self, record: logging.LogRecord) -> bool:
        # Overridden to skip the handler lock for records outside any run
        # (nearly all of them, in a scheduler): buffers have their own lock.
        buffer = _current.get()
        if buffer is None or not self.filter(record):
            return False
        try:
            buffer.write(self.format(record))
        except Exception:  # noqa: BLE001 - a logging failure must not fail the task
            self.handleError(record)
        return True

    def emit(self, record: logging.LogRecord) -> None:
        self.handle(record)


_handler: RunLogHandler | None = None
_install_lock = threading.Lock()


def install() -> RunLogHandler:
    """Put the handler on the root logger once per process; its level is `TASK_LOG_LEVEL`."""
    global _handler
    with _install_lock:
        if _handler is None:
            formatter = logging.Formatter(FORMAT)
            formatter.converter = time.gmtime  # UTC, whatever the process's TZ
            _handler = RunLogHandler()
            _handler.setFormatter(formatter)
        root = logging.getLogger()
        if _handler not in root.handlers:  # logging.config (tests, a reload) may drop it
            root.addHandler(_handler)
        _handler.setLevel(settings.TASK_LOG_LEVEL)
    return _handler


@contextmanager
def capture(execution_id: int | None) -> Iterator[RunLog]:
    """Collect what this context logs into a new buffer; live-flushed while it runs.

    The flusher only writes rows other connections can see: a run inside an
    open transaction (a test, a caller's atomic block) is stored at the end only.
    """
    install()
    buffer = RunLog(execution_id)
    live = execution_id is not None and not connection.in_atomic_block
    if live:
        flusher.add(buffer)
    token = _current.set(buffer)
    try:
        yield buffer
    finally:
        _current.reset(token)
        if live:
            flusher.remove(buffer)


class Flusher:
    """One daemon thread per process writing the logs of running executions every second."""

    def __init__(self, every: float = FLUSH_SECONDS) -> None:
        self.every = every
        self._runs: dict[int, RunLog] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def add(self, buffer: RunLog) -> None:
        with self._lock:
            self._runs[id(buffer)] = buffer
            if self._thread is None or not self._thread.is_alive():  # not alive after a fork
                self._thread = threading.Thread(target=self._loop, name="run-log", daemon=True)
                self._thread.start()

    def remove(self, buffer: RunLog) -> None:
        with self._lock:
            self._runs.pop(id(buffer), None)

    def _loop(self) -> None:
        while True:
            time.sleep(self.every)
            try:
                self.flush()
            except Exception:  # the thread must outlive any one failure
                logger.exception("Could not write the logs of running tasks")

    def flush(self) -> int:
        """Write every buffer that changed since its last write; returns how many were written."""
        with self._lock:
            dirty = [b for b in self._runs.values() if b.version != b.flushed]
            idle = not self._runs
        if idle:
            connection.close()  # hold no connection while idle (a test database can be dropped)
            return 0
        close_old_connections()
        if connection.vendor == "sqlite":
            with (
                connection.cursor() as cursor
            ):  # skip a busy second rather than queue behind a writer
                cursor.execute("PRAGMA busy_timeout = 1000")
        return sum(self._write(buffer) for buffer in dirty)

    @staticmethod
    def _write(buffer: RunLog) -> bool:
        version, text = buffer.snapshot()
        try:
            # Only while running: the outcome's write holds the final text.
            TaskExecution.objects.filter(
                pk=buffer.execution_id, status=ExecutionStatus.RUNNING
            ).update(log=text)
        except DatabaseError as exc:
            # SQLite: the task itself may hold the write lock; the next second may do.
            log = logger.debug if buffer.write_failed else logger.warning
            log("Log of run #%s not written yet (%s); trying again", buffer.execution_id, exc)
            buffer.write_failed = True
            connection.close()
            return False
        buffer.flushed = version
        return True


flusher = Flusher()
