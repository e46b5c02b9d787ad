"""Start real `runscheduler` and Celery worker processes on the test database; watch them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from django.db import connection

from scheduling.tests import tasks_for_tests  # noqa: F401 (this process registers them too)

BASE_DIR = Path(__file__).resolve().parents[2]
TEST_TASK_MODULES = "scheduling.tests.tasks_for_tests"


def database_url() -> str:
    """A URL for the database the test is using (the test database, not the real one)."""
    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{s['NAME']}"
    auth = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def wait_until(predicate: Callable[[], object], timeout: float, message: str) -> object:
    """Poll `predicate` until it returns something truthy, or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"Timed out after {timeout} s waiting for: {message}")


class WatchedProcess:
    """A subprocess whose output lines are collected by a reader thread."""

    proc: subprocess.Popen
    lines: list[str]

    def _start(self, argv: list[str], environment: dict[str, str], **popen: object) -> None:
        self.lines = []
        self.proc = subprocess.Popen(
            argv,
            cwd=BASE_DIR,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            **popen,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for_output(self, text: str, timeout: float = 20, after: int = 0) -> int:
        """Wait for a line containing `text` (from line index `after`); returns its index."""

        def find() -> int | None:
            for index, line in enumerate(self.lines[after:], start=after):
                if text in line:
                    return index + 1
            return None

        return wait_until(find, timeout, f"{text!r} in process output:\n{self.output}") - 1

    def terminate(self, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


class SchedulerProcess(WatchedProcess):
    def __init__(self, *extra_args: str, env: dict[str, str] | None = None) -> None:
        environment = {
            **os.environ,
            "DATABASE_URL": database_url(),
            "DJANGO_SETTINGS_MODULE": "chirpsyncer.settings",
            "SCHEDULER_HEARTBEAT_SECONDS": "0.5",
            "SCHEDULER_SYNC_SECONDS": "0.5",
            "SCHEDULER_LEASE_SECONDS": "3",
            # The test functions, registered the way a deployment registers its own.
            "SCHEDULER_TASK_MODULES": TEST_TASK_MODULES,
            "PYTHONUNBUFFERED": "1",
            **(env or {}),
        }
        self._start(
            [sys.executable, "manage.py", "runscheduler", "--no-sync-defaults", *extra_args],
            environment,
        )


class WorkerProcess(WatchedProcess):
    """`celery -A chirpsyncer worker` (prefork) in a session of its own.

    Its own session lets `kill_all` SIGKILL the main process and its pool
    children together, as a crashed host or an OOM-killed container would.
    """

    def __init__(
        self,
        broker_url: str,
        queues: str,
        *,
        concurrency: int = 1,
        name: str = "worker",
        env: dict[str, str] | None = None,
    ) -> None:
        environment = {
            **os.environ,
            "DATABASE_URL": database_url(),
            "DJANGO_SETTINGS_MODULE": "chirpsyncer.settings",
            "CELERY_BROKER_URL": broker_url,
            "SCHEDULER_HEARTBEAT_SECONDS": "0.5",
            "SCHEDULER_TASK_MODULES": TEST_TASK_MODULES,
            "PYTHONUNBUFFERED": "1",
            **(env or {}),
        }
        argv = [sys.executable, "-m", "celery", "-A", "chirpsyncer", "worker", "-Q", queues]
        argv += ["-P", "prefork", "-c", str(concurrency), "-n", f"{name}-{os.getpid()}@%h"]
        argv += ["--without-gossip", "--without-mingle"]  # no -l: the project's LOG_LEVEL rules
        self._start(argv, environment, start_new_session=True)

    def kill_all(self) -> None:
        """SIGKILL the worker and its pool processes at once (kill -9 of the whole worker)."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.proc.wait(10)

    def kill(self) -> None:
        self.kill_all()  # even after the main process exited: its pool children may not have
