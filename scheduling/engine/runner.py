"""Run one execution of a task with all its bookkeeping.

Every way a task runs (scheduler fire, queued manual run, retry, catch-up,
`runtask`) goes through the same steps (`_run`, `_write_outcomes`, `_finish`),
so counters, history and signals behave the same everywhere. Algorithm:

1. Claim the execution row (insert for a fire time, conditional UPDATE for a
   queued row). Losing either race means another process runs it: do nothing.
2. Look the function up in the registry (a `func` that is not registered, or
   kwargs that cannot be read, fail the run; nothing is imported) and call
   it with the task's kwargs; time it.
   What it logs meanwhile is kept as the run's own log (`runlog.capture`).
3. Store the outcome (result as JSON, or traceback, and the log), capped at 64 KiB.
4. Update the task's counters in one UPDATE with column arithmetic.
5. Queue a retry if the policy allows, then send `task_finished` (which
   queues the runs of tasks chained after this one: `scheduling.chains`).

`execute` does them for one run. The engine's scheduled fires take the batch
path instead: `claims.claim_fires` claims every fire due in one pass with one
multi-row INSERT, `run_claimed` only runs, and `record_outcomes` stores a batch
of outcomes in one transaction, so 1,000 tasks due at once do not start one
after another's bookkeeping.

The statements a run needs every time are plain SQL (`hot_sql.HotSql`).
"""

from __future__ import annotations

import logging
import os
import random
import socket
import time
import traceback
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from celery.exceptions import SoftTimeLimitExceeded
from django.core.exceptions import ValidationError
from django.db import (
    IntegrityError,
    InterfaceError,
    OperationalError,
    close_old_connections,
    connection,
    transaction,
)
from django.utils import timezone

from scheduling import bounds, jsontext, registry, signals, triggers
from scheduling.engine import runlog
from scheduling.engine.hot_sql import OUTCOME_STATUSES, HotSql
from scheduling.engine.stored import cap_text, to_json_result

if TYPE_CHECKING:
    from scheduling.engine.claims import Claim
from scheduling.models import ExecutionStatus, ExecutionTrigger, Task, TaskExecution, TriggerType

logger = logging.getLogger(__name__)

T = TypeVar("T")
HOST = socket.gethostname()


def load_task(task_id: int) -> Task:
    hot, conn = HotSql.current()
    return hot.load_task(conn, task_id)


def tidy_connections() -> None:
    # Never inside an atomic block: closing there would break the transaction.
    if not connection.in_atomic_block:
        close_old_connections()


def retry_delay(task: Task, attempt: int, rng: random.Random | None = None) -> float:
    """Seconds before retry number `attempt` (1-based): exponential, jittered, capped.

    Full jitter between half and all of base * 2^(attempt-1), so retries of many
    tasks failing together do not arrive in lockstep.
    """
    ceiling = min(task.retry_backoff_max_seconds, task.retry_backoff_seconds * 2 ** (attempt - 1))
    return (rng or random).uniform(ceiling / 2, ceiling)


def claim_fire(
    task: Task, scheduled_for: datetime, trigger: str, **fields: Any
) -> TaskExecution | None:
    """Insert the execution for one fire time; None if another scheduler already did.

    `fields` override the defaults of a claimed (running) row, e.g. to record a
    miss as already `skipped`. A task with a `queue` is claimed as `queued`:
    the sender hands it to a Celery worker, which claims it queued -> running.
    """
    defaults = claimed_fields(task)
    execution = TaskExecution(
        task=task, trigger=trigger, scheduled_for=scheduled_for, **(defaults | fields)
    )
    try:
        # One statement is atomic on its own; inside a transaction, a savepoint
        # keeps a lost race from breaking the caller's transaction.
        hot, conn = HotSql.current()
        if conn.in_atomic_block:
            with transaction.atomic():
                hot.insert_execution(conn, execution)
        else:
            hot.insert_execution(conn, execution)
        return execution
    except IntegrityError:
        logger.info("Task %s at %s already claimed elsewhere", task.name, scheduled_for)
        return None


def claimed_fields(task: Task) -> dict[str, Any]:
    """How a claimed fire of `task` starts: running here, or queued for a worker."""
    if task.queue:
        return {"status": ExecutionStatus.QUEUED}
    return {
        "status": ExecutionStatus.RUNNING,
        "started_at": timezone.now(),
        "host": HOST,
        "pid": os.getpid(),
    }


def claim_queued(execution_id: int) -> bool:
    """Move a queued execution to running; False if someone else took it."""
    return bool(
        TaskExecution.objects.filter(pk=execution_id, status=ExecutionStatus.QUEUED).update(
            status=ExecutionStatus.RUNNING, started_at=timezone.now(), host=HOST, pid=os.getpid()
        )
    )


def overlapping_run(task: Task, execution: TaskExecution) -> TaskExecution | None:
    if task.allow_overlap:
        return None
    hot, conn = HotSql.current()
    earlier = hot.earlier_running(conn, task.pk, execution.pk)
    return None if earlier is None else TaskExecution(pk=earlier, task=task)


def _skip(execution: TaskExecution, reason: str) -> TaskExecution:
    now = timezone.now()
    TaskExecution.objects.filter(pk=execution.pk).update(
        status=ExecutionStatus.SKIPPED, finished_at=now, duration_ms=0, error=reason
    )
    execution.status, execution.finished_at, execution.error = ExecutionStatus.SKIPPED, now, reason
    logger.info("Skipped %s #%s: %s", execution.task.name, execution.pk, reason)
    return execution


def _kwargs_for(task: Task, execution: TaskExecution) -> Any:
    return execution.kwargs if execution.kwargs is not None else (task.kwargs or {})


def refusal(task: Task, execution: TaskExecution) -> str | None:
    """Why this run must not start, or None: its `func` is not registered, or its kwargs unusable.

    Only a registered function ever runs; a stored `func` is looked up, never
    imported, whatever it names.
    """
    if registry.lookup(task.func) is None:
        return registry.not_registered(task.func).messages[0]
    problems = bounds.stored_problems(task)
    if problems:
        return f"Task {task.name} holds values out of range ({'; '.join(problems)}); fix them first"
    kwargs = _kwargs_for(task, execution)
    if isinstance(kwargs, jsontext.Unreadable):
        return f"kwargs: the stored value is unreadable ({kwargs.problem}); fix it, then run again"
    if not isinstance(kwargs, dict):
        return f"kwargs: must be a JSON object, got {type(kwargs).__name__}"
    return None


def _call(task: Task, execution: TaskExecution) -> tuple[bool, Any, str]:
    reason = refusal(task, execution)
    if reason is not None:
        logger.error("Refused %s #%s: %s", task.name, execution.pk, reason)
        return False, None, reason
    try:
        func = registry.resolve(task.func)
        return True, func(**_kwargs_for(task, execution)), ""
    except SoftTimeLimitExceeded:  # a Celery worker stopping a queued run at its time limit
        return False, None, timed_out_message(task.timeout_seconds)
    except Exception as exc:  # noqa: BLE001 - a task failure is data, not a crash
        message = f"{type(exc).__name__}: {exc}"
        return False, None, cap_text(f"{message}\n\n{traceback.format_exc()}")


def timed_out_message(seconds: int | None, killed_at: float | None = None) -> str:
    """The error of a run a worker stopped at its task's time limit (`timeout_seconds`)."""
    if killed_at is None:
        return f"timed out after {seconds} s: stopped at the task's time limit (timeout_seconds)"
    return (
        f"timed out after {seconds} s: the run did not stop, so its worker process was "
        f"killed at the hard limit ({killed_at:g} s)"
    )


def _with_db_retry(action: Callable[[], T], what: str, attempts: int = 6) -> T:
    """Run `action`, reconnecting and backing off (1, 2, 4 ... s) while the database is away.

    The task has already run; losing its outcome to a database restart would
    leave a run that happened looking abandoned.
    """
    for attempt in range(1, attempts + 1):
        try:
            return action()
        except (OperationalError, InterfaceError) as exc:
            if attempt == attempts or connection.in_atomic_block:
                raise
            logger.warning("Database error while %s (%s); retry %d in %d s", what, exc, attempt,
                           2 ** (attempt - 1))  # fmt: skip
            connection.close()
            time.sleep(2 ** (attempt - 1))
    raise AssertionError("unreachable")


@dataclass
class Outcome:
    """What one run produced, waiting to be stored."""

    task: Task
    execution: TaskExecution
    ok: bool
    result: Any
    error: str
    duration_ms: int
    log: str = ""
    facts: signals.FinishedFacts | None = None  # read with the outcome, for the receivers


def _next_run(task: Task, after: datetime) -> datetime | None:
    """The next fire time to store after a run; None (logged) if the stored schedule is bad."""
    if not task.enabled:
        return None
    try:
        return triggers.next_run_after(task, after)
    except ValidationError as exc:
        logger.error("No next run for %s: %s", task.name, "; ".join(exc.messages))
        return None


def _finish_params(hot: HotSql, conn: Any, row: tuple) -> list:
    """Parameters of `finish_run`: the outcome, written only over a `running` row."""
    o, finished, status, stored, _next_run = row
    return [
        status,
        hot.prep_datetime(finished, conn),
        o.duration_ms,
        hot.prep_result(stored, conn),
        o.error,
        o.log,
        o.execution.pk,
        ExecutionStatus.RUNNING,
    ]


def _count_params(hot: HotSql, conn: Any, row: tuple) -> list:
    """Parameters of `count_run`: the run counted on its task, with its next run time."""
    o, _finished, status, _stored, next_run = row
    return [
        1,
        int(o.ok),
        int(not o.ok),
        o.ok,
        status,
        hot.prep_datetime(o.execution.started_at, conn),
        o.duration_ms,
        hot.prep_datetime(next_run, conn),
        o.task.pk,
    ]


def _store(hot: HotSql, conn: Any, cursor: Any, row: tuple, count: bool = True) -> None:
    """Write one outcome and (with `count`) count it on its task."""
    # Conditional on `running`, so a retried write never counts twice.
    cursor.execute(hot.finish_run, _finish_params(hot, conn, row))
    if not cursor.rowcount or not count:
        return
    cursor.execute(hot.count_run, _count_params(hot, conn, row))


def _store_one_trip(hot: HotSql, conn: Any, row: tuple) -> None:
    """PostgreSQL, one outcome: `_store` and the receivers' reads in one statement (autocommit).

    A single statement is atomic on its own, so no transaction (and no commit
    round trip) is needed; inside a caller's transaction a savepoint keeps a
    refused counter update from breaking it.
    """
    o = row[0]
    params = [
        *_finish_params(hot, conn, row),
        *_count_params(hot, conn, row),
        o.task.pk,
        o.execution.pk,
        *OUTCOME_STATUSES,
        o.task.pk,
        TriggerType.AFTER,
    ]
    atomic = transaction.atomic() if conn.in_atomic_block else nullcontext()
    with atomic, hot.one_trip_cursor(conn) as cursor:
        cursor.execute(hot.finish_and_count, params)
        finished_rows, previous, has_downstream = cursor.fetchone()
    if finished_rows:
        o.facts = signals.FinishedFacts(previous_outcome=previous, has_downstream=has_downstream)


def _store_each(hot: HotSql, conn: Any, rows: list[tuple]) -> None:
    """One transaction per outcome: the slow path, after a batch was refused.

    A task row written around the check constraints (raw SQL, a bypassed
    constraint) makes the database refuse every UPDATE of it, so its counters
    cannot change: its run is stored without them, and the others as usual.
    """
    for row in rows:
        try:
            with transaction.atomic(), conn.cursor() as cursor:
                _store(hot, conn, cursor, row)
        except IntegrityError as exc:
            logger.error(
                "Counters of %s not updated; its row is refused (%s)", row[0].task.name, exc
            )
            with transaction.atomic(), conn.cursor() as cursor:
                _store(hot, conn, cursor, row, count=False)


def _write_outcomes(outcomes: list[Outcome]) -> None:
    """Store outcomes and count them on their tasks: one transaction for the whole list."""
    rows = []
    for o in outcomes:
        finished = timezone.now()
        status = ExecutionStatus.SUCCESS if o.ok else ExecutionStatus.FAILED
        stored = to_json_result(o.result) if o.ok else None
        next_run = _next_run(o.task, finished)
        rows.append((o, finished, status, stored, next_run))

    def write() -> None:
        hot, conn = HotSql.current()
        if hot.one_trip and len(rows) == 1:
            try:
                return _store_one_trip(hot, conn, rows[0])
            except IntegrityError:
                return _store_each(hot, conn, rows)
        try:
            with transaction.atomic(), conn.cursor() as cursor:
                for row in rows:
                    _store(hot, conn, cursor, row)
        except IntegrityError:
            _store_each(hot, conn, rows)

    first = outcomes[0]
    what = f"recording {first.task.name} #{first.execution.pk}"
    _with_db_retry(write, what if len(outcomes) == 1 else f"{what} and {len(outcomes) - 1} more")
    for o, finished, status, stored, _ in rows:
        execution = o.execution
        execution.status, execution.finished_at = status, finished
        execution.duration_ms, execution.result, execution.error = o.duration_ms, stored, o.error
        execution.log = o.log


def _finish(outcome: Outcome) -> None:
    """After the outcome is stored: queue a retry if due, log, send `task_finished`."""
    task, execution = outcome.task, outcome.execution
    retry = queue_retry(task, execution)
    logger.info(
        "Finish %s #%s: %s in %d ms%s",
        task.name,
        execution.pk,
        execution.status,
        outcome.duration_ms,
        f" (retry #{retry.pk} queued)" if retry else "",
    )
    signals.task_finished.send(
        sender=Task, task=task, execution=execution, final=retry is None, facts=outcome.facts
    )


def _run(task: Task, execution: TaskExecution) -> Outcome:
    logger.info("Start %s #%s (%s)", task.name, execution.pk, execution.trigger)
    started = time.monotonic()
    with runlog.capture(execution.pk) as log:
        ok, result, error = _call(task, execution)
    duration_ms = int((time.monotonic() - started) * 1000)
    return Outcome(task, execution, ok, result, error, duration_ms, log.text())


def queue_retry(task: Task, execution: TaskExecution) -> TaskExecution | None:
    """Queue the next attempt of a failed (or, on a worker, abandoned) run if the policy allows."""
    retried = (ExecutionStatus.FAILED, ExecutionStatus.ABANDONED)
    if execution.status not in retried or execution.attempt > task.max_retries:
        return None
    if execution.trigger == ExecutionTrigger.CLI:  # the caller is waiting for the outcome
        return None
    if refusal(task, execution) is not None:  # it would be refused again
        return None
    delay = retry_delay(task, execution.attempt)
    return TaskExecution.objects.create(
        task=task,
        trigger=ExecutionTrigger.RETRY,
        status=ExecutionStatus.QUEUED,
        scheduled_for=timezone.now() + timedelta(seconds=delay),
        requested_by_id=execution.requested_by_id,
        kwargs=execution.kwargs,
        attempt=execution.attempt + 1,
    )


def execute(execution: TaskExecution, task: Task | None = None) -> TaskExecution:
    """Run a claimed (status `running`) execution to its end and record everything."""
    task = task or execution.task
    execution.task = task
    overlapping = overlapping_run(task, execution)
    return _execute_claimed(task, execution, None if overlapping is None else overlapping.pk)


def _execute_claimed(task: Task, execution: TaskExecution, earlier: int | None) -> TaskExecution:
    """`execute` once the overlap rule was checked: `earlier` is a run still going, or None."""
    if earlier is not None:
        return _skip(execution, f"Previous run #{earlier} was still running.")
    outcome = _run(task, execution)
    tidy_connections()  # a long task may have outlived the connection
    _write_outcomes([outcome])
    _finish(outcome)
    return execution


def run_claimed(claim: Claim) -> Outcome | None:
    """Run a claimed fire; its outcome is returned for `record_outcomes`, not stored here.

    A fire that found an earlier run still going is recorded as skipped at
    once (None is returned).
    """
    task, execution = claim.task, claim.execution
    try:
        if claim.earlier_running is not None:
            _skip(execution, f"Previous run #{claim.earlier_running} was still running.")
            return None
        return _run(task, execution)
    finally:
        tidy_connections()


def record_outcomes(outcomes: list[Outcome]) -> None:
    """Store many runs' outcomes in one transaction, then retry/log/signal each.

    A receiver of `task_finished` that raises does not keep the others from
    hearing about their runs.
    """
    if not outcomes:
        return
    tidy_connections()
    _write_outcomes(outcomes)
    for outcome in outcomes:
        try:
            _finish(outcome)
        except Exception:
            logger.exception("After %s #%s", outcome.task.name, outcome.execution.pk)


def run_fire(
    task_id: int, scheduled_for: datetime, trigger: str = "schedule"
) -> TaskExecution | None:
    """Run the fire of `task_id` at `scheduled_for` unless another process claimed it."""
    tidy_connections()
    try:
        hot, conn = HotSql.current()
        if hot.one_trip:
            claimed = _claim_and_start(hot, conn, task_id, scheduled_for, trigger)
            if claimed is None:
                return None
            task, execution, earlier = claimed
            if execution.status == ExecutionStatus.QUEUED:
                return execution  # the sender hands it to a worker
            return _execute_claimed(task, execution, earlier)
        task = load_task(task_id)
        execution = claim_fire(task, scheduled_for, trigger)
        if execution is None or execution.status == ExecutionStatus.QUEUED:
            return execution  # claimed elsewhere, or the sender hands it to a worker
        return execute(execution, task)
    finally:
        tidy_connections()


def _claim_and_start(
    hot: HotSql, conn: Any, task_id: int, scheduled_for: datetime, trigger: str
) -> tuple[Task, TaskExecution, int | None] | None:
    """PostgreSQL: load the task, claim the fire and read the overlap rule in one round trip.

    The same row `claim_fire` would insert (`running` here, `queued` for a task
    with a queue) under the same unique (task, scheduled_for) constraint; None
    if another process claimed it. Raises Task.DoesNotExist as `load_task` does.
    """
    common = {"task_id": task_id, "trigger": trigger, "scheduled_for": scheduled_for}
    now = timezone.now()
    running = TaskExecution(**common, created_at=now, status=ExecutionStatus.RUNNING,
                            started_at=now, host=HOST, pid=os.getpid())  # fmt: skip
    queued = TaskExecution(**common, created_at=now, status=ExecutionStatus.QUEUED)
    try:
        with transaction.atomic() if conn.in_atomic_block else nullcontext():
            task, pk, earlier = hot.claim_and_start(conn, task_id, running, queued)
    except IntegrityError:  # the task was deleted meanwhile (its foreign key)
        pk = None
        task = None
    if pk is None:
        name = task.name if task is not None else f"#{task_id}"
        logger.info("Task %s at %s already claimed elsewhere", name, scheduled_for)
        return None
    execution = queued if task.queue else running
    execution.pk, execution.task = pk, task
    execution._state.adding, execution._state.db = False, conn.alias
    return task, execution, earlier


def record_missed(task_id: int, scheduled_for: datetime, late_seconds: float) -> None:
    """Record a fire time dispatched too late to run (past the task's misfire grace).

    The row is inserted as `skipped` in one statement: a `running` row, even for
    a moment, would make an on-time fire of the same task skip as overlapping.
    """
    tidy_connections()
    task = load_task(task_id)
    reason = (
        f"Missed: dispatched {late_seconds:.0f} s late, beyond the "
        f"{task.misfire_grace_seconds} s misfire grace."
    )
    now = timezone.now()
    execution = claim_fire(
        task,
        scheduled_for,
        ExecutionTrigger.SCHEDULE,
        status=ExecutionStatus.SKIPPED,
        finished_at=now,
        duration_ms=0,
        error=reason,
    )
    if execution is not None:
        logger.info("Skipped %s #%s: %s", task.name, execution.pk, reason)


def fail_running(execution_id: int, error: str) -> TaskExecution | None:
    """Record a failure for a run whose own process cannot (killed at a hard time limit).

    The same bookkeeping as any failure: counters, retry, `task_finished`
    (alerts, chains). Conditional on the row still being `running`, so a run
    recorded meanwhile is left as it is; None then.
    """
    tidy_connections()
    execution = (
        TaskExecution.objects.select_related("task")
        .filter(pk=execution_id, status=ExecutionStatus.RUNNING)
        .first()
    )
    if execution is None:
        return None
    started = execution.started_at or timezone.now()
    duration_ms = max(0, int((timezone.now() - started).total_seconds() * 1000))
    outcome = Outcome(execution.task, execution, False, None, error, duration_ms, execution.log)
    _write_outcomes([outcome])
    _finish(outcome)
    return execution


def run_queued(execution_id: int) -> TaskExecution | None:
    """Run a queued (manual or retry) execution unless another process claimed it."""
    tidy_connections()
    try:
        if not claim_queued(execution_id):
            return None
        execution = TaskExecution.objects.select_related("task").get(pk=execution_id)
        return execute(execution)
    finally:
        tidy_connections()


def run_now(
    task: Task,
    *,
    trigger: str = ExecutionTrigger.CLI,
    kwargs: dict[str, Any] | None = None,
    requested_by: Any = None,
) -> TaskExecution:
    """Run a task inline in this process (the `runtask` command)."""
    execution = TaskExecution(
        task=task,
        trigger=trigger,
        status=ExecutionStatus.RUNNING,
        started_at=timezone.now(),
        requested_by=requested_by,
        kwargs=kwargs,
        host=HOST,
        pid=os.getpid(),
    )
    hot, conn = HotSql.current()
    hot.insert_execution(conn, execution)
    return execute(execution, task)
