"""The runner's per-run statements as SQL text, built once per database vendor.

A run needs the same few statements every time (read the task, claim the
fire, check for an overlapping run, store the outcome); the ORM spent about
3 ms per run compiling them, 10x the database's own time. The SQL here is
built from the models' meta, and values still pass through the fields' own
preparation and converters (`scheduling/tests/test_runner_sql.py` pins the
equivalence with the ORM).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections, models
from django.db.models.expressions import Col

from scheduling.models import ExecutionStatus, Task, TaskExecution

# Columns whose claimed value depends on whether the task runs here or on a worker.
QUEUE_DEPENDENT = frozenset({"status", "started_at", "host", "pid"})
# The outcomes the alert policy compares a run with (notifications.policy).
OUTCOME_STATUSES = (ExecutionStatus.SUCCESS, ExecutionStatus.FAILED, ExecutionStatus.ABANDONED)


class HotSql:
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
            (f, needs_prep(f)) for f in TaskExecution._meta.concrete_fields if not f.primary_key
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
            f"{qn('duration_ms')} = %s, {qn('result')} = %s, {qn('error')} = %s, "
            f"{qn('log')} = %s WHERE {qn('id')} = %s AND {qn('status')} = %s"
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
        # PostgreSQL sends every statement as a round trip (~0.3 ms here), so
        # there `run_fire` claims in one statement and records in one.
        self.one_trip = conn.vendor == "postgresql"
        if self.one_trip:
            self.claim_start = self._claim_start_sql(task_table)
            self.finish_and_count = self._finish_and_count_sql(task_table)
        self.prep_datetime = TaskExecution._meta.get_field("finished_at").get_db_prep_save
        self.prep_result = TaskExecution._meta.get_field("result").get_db_prep_save

    def _claim_start_sql(self, task_table: str) -> str:
        """PostgreSQL: read the task, claim the fire and look for an earlier run, one statement.

        A data-modifying CTE: the task row is read, the execution inserted from
        it (`running` here, or `queued` for a task with a queue, decided in SQL
        from the row just read) under ON CONFLICT DO NOTHING, and an earlier
        `running` run of the task is looked up, so claim and start cost one round
        trip instead of three. No row back: the task does not exist.
        """
        qn = self.qn
        local = f"COALESCE(t.{qn('queue')}, '') = ''"
        values = []
        for f, _ in self.run_fields:
            if f.attname == "task_id":
                values.append(f"t.{qn('id')}")
            elif f.attname in QUEUE_DEPENDENT:
                values.append(f"CASE WHEN {local} THEN %s ELSE %s END")
            else:
                values.append("%s")
        columns = ", ".join(f"t.{qn(f.column)}" for f in self.task_fields)
        earlier = (
            f"SELECT e.{qn('id')} FROM {self.run_table} e WHERE e.{qn('task_id')} = t.{qn('id')} "
            f"AND e.{qn('status')} = %s AND e.{qn('id')} < ins.{qn('id')} LIMIT 1"
        )
        return (
            f"WITH t AS ({self.select_task}), "
            f"ins AS (INSERT INTO {self.run_table} "
            f"({', '.join(qn(f.column) for f, _ in self.run_fields)}) "
            f"SELECT {', '.join(values)} FROM t "
            f"ON CONFLICT DO NOTHING RETURNING {qn('id')}, {qn('status')}) "
            f"SELECT {columns}, ins.{qn('id')}, "
            f"CASE WHEN ins.{qn('status')} = %s AND NOT t.{qn('allow_overlap')} "
            f"THEN ({earlier}) END "
            f"FROM t LEFT JOIN ins ON TRUE"
        )

    @contextmanager
    def one_trip_cursor(self, conn: Any) -> Iterator[Any]:
        """A cursor for `claim_start` and `finish_and_count`, prepared once per connection.

        Planning these two statements took longer than running them (about
        0.4 ms a run here), and Django's cursors bind on the client, so they
        never prepare. Django's wrapper is kept (health check, error
        translation, query logging); only the psycopg cursor inside is swapped
        for a server-binding one that prepares. SCHEDULER_PREPARED_STATEMENTS
        false turns it off (poolers that cannot keep prepared statements).
        """
        with conn.cursor() as cursor:
            if not (self.one_trip and settings.SCHEDULER_PREPARED_STATEMENTS):
                yield cursor
                return
            raw = conn.connection
            if raw.prepare_threshold is None:  # Django's default: psycopg would never prepare
                raw.prepare_threshold = ONLY_WHEN_ASKED
            client = cursor.cursor
            cursor.cursor = _prepared_cursor_class()(raw)
            try:
                yield cursor
            finally:
                cursor.cursor.close()
                cursor.cursor = client

    def claim_and_start(
        self, conn: Any, task_id: int, running: TaskExecution, queued: TaskExecution
    ) -> tuple[Task, int | None, int | None]:
        """Run `claim_start` (PostgreSQL only): (task, new execution id or None, earlier run id).

        `running` and `queued` are the unsaved row as it would be claimed for a
        local task and for a queue task; the statement picks one by the task's
        `queue`. Raises Task.DoesNotExist when the task is gone.
        """
        params: list[Any] = [task_id]
        for f, prep in self.run_fields:
            if f.attname == "task_id":
                continue
            for row in (running, queued) if f.attname in QUEUE_DEPENDENT else (running,):
                value = f.pre_save(row, True) if prep else getattr(row, f.attname)
                params.append(f.get_db_prep_save(value, conn) if prep else value)
        params += [ExecutionStatus.RUNNING, ExecutionStatus.RUNNING]
        with self.one_trip_cursor(conn) as cursor:
            cursor.execute(self.claim_start, params)
            row = cursor.fetchone()
        if row is None:
            raise Task.DoesNotExist(f"Task {task_id} does not exist.")
        width = len(self.task_fields)
        return self._task_from_row(conn, row[:width]), row[width], row[width + 1]

    def _task_from_row(self, conn: Any, row: Any) -> Task:
        values = list(row)
        for i, converters in enumerate(self.task_converters):
            for converter, col in converters:
                values[i] = converter(values[i], col, conn)
        return Task.from_db(conn.alias, self.task_attnames, values)

    def _finish_and_count_sql(self, task_table: str) -> str:
        """PostgreSQL: `finish_run` and `count_run` in one statement, plus what receivers read.

        The counters change only if the conditional finish did (`EXISTS (SELECT
        1 FROM fin)`), as in the two-statement path. The statement also returns
        the task's previous outcome (alert policy) and whether any enabled task
        runs after it (chains), so the `task_finished` receivers need no query
        of their own for a healthy task. Rows other than this run's are read as
        they were when the statement began, as separate reads would see them.
        """
        qn = self.qn
        statuses = ", ".join(["%s"] * len(OUTCOME_STATUSES))
        return (
            f"WITH fin AS ({self.finish_run} RETURNING {qn('task_id')}), "
            f"cnt AS ({self.count_run} AND EXISTS (SELECT 1 FROM fin) RETURNING 1) "
            f"SELECT (SELECT COUNT(*) FROM fin), "
            f"(SELECT {qn('status')} FROM {self.run_table} WHERE {qn('task_id')} = %s "
            f"AND {qn('id')} < %s AND {qn('status')} IN ({statuses}) "
            f"ORDER BY {qn('id')} DESC LIMIT 1), "
            f"EXISTS (SELECT 1 FROM {task_table} WHERE {qn('after_task_id')} = %s "
            f"AND {qn('trigger_type')} = %s AND {qn('enabled')})"
        )

    @staticmethod
    def _converters(field: Any, conn: Any) -> list[tuple[Callable, Col]]:
        col = field.get_col(field.model._meta.db_table)
        found = conn.ops.get_db_converters(col) + col.get_db_converters(conn)
        return [(converter, col) for converter in found]

    @classmethod
    def current(cls) -> tuple[HotSql, Any]:
        """The statements for this thread's default connection, and that connection."""
        conn = connections[DEFAULT_DB_ALIAS]
        hot = _BY_VENDOR.get(conn.vendor)
        if hot is None:
            hot = _BY_VENDOR[conn.vendor] = cls(conn)
        return hot, conn

    def load_task(self, conn: Any, task_id: int) -> Task:
        """`Task.objects.get(pk=task_id)` without the ORM's query building."""
        with conn.cursor() as cursor:
            cursor.execute(self.select_task, [task_id])
            row = cursor.fetchone()
        if row is None:
            raise Task.DoesNotExist(f"Task {task_id} does not exist.")
        return self._task_from_row(conn, row)

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
            task = self._task_from_row(conn, row)
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


def needs_prep(field: Any) -> bool:
    """Whether a value must be adapted for the database (dates, JSON); others go as they are."""
    return isinstance(field, models.DateTimeField | models.JSONField)


_BY_VENDOR: dict[str, HotSql] = {}

# A psycopg prepare threshold no statement reaches by repetition alone: only
# the statements executed with prepare=True (`one_trip_cursor`) are prepared.
ONLY_WHEN_ASKED = 2**31


@functools.cache
def _prepared_cursor_class() -> type:
    """Django's server-binding psycopg cursor, preparing every statement it executes."""
    from django.db.backends.postgresql.base import ServerBindingCursor

    class PreparedCursor(ServerBindingCursor):
        def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
            return super().execute(query, params, **(kwargs | {"prepare": True}))

    return PreparedCursor
