"""A few daemon threads that post channel messages off the run's path.

A run's `task_finished` receiver only queues work here and returns, so a
dead or slow chat service never delays or fails the run. Not a
ThreadPoolExecutor: its threads are joined at interpreter exit together with
every queued job, so a process with many posts queued for a dead endpoint
could take minutes to exit. Instead:

- `submit` never blocks; past MAX_WAITING unfinished jobs it refuses (the
  caller records those posts as failed, and the alert policy tries again on
  the next failing run, as for a failed mail);
- at exit the process waits at most one post's timeout (plus a second) for
  the posts in hand (and then for Apprise's own threads, whose requests are
  bounded the same way). Posts still unsent then stay `pending` in the
  delivery log; `channel_posts.expire_stale` marks them failed later.
"""

from __future__ import annotations

import concurrent.futures.thread  # noqa: F401 - its exit hook must be registered before ours
import logging
import queue
import threading
from collections.abc import Callable

from django.conf import settings

logger = logging.getLogger(__name__)

THREADS = 4
MAX_WAITING = 200


class Sender:
    def __init__(self, threads: int = THREADS, max_waiting: int = MAX_WAITING) -> None:
        self.threads, self.max_waiting = threads, max_waiting
        self._jobs: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._workers: list[threading.Thread] = []
        self._unfinished = 0
        self._changed = threading.Condition()

    def submit(self, job: Callable[[], None]) -> bool:
        """Queue `job`; False (and nothing queued) when too much is waiting already."""
        with self._changed:
            if self._unfinished >= self.max_waiting:
                return False
            self._unfinished += 1
            self._start_workers()
        self._jobs.put(job)
        return True

    def flush(self, timeout: float) -> bool:
        """Wait until every job submitted so far has finished; False after `timeout` s."""
        with self._changed:
            return self._changed.wait_for(lambda: self._unfinished == 0, timeout)

    def _start_workers(self) -> None:
        # Started on first use, and again in a forked child (threads do not survive fork).
        self._workers = [w for w in self._workers if w.is_alive()]
        while len(self._workers) < self.threads:
            worker = threading.Thread(target=self._work, name="channel-sender", daemon=True)
            worker.start()
            self._workers.append(worker)

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            try:
                job()
            except Exception:  # a job records its own outcome; this is a bug, keep serving
                logger.exception("A background channel post failed unexpectedly")
            finally:
                with self._changed:
                    self._unfinished -= 1
                    self._changed.notify_all()


sender = Sender()


def _finish_posts_in_hand() -> None:
    grace = settings.NOTIFY_CHANNEL_TIMEOUT_SECONDS + 1
    if not sender.flush(grace):
        logger.warning("Exiting with channel posts unsent after %.0f s; they stay pending", grace)


# Not `atexit`: that runs after thread pools refuse new work, and Apprise
# posts through one. Hooks registered here run earlier, latest first (this
# is how concurrent.futures registers its own), so Apprise still works.
threading._register_atexit(_finish_posts_in_hand)
