"""Run one execution of a task with all its bookkeeping.

Every way a task runs (scheduler fire, queued manual run, retry, catch-up,
`runtask`) goes through the same steps (`_run`, `_write_outcomes`, `_finish`),
so counters, history and signals behave the same everywhere. Algorithm:

1. Claim the execution row (insert for a fire time, conditional UPDATE for a
   queued row). Losing either race means another process runs it: do nothing.
2. Resolve the function and call it with the task's kwargs; time it.
3. Store the outcome (result as JSON, or traceback), capped at 64 KiB.
4. Update the task's counters in one UPDATE with column arithmetic.
5. Queue a retry if the policy allows, then send `task_finished`.

`execute` does them for one run. The engine's scheduled fires take the batch
path instead: `claim_fires` claims every fire due in one pass with one
multi-row INSERT, `run_claimed` only runs, and `record_outcomes` stores a batch
of outcomes in one transaction, so 1,000 tasks due at once do not start one
after another's bookkeeping.

The statements a run needs every time (read the task, claim, the overlap
check, the outcome) are plain SQL built once from the models' meta: the ORM
spent about 3 ms per run compiling them, 10x the database's own time.
"""

from __future__ import annotations

import json
import logging
import os
import random
import socket
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from django.core.serializers.json import DjangoJSONEncoder
from django.db import (
    DEFAULT_DB_ALIAS,
    IntegrityError,
    InterfaceError,
    OperationalError,
    close_old_connections,
    connection,
    connections,
    models,
    transaction,
)
from django.db.models.expressions import Col
from django.utils import timezone

from scheduling import registry, signals, triggers
from scheduling.models import ExecutionStatus, ExecutionTrigger, Task, TaskExecution

logger = logging.getLogger(__name__)

MAX_STORED_BYTES = 64 * 1024
T = TypeVar("T")
HOST = socket.gethostname()


class _HotSql:
    """The runner's per-run statements as SQL text, built once per database vendor.

    Values go through their field's `get_db_prep_save` (only fields whose
    values need it: dates and JSON) and rows through the backend's converters,
    so what is written and read is what the ORM would write and read.
    """

    def __init__(self, conn: Any) -> None:
        qn = self.qn = conn.ops.quote_name
        task_table, run_table = qn(Task._meta.db_table), qn(TaskExecution._meta.db_table)
        self.run_table = run_table
        self.can_return = bool(getattr(conn.features, "can_return_columns_from_insert", False))
        self.task_fields = list(Task._meta.concrete_fields)
        self.task_attnames = [f.attname for f in self.task_fields]
        self.task_converters = [self._converters(f, conn) for f in self.task_fields]
        columns = ", ".join(qn(f.column) for f in self.task_fields)
        self.select_task = f"SELECT {columns} FROM {task_table} WHERE {qn('id')} = %s"
        self.run_fields = [
            (f, _needs_prep(f)) for f in TaskExecution._meta.concrete_fields if not f.primary_key
        ]
        self.run_attnames = [f.attname for f, _ in self.run_fields]
        returning = f" RETURNING {qn('id')}" if self.can_return else ""
        self.insert_run = (
            f"INSERT INTO {run_table} ({', '.join(qn(f.column) for f, _ in self.run_fields)}) "
            f"VALUES ({', '.join(['%s'] * len(self.run_fields))}){returning}"
        )
        self.overlap = (
            f"SELECT {qn('id')} FROM {run_table} WHERE {qn('task_id')} = %s "
            f"AND {qn('status')} = %s AND {qn('id')} < %s LIMIT 1"
        )
        self.finish_run = (
            f"UPDATE {run_table} SET {qn('status')} = %s, {qn('finished_at')} = %s, "
            f"{qn('duration_ms')} = %s, {qn('result')} = %s, {qn('error')} = %s "
            f"WHERE {qn('id')} = %s AND {qn('status')} = %s"
        )
        counters = ", ".join(
            f"{qn(name)} = {qn(name)} + %s"
            for name in ("run_count", "success_count", "failure_count")
        )
        consecutive = qn("consecutive_failures")
        self.count_run = (
            f"UPDATE {task_table} SET {counters}, "
            f"{consecutive} = CASE WHEN %s THEN 0 ELSE {consecutive} + 1 END, "
            f"{qn('last_status')} = %s, {qn('last_run_at')} = %s, "
            f"{qn('last_duration_ms')} = %s, {qn('next_run_at')} = %s WHERE {qn('id')} = %s"
        )
        self.prep_datetime = TaskExecution._meta.get_field("finished_at").get_db_prep_save
        self.prep_result = TaskExecution._meta.get_field("result").get_db_prep_save

    @staticmethod
    def _converters(field: Any, conn: Any) -> list[tuple[Callable, Col]]:
        col = field.get_col(field.model._meta.db_table)
        found = conn.ops.get_db_converters(col) + col.get_db_converters(conn)
        return [(converter, col) for converter in found]

    @classmethod
    def current(cls) -> tuple[_HotSql, Any]:
        """The statements for this thread's default connection, and that connection."""
        conn = connections[DEFAULT_DB_ALIAS]
        hot = _HOT_SQL.get(conn.vendor)
        if hot is None:
            hot = _HOT_SQL[conn.vendor] = cls(conn)
        return hot, conn

    def load_task(self, conn: Any, task_id: int) -> Task:
        """`Task.objects.get(pk=task_id)` without the ORM's query building."""
        with conn.cursor() as cursor:
            cursor.execute(self.select_task, [task_id])
            row = cursor.fetchone()
        if row is None:
            raise Task.DoesNotExist(f"Task {task_id} does not exist.")
        values = list(row)
        for i, converters in enumerate(self.task_converters):
            for converter, col in converters:
                values[i] = converter(values[i], col, conn)
        return Task.from_db(conn.alias, self.task_attnames, values)

    def insert_execution(self, conn: Any, execution: TaskExecution) -> None:
        """Insert `execution` (unsaved) and set its pk, as `save()` would."""
        params = [
            f.get_db_prep_save(f.pre_save(execution, True), conn)
            if prep
            else getattr(execution, f.attname)
            for f, prep in self.run_fields
        ]
        with conn.cursor() as cursor:
            cursor.execute(self.insert_run, params)
            if self.can_return:
                execution.pk = cursor.fetchone()[0]
            else:
                execution.pk = conn.ops.last_insert_id(cursor, TaskExecution._meta.db_table, "id")
        execution._state.adding = False
        execution._state.db = conn.alias

    def load_tasks(self, conn: Any, task_ids: list[int]) -> dict[int, Task]:
        """Tasks by id, one query (missing ids are left out)."""
        where = self.select_task.replace("= %s", f"IN ({', '.join(['%s'] * len(task_ids))})")
        with conn.cursor() as cursor:
            cursor.execute(where, task_ids)
            rows = cursor.fetchall()
        tasks = {}
        for row in rows:
            values = list(row)
            for i, converters in enumerate(self.task_converters):
                for converter, col in converters:
                    values[i] = converter(values[i], col, conn)
            task = Task.from_db(conn.alias, self.task_attnames, values)
            tasks[task.pk] = task
        return tasks

    def insert_fires(
        self, conn: Any, template: TaskExecution, fires: list[tuple[int, datetime]]
    ) -> list[int | None]:
        """Insert one row per (task id, fire time), like `template` otherwise, in one statement.

        Returns the new rows' ids by position; None where another scheduler had
        already claimed that fire (the unique constraint, ON CONFLICT DO
        NOTHING). Each task appears at most once in `fires`, so rows are
        matched back by task id. Only the two values that differ are adapted
        per row.
        """
        base = [
            f.get_db_prep_save(f.pre_save(template, True), conn)
            if prep
            else getattr(template, f.attname)
            for f, prep in self.run_fields
        ]
        when_field = TaskExecution._meta.get_field("scheduled_for")
        at_task, at_when = (
            self.run_attnames.index("task_id"),
            self.run_attnames.index("scheduled_for"),
        )
        params: list[Any] = []
        for task_id, when in fires:
            row = base.copy()
            row[at_task], row[at_when] = task_id, when_field.get_db_prep_save(when, conn)
            params += row
        values = f"({', '.join(['%s'] * len(self.run_fields))})"
        sql = self.insert_run.replace(
            f"VALUES {values}", f"VALUES {', '.join([values] * len(fires))}"
        ).replace(" RETURNING ", f" ON CONFLICT DO NOTHING RETURNING {self.qn('task_id')}, ")
        with conn.cursor() as cursor:
            cursor.execute(sql, params)
            ids = dict(cursor.fetchall())
        return [ids.get(task_id) for task_id, _ in fires]

    def earliest_running(self, conn: Any, task_ids: list[int]) -> dict[int, int]:
        """task id -> smallest id of its running executions, for the given tasks."""
        qn = self.qn
        sql = (
            f"SELECT {qn('task_id')}, MIN({qn('id')}) FROM {self.run_table} "
            f"WHERE {qn('status')} = %s AND {qn('task_id')} IN "
            f"({', '.join(['%s'] * len(task_ids))}) GROUP BY {qn('task_id')}"
        )
        with conn.cursor() as cursor:
            cursor.execute(sql, [ExecutionStatus.RUNNING, *task_ids])
            return dict(cursor.fetchall())

    def earlier_running(self, conn: Any, task_id: int, execution_id: int) -> int | None:
        with conn.cursor() as cursor:
            cursor.execute(self.overlap, [task_id, ExecutionStatus.RUNNING, execution_id])
            row = cursor.fetchone()
        return row[0] if row else None


def _needs_prep(field: Any) -> bool:
    """Whether a value must be adapted for the database (dates, JSON); others go as they are."""
    return isinstance(field, models.DateTimeField | models.JSONField)


_HOT_SQL: dict[str, _HotSql] = {}


def _load_task(task_id: int) -> Task:
    hot, conn = _HotSql.current()
    return hot.load_task(conn, task_id)


def _tidy_connections() -> None:
    # Never inside an atomic block: closing there would break the transaction.
    if not connection.in_atomic_block:
        close_old_connections()


def cap_text(text: str, limit: int = MAX_STORED_BYTES) -> str:
    """Keep a long text under `limit` bytes, keeping its head and its (informative) tail."""
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    keep = limit // 2 - 64
    head = data[:keep].decode("utf-8", "ignore")
    tail = data[-keep:].decode("utf-8", "ignore")
    return f"{head}\n\n[... {len(data) - 2 * keep} bytes cut ...]\n\n{tail}"


def to_json_result(value: Any) -> Any:
    """What to store for a function's return value: JSON as is, else a note."""
    if value is None:
        return None
    try:
        text = json.dumps(value, cls=DjangoJSONEncoder)
    except (TypeError, ValueError):
        return {
            "note": "The task returned a value that is not JSON; its repr is stored.",
            "repr": cap_text(repr(value), MAX_STORED_BYTES - 200),
        }
    if len(text.encode("utf-8")) > MAX_STORED_BYTES:
        return {
            "note": f"The result was {len(text)} characters; only the start is kept.",
            "truncated": cap_text(text, MAX_STORED_BYTES - 200)[: MAX_STORED_BYTES // 2],
        }
    return json.loads(text)


def retry_delay(task: Task, attempt: int, rng: random.Random | None = None) -> float:
    """Seconds before retry number `attempt` (1-based): exponential, jittered, capped.

    Full jitter between half and all of base * 2^(attempt-1), so retries of many
    tasks failing together do not arrive in lockstep.
    """
    ceiling = min(task.retry_backoff_max_seconds, task.retry_backoff_seconds * 2 ** (attempt - 1))
    return (rng or random).uniform(ceiling / 2, ceiling)


def claim_fire(task: Task, scheduled_for: datetime, trigger: str) -> TaskExecution | None:
    """Insert the execution for one fire time; None if another scheduler already did."""
    execution = TaskExecution(
        task=task,
        trigger=trigger,
        scheduled_for=scheduled_for,
        status=ExecutionStatus.RUNNING,
        started_at=timezone.now(),
        host=HOST,
        pid=os.getpid(),
    )
    try:
        # One statement is atomic on its own; inside a transaction, a savepoint
        # keeps a lost race from breaking the caller's transaction.
        hot, conn = _HotSql.current()
        if conn.in_atomic_block:
            with transaction.atomic():
                hot.insert_execution(conn, execution)
        else:
            hot.insert_execution(conn, execution)
        return execution
    except IntegrityError:
        logger.info("Task %s at %s already claimed elsewhere", task.name, scheduled_for)
        return None


def claim_queued(execution_id: int) -> bool:
    """Move a queued execution to running; False if someone else took it."""
    return bool(
        TaskExecution.objects.filter(pk=execution_id, status=ExecutionStatus.QUEUED).update(
            status=ExecutionStatus.RUNNING, started_at=timezone.now(), host=HOST, pid=os.getpid()
        )
    )


def _overlapping_run(task: Task, execution: TaskExecution) -> TaskExecution | None:
    if task.allow_overlap:
        return None
    hot, conn = _HotSql.current()
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


def _call(task: Task, execution: TaskExecution) -> tuple[bool, Any, str]:
    try:
        func = registry.resolve(task.func)
        kwargs = execution.kwargs if execution.kwargs is not None else (task.kwargs or {})
        if not isinstance(kwargs, dict):
            raise TypeError(f"kwargs must be a JSON object, got {type(kwargs).__name__}")
        return True, func(**kwargs), ""
    except Exception as exc:  # noqa: BLE001 - a task failure is data, not a crash
        message = f"{type(exc).__name__}: {exc}"
        return False, None, cap_text(f"{message}\n\n{traceback.format_exc()}")


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


def _write_outcomes(outcomes: list[Outcome]) -> None:
    """Store outcomes and count them on their tasks: one transaction for the whole list."""
    rows = []
    for o in outcomes:
        finished = timezone.now()
        status = ExecutionStatus.SUCCESS if o.ok else ExecutionStatus.FAILED
        stored = to_json_result(o.result) if o.ok else None
        next_run = triggers.next_run_after(o.task, finished) if o.task.enabled else None
        rows.append((o, finished, status, stored, next_run))

    def write() -> None:
        hot, conn = _HotSql.current()
        prep = hot.prep_datetime
        with transaction.atomic(), conn.cursor() as cursor:
            for o, finished, status, stored, next_run in rows:
                # Conditional on `running`, so a retried write never counts twice.
                cursor.execute(
                    hot.finish_run,
                    [
                        status,
                        prep(finished, conn),
                        o.duration_ms,
                        hot.prep_result(stored, conn),
                        o.error,
                        o.execution.pk,
                        ExecutionStatus.RUNNING,
                    ],
                )
                if not cursor.rowcount:
                    continue
                cursor.execute(
                    hot.count_run,
                    [
                        1,
                        int(o.ok),
                        int(not o.ok),
                        o.ok,
                        status,
                        prep(o.execution.started_at, conn),
                        o.duration_ms,
                        prep(next_run, conn),
                        o.task.pk,
                    ],
                )

    first = outcomes[0]
    what = f"recording {first.task.name} #{first.execution.pk}"
    _with_db_retry(write, what if len(outcomes) == 1 else f"{what} and {len(outcomes) - 1} more")
    for o, finished, status, stored, _ in rows:
        execution = o.execution
        execution.status, execution.finished_at = status, finished
        execution.duration_ms, execution.result, execution.error = o.duration_ms, stored, o.error


def _finish(outcome: Outcome) -> None:
    """After the outcome is stored: queue a retry if due, log, send `task_finished`."""
    task, execution = outcome.task, outcome.execution
    retry = _queue_retry(task, execution)
    logger.info(
        "Finish %s #%s: %s in %d ms%s",
        task.name,
        execution.pk,
        execution.status,
        outcome.duration_ms,
        f" (retry #{retry.pk} queued)" if retry else "",
    )
    signals.task_finished.send(sender=Task, task=task, execution=execution, final=retry is None)


def _run(task: Task, execution: TaskExecution) -> Outcome:
    logger.info("Start %s #%s (%s)", task.name, execution.pk, execution.trigger)
    started = time.monotonic()
    ok, result, error = _call(task, execution)
    duration_ms = int((time.monotonic() - started) * 1000)
    return Outcome(task, execution, ok, result, error, duration_ms)


def _queue_retry(task: Task, execution: TaskExecution) -> TaskExecution | None:
    if execution.status != ExecutionStatus.FAILED or execution.attempt > task.max_retries:
        return None
    if execution.trigger == ExecutionTrigger.CLI:  # the caller is waiting for the outcome
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
    overlapping = _overlapping_run(task, execution)
    if overlapping is not None:
        return _skip(execution, f"Previous run #{overlapping.pk} was still running.")
    outcome = _run(task, execution)
    _tidy_connections()  # a long task may have outlived the connection
    _write_outcomes([outcome])
    _finish(outcome)
    return execution


# --- many fires at once (the engine's path) -------------------------------------
@dataclass
class Claim:
    """A fire this process claimed: its task, its `running` row, and an earlier run if any."""

    task: Task
    execution: TaskExecution
    earlier_running: int | None


def claim_fires(fires: list[tuple[int, datetime]], trigger: str = "schedule") -> list[Claim]:
    """Claim many (task id, fire time) pairs with a few statements instead of a few per fire.

    One read of the tasks, one multi-row INSERT (fires claimed elsewhere are
    left out, as `claim_fire` leaves them) and one read for overlapping runs,
    per chunk. Missing tasks (deleted since scheduling) are skipped.
    """
    _tidy_connections()
    hot, conn = _HotSql.current()
    if not hot.can_return:  # no INSERT ... RETURNING: claim one by one
        claims = []
        for task_id, when in fires:
            task = _load_task(task_id)
            execution = claim_fire(task, when, trigger)
            if execution is not None:
                claims.append(Claim(task, execution, _earlier_id(task, execution)))
        return claims
    claims = []
    for chunk in _chunks_of_distinct_tasks(fires, CLAIM_CHUNK):
        claims += _claim_chunk(hot, conn, chunk, trigger)
    return claims


CLAIM_CHUNK = 500


def _chunks_of_distinct_tasks(
    fires: list[tuple[int, datetime]], size: int
) -> list[list[tuple[int, datetime]]]:
    """Split into chunks of at most `size` in which no task appears twice."""
    chunks: list[list[tuple[int, datetime]]] = []
    seen: list[set[int]] = []
    for fire in fires:
        for chunk, ids in zip(chunks, seen, strict=True):
            if len(chunk) < size and fire[0] not in ids:
                chunk.append(fire)
                ids.add(fire[0])
                break
        else:
            chunks.append([fire])
            seen.append({fire[0]})
    return chunks


def _claim_chunk(hot: _HotSql, conn: Any, fires: list[tuple[int, datetime]], trigger: str):
    tasks = hot.load_tasks(conn, [task_id for task_id, _ in fires])
    fires = [(task_id, when) for task_id, when in fires if task_id in tasks]
    if not fires:
        return []
    template = TaskExecution(
        trigger=trigger,
        status=ExecutionStatus.RUNNING,
        started_at=timezone.now(),
        host=HOST,
        pid=os.getpid(),
    )
    with transaction.atomic():  # a savepoint inside a caller's transaction, else one commit
        ids = hot.insert_fires(conn, template, fires)
    # Positional construction is Django's fast path (as in `from_db`).
    fields = TaskExecution._meta.concrete_fields
    values = [getattr(template, f.attname) for f in fields]
    at = {name: i for i, name in enumerate(f.attname for f in fields)}
    claimed = []
    for (task_id, when), pk in zip(fires, ids, strict=True):
        if pk is None:
            logger.info("Task %s at %s already claimed elsewhere", tasks[task_id].name, when)
            continue
        values[at["id"]], values[at["task_id"]], values[at["scheduled_for"]] = pk, task_id, when
        execution = TaskExecution(*values)
        execution.task = tasks[task_id]
        execution._state.adding, execution._state.db = False, conn.alias
        claimed.append(execution)
    guarded = [e.task_id for e in claimed if not e.task.allow_overlap]
    earliest = hot.earliest_running(conn, guarded) if guarded else {}
    return [
        Claim(e.task, e, earliest[e.task_id] if earliest.get(e.task_id, e.pk) < e.pk else None)
        for e in claimed
    ]


def _earlier_id(task: Task, execution: TaskExecution) -> int | None:
    overlapping = _overlapping_run(task, execution)
    return None if overlapping is None else overlapping.pk


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
        _tidy_connections()


def record_outcomes(outcomes: list[Outcome]) -> None:
    """Store many runs' outcomes in one transaction, then retry/log/signal each.

    A receiver of `task_finished` that raises does not keep the others from
    hearing about their runs.
    """
    if not outcomes:
        return
    _tidy_connections()
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
    _tidy_connections()
    try:
        task = _load_task(task_id)
        execution = claim_fire(task, scheduled_for, trigger)
        return execute(execution, task) if execution else None
    finally:
        _tidy_connections()


def record_missed(task_id: int, scheduled_for: datetime, late_seconds: float) -> None:
    """Record a fire time dispatched too late to run (past the task's misfire grace)."""
    _tidy_connections()
    task = _load_task(task_id)
    execution = claim_fire(task, scheduled_for, ExecutionTrigger.SCHEDULE)
    if execution is not None:
        _skip(
            execution,
            f"Missed: dispatched {late_seconds:.0f} s late, beyond the "
            f"{task.misfire_grace_seconds} s misfire grace.",
        )


def run_queued(execution_id: int) -> TaskExecution | None:
    """Run a queued (manual or retry) execution unless another process claimed it."""
    _tidy_connections()
    try:
        if not claim_queued(execution_id):
            return None
        execution = TaskExecution.objects.select_related("task").get(pk=execution_id)
        return execute(execution)
    finally:
        _tidy_connections()


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
    hot, conn = _HotSql.current()
    hot.insert_execution(conn, execution)
    return execute(execution, task)
