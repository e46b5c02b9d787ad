"""The scheduler's executor: fires due together are claimed, run and recorded in batches.

APScheduler decides when a task fires and hands the job to this executor;
everything after that goes through `scheduling.engine.claims` and `scheduling.engine.runner`.
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from apscheduler.executors.pool import BasePoolExecutor

from scheduling.engine import runner
from scheduling.engine.claims import Claim, claim_fires

logger = logging.getLogger("scheduling.engine")

RECORD_DEFER_SECONDS = 1.0  # longest wait of finished runs' records for due runs to start


class TaskPoolExecutor(BasePoolExecutor):
    """A thread pool that hands each fire time to the runner, in batches.

    APScheduler's own executor calls the job function without its scheduled
    time, and we need that time: it is the key that makes one fire run once
    across schedulers.

    Fires due together are claimed together and their outcomes stored
    together, so 1,000 tasks due at one instant cost a few statements each
    way instead of a few per task, and a run's start never waits for an
    earlier run's bookkeeping:

    - APScheduler's thread only queues (task id, fire time) pairs;
    - a dispatcher thread claims everything queued (`claims.claim_fires`) and
      submits each claimed fire to the pool (`runner.run_claimed`);
    - a recorder thread stores the finished runs' outcomes in one transaction
      per batch (`runner.record_outcomes`), then sends their signals.
    """

    def __init__(self, max_workers: int) -> None:
        super().__init__(
            concurrent.futures.ThreadPoolExecutor(max_workers, thread_name_prefix="task")
        )
        self.inflight: set[concurrent.futures.Future] = set()
        self._inflight_lock = threading.Lock()
        self._cond = threading.Condition()
        self._fires: list[tuple[str, int, datetime]] = []  # (job id, task id, fire time)
        self._outcomes: list[runner.Outcome] = []
        self._unrecorded = 0  # fires queued, claimed or run whose outcome is not stored yet
        self._unstarted = 0  # claimed fires waiting for a pool thread
        self._helpers: list[threading.Thread] = []
        self._stopping = False

    def submit(self, fn: Callable[..., Any], *args: Any) -> concurrent.futures.Future:
        future = self._pool.submit(fn, *args)
        with self._inflight_lock:
            self.inflight.add(future)
        future.add_done_callback(self._forget)
        return future

    def _forget(self, future: concurrent.futures.Future) -> None:
        with self._inflight_lock:
            self.inflight.discard(future)
        if not future.cancelled() and future.exception() is not None:
            logger.error("Run crashed outside the runner", exc_info=future.exception())

    def _do_submit_job(self, job: Any, run_times: list[datetime]) -> None:
        # Coalesced: only the latest due time runs. APScheduler's own misfire
        # check lives in the `run_job` we bypass, so it is repeated here.
        fire_time = run_times[-1]
        late = (datetime.now(UTC) - fire_time).total_seconds()
        if job.misfire_grace_time is not None and late > job.misfire_grace_time:
            future = self.submit(runner.record_missed, job.args[0], fire_time, late)
            future.add_done_callback(lambda f: self._run_job_success(job.id, []))
            return
        with self._cond:
            self._start_helpers()
            self._fires.append((job.id, job.args[0], fire_time))
            self._unrecorded += 1
            self._cond.notify_all()

    # --- the dispatcher and recorder threads ----------------------------------
    def _start_helpers(self) -> None:
        if self._helpers:
            return
        for name, target in (("dispatch", self._dispatch_loop), ("record", self._record_loop)):
            thread = threading.Thread(target=target, name=f"task-{name}", daemon=True)
            thread.start()
            self._helpers.append(thread)

    def _take(self, queue: str) -> list:
        """Wait for items in `self.<queue>` and take them all; [] once stopping."""
        with self._cond:
            self._cond.wait_for(lambda: getattr(self, queue) or self._stopping)
            items = getattr(self, queue)
            setattr(self, queue, [])
            return items

    def _done(self, count: int, started: bool = False) -> None:
        with self._cond:
            self._unrecorded -= count
            self._unstarted -= count if started else 0
            self._cond.notify_all()

    def _dispatch_loop(self) -> None:
        while not self._stopping:
            fires = self._take("_fires")
            if fires:
                self._dispatch(fires)

    def _dispatch(self, fires: list[tuple[str, int, datetime]]) -> None:
        try:
            claims = claim_fires([(task_id, when) for _, task_id, when in fires])
        except Exception:
            logger.exception("Could not claim %d due fires", len(fires))
            claims = []
        for job, _, _ in fires:
            self._run_job_success(job, [])
        self._done(len(fires) - len(claims))
        with self._cond:
            self._unstarted += len(claims)
        for claim in claims:
            try:
                self.submit(self._run_claimed, claim)
            except RuntimeError:  # the pool is shut down: the orphan check abandons it
                self._done(1, started=True)

    def _run_claimed(self, claim: Claim) -> None:
        with self._cond:
            self._unstarted -= 1
            self._cond.notify_all()
        outcome = None
        try:
            outcome = runner.run_claimed(claim)
        finally:
            if outcome is None:
                self._done(1)
            else:
                with self._cond:
                    self._outcomes.append(outcome)
                    self._cond.notify_all()

    def _take_outcomes(self) -> list[runner.Outcome]:
        """Wait for outcomes, letting claimed runs start first (for up to RECORD_DEFER_SECONDS).

        Storing outcomes competes for the interpreter with starting runs; when
        1,000 fires are due together, every run should start before the
        bookkeeping of the first ones is written.
        """
        with self._cond:
            self._cond.wait_for(lambda: self._outcomes or self._stopping)
            self._cond.wait_for(
                lambda: self._unstarted <= 0 or self._stopping, RECORD_DEFER_SECONDS
            )
            outcomes, self._outcomes = self._outcomes, []
            return outcomes

    def _record_loop(self) -> None:
        while not self._stopping or self._outcomes:
            outcomes = self._take_outcomes()
            if not outcomes:
                continue
            try:
                runner.record_outcomes(outcomes)
            except Exception:
                logger.exception("Could not record %d finished runs", len(outcomes))
            finally:
                self._done(len(outcomes))

    # --- stopping ---------------------------------------------------------------
    def wait(self, timeout: float) -> bool:
        """Wait for in-flight runs and their records; True if all finished within `timeout`."""
        deadline = time.monotonic() + timeout
        with self._inflight_lock:
            pending = set(self.inflight)
        _, not_done = concurrent.futures.wait(pending, timeout=timeout)
        with self._cond:
            recorded = self._cond.wait_for(
                lambda: self._unrecorded <= 0, max(0.0, deadline - time.monotonic())
            )
        return not not_done and recorded

    def shutdown(self, wait: bool = True) -> None:
        """Called by APScheduler's shutdown: keep the pool, `Engine.shutdown` waits, then closes it.

        Fires handed over before the scheduler stopped may still be waiting for
        their claim; closing the pool here would strand them.
        """

    def stop_helpers(self) -> None:
        """Stop the dispatcher and recorder (the recorder first stores what it holds)."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
