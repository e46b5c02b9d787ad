"""The real processes the workers benchmark starts: Celery workers, schedulers, beats.

Each runs in its own session (process group) with its output in a log file, so
stopping one stops its prefork children too, and a failure can show its log.
All of them share one environment (`child_env`): the benchmark's settings
module, the throwaway database, the broker and the Redis that runs record into.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.common import BASE_DIR

SETTINGS_MODULE = "benchmarks.workers_settings"
TASK_MODULES = "benchmarks.workers_tasks"


def child_env(broker_url: str, redis_url: str) -> dict[str, str]:
    """The environment of every process the benchmark starts (and its own)."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": SETTINGS_MODULE,
        "CELERY_BROKER_URL": broker_url,
        "BENCH_REDIS_URL": redis_url,
        "SCHEDULER_TASK_MODULES": TASK_MODULES,
        "PYTHONUNBUFFERED": "1",
        # Production's level: INFO lines (one per run sent or finished) are part of the cost.
        "LOG_LEVEL": "INFO",
    }


def poll(predicate: Callable[[], Any], timeout: float, interval: float = 0.2) -> Any:
    """Call `predicate` until it returns something truthy or `timeout` s pass; its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


class Proc:
    """One started process, its log file, and a stop that waits for it."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        with self.log_path.open("w") as log:
            self.popen = subprocess.Popen(
                argv,
                cwd=BASE_DIR,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log(self, lines: int = 30) -> str:
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def stop(self, timeout: float = 60) -> None:
        """SIGTERM (warm shutdown: running tasks finish), then SIGKILL the group at `timeout`."""
        self._signal_group(signal.SIGTERM)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self._signal_group(signal.SIGKILL)
            self.popen.wait(10)
        self._signal_group(signal.SIGKILL)  # prefork children left behind, if any

    def _signal_group(self, sig: int) -> None:
        try:
            os.killpg(self.popen.pid, sig)  # its own session: the group id is its pid
        except ProcessLookupError:
            pass


@contextmanager
def private_redis(log_dir: Path) -> Iterator[str]:
    """A `redis-server` of the benchmark's own on a free port; yields its URL.

    The machine's Redis on 6379 is shared: test runs pick database numbers
    there and flush them, and so would the benchmark. A private server can
    neither lose a measurement to someone else's FLUSHDB nor flush theirs.
    """
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = Proc(
        "redis-server",
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1"]
        + ["--save", "", "--appendonly", "no", "--databases", "1"],
        dict(os.environ),
        log_dir,
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        if not poll(lambda: _answers(url) or not server.alive(), 20, 0.1) or not server.alive():
            raise RuntimeError(f"redis-server did not start on port {port}:\n{server.log()}")
        yield url
    finally:
        server.stop(10)


def _answers(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=0.5).ping())
    except redis.RedisError:
        return False


def start_workers(
    count: int, concurrency: int, queue: str, env: dict[str, str], log_dir: Path
) -> list[Proc]:
    """`celery -A chirpsyncer worker -P prefork -c N -Q queue`, `count` times."""
    return [
        Proc(
            f"{count}w-worker{i}",
            [
                *(sys.executable, "-m", "celery", "-A", "chirpsyncer", "worker"),
                *("-P", "prefork", "-c", str(concurrency), "-Q", queue),
                *("-n", f"bench{i}@%h"),
            ],
            env,
            log_dir,
        )
        for i in range(count)
    ]


def wait_workers_ready(app: Any, workers: list[Proc], timeout: float = 90) -> None:
    """Until every worker answers a broadcast ping: only then is it consuming its queue."""
    expected = len(workers)

    def all_answer() -> bool:
        dead = [w for w in workers if not w.alive()]
        if dead:
            raise RuntimeError(f"{dead[0].name} exited:\n{dead[0].log()}")
        replies = app.control.ping(timeout=0.5) or []
        names = {name for reply in replies for name in reply if name.startswith("bench")}
        return len(names) >= expected

    if not poll(all_answer, timeout, 0.5):
        raise RuntimeError(f"{expected} workers did not all answer a ping within {timeout} s")


def start_schedulers(
    count: int, env: dict[str, str], log_dir: Path, prefix: str = ""
) -> list[Proc]:
    """`manage.py runscheduler`, `count` times: one leads, the others stand by."""
    return [
        Proc(
            f"{prefix}scheduler{i}",
            [sys.executable, "manage.py", "runscheduler", "--no-sync-defaults"],
            env,
            log_dir,
        )
        for i in range(count)
    ]


def wait_leader(schedulers: list[Proc], timeout: float = 90) -> None:
    """Until one scheduler holds an unexpired lease (it then dispatches)."""
    from scheduling.models import SchedulerLease

    def leading() -> bool:
        for proc in schedulers:
            if not proc.alive():
                raise RuntimeError(f"{proc.name} exited:\n{proc.log()}")
        return SchedulerLease.objects.filter(
            expires_at__gt=datetime.now(UTC), pid__in=[p.pid for p in schedulers]
        ).exists()

    if not poll(leading, timeout):
        raise RuntimeError(f"no scheduler took the lease within {timeout} s")


def start_beats(count: int, env: dict[str, str], log_dir: Path, prefix: str = "") -> list[Proc]:
    """`celery beat` with django-celery-beat's DatabaseScheduler, `count` times."""
    return [
        Proc(
            f"{prefix}beat{i}",
            [
                *(sys.executable, "-m", "celery", "-A", "chirpsyncer", "beat", "-l", "INFO"),
                *("-S", "django_celery_beat.schedulers:DatabaseScheduler"),
                # Each its own pid file: a shared one would make the second refuse to start,
                # which is not the failure the baseline is about.
                *("--pidfile", str(log_dir / f"{prefix}beat{i}.pid")),
                *("-s", str(log_dir / f"{prefix}beat{i}-schedule")),
            ],
            env,
            log_dir,
        )
        for i in range(count)
    ]


def wait_beats_started(beats: list[Proc], timeout: float = 60) -> None:
    """Until every beat has logged that it started its scheduler loop."""

    def started() -> bool:
        for proc in beats:
            if not proc.alive():
                raise RuntimeError(f"{proc.name} exited:\n{proc.log()}")
        return all("beat: Starting" in b.log_path.read_text(errors="replace") for b in beats)

    if not poll(started, timeout):
        raise RuntimeError(f"celery beat did not start within {timeout} s")


def stop_all(procs: list[Proc]) -> None:
    """SIGTERM every process at once, then wait for each: shutdowns overlap."""
    for proc in procs:
        proc._signal_group(signal.SIGTERM)
    for proc in procs:
        proc.stop()
