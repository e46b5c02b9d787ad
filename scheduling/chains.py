"""Chains: a task that runs when another task's run finishes.

An `after` task has no schedule of its own: no APScheduler job, no
`next_run_at`, no catch-up. When a run of its upstream task (`after_task`)
finishes for good with a matching outcome, one execution of it is queued with
trigger `chain` and `parent` = that run; the engine starts it like any queued
run (`Engine.dispatch_queued`), and a Celery worker will too.

Rules, in one place:

1. Which outcomes match: `success` a successful run; `failure` a failed or
   abandoned one; `any` all three. A skipped run did not run, so it starts
   nothing; a failure that queues a retry is not final, so it waits for the retry.
2. A paused downstream task queues nothing (it is not kept for later).
3. Exactly once: the queued row is inserted under the unique (task, parent)
   constraint of chain rows, so two schedulers, or a signal sent twice, never
   queue two runs of one downstream task for one upstream run.
4. Loops (a after b, b after a) are refused when a task is saved, with the loop
   named; queueing refuses one too, in case a row was written around the checks.
5. An upstream cannot be deleted while tasks run after it (PROTECT in the
   database; `deletion_refusal` is the message every path shows).
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from scheduling.models import (
    AfterStatus,
    ExecutionStatus,
    ExecutionTrigger,
    Task,
    TaskExecution,
    TriggerType,
)

logger = logging.getLogger(__name__)

# Execution status -> the `after_status` values it starts.
STARTS = {
    ExecutionStatus.SUCCESS: (AfterStatus.SUCCESS, AfterStatus.ANY),
    ExecutionStatus.FAILED: (AfterStatus.FAILURE, AfterStatus.ANY),
    ExecutionStatus.ABANDONED: (AfterStatus.FAILURE, AfterStatus.ANY),
}

# Any number: it only has to be the same in every process editing chains.
_EDIT_LOCK_KEY = 0x43484149  # "CHAI"


# --- what a chain may look like (saving) ----------------------------------------
def _edges() -> dict[int, tuple[int, str]]:
    """Every `after` task: id -> (upstream id, its own name), in one query."""
    rows = Task.objects.filter(trigger_type=TriggerType.AFTER, after_task__isnull=False)
    return {
        pk: (upstream, name)
        for pk, upstream, name in rows.values_list("pk", "after_task_id", "name")
    }


def _walk_up(start: int, stop: int, edges: dict[int, tuple[int, str]]) -> list[str] | None:
    """Names met walking upstream from `start` until `stop` (None: the walk ends elsewhere)."""
    path, current, seen = [], start, set()
    while current != stop:
        if current not in edges or current in seen:
            return None
        seen.add(current)
        upstream, name = edges[current]
        path.append(name)
        current = upstream
    return path


def find_loop(task: Task) -> list[str] | None:
    """The loop that saving `task` would close, as names (first == last), or None.

    Walks upstream from the task's `after_task` through the stored chain, with
    the values being saved in place of the task's stored row.
    """
    if task.trigger_type != TriggerType.AFTER or task.after_task_id is None or task.pk is None:
        return None
    edges = _edges()
    edges[task.pk] = (task.after_task_id, task.name)
    path = _walk_up(task.after_task_id, task.pk, edges)
    return None if path is None else [task.name, *path, task.name]


def loop_message(loop: list[str]) -> str:
    return (
        f"after_task: that would make a loop ({' -> '.join(loop)}: each runs after the next, "
        "so they would start each other forever); choose a task that does not run after "
        f"{loop[0]}"
    )


def problems(task: Task) -> list[str]:
    """Why the `after` fields of `task` cannot be saved ([] when they can)."""
    if task.after_task_id is None:
        return ["after_task: choose the task this one runs after"]
    if task.pk is not None and task.after_task_id == task.pk:
        return ["after_task: a task cannot run after itself"]
    loop = find_loop(task)
    return [loop_message(loop)] if loop else []


def lock_for_edit(task: Task) -> None:
    """Inside the saving transaction: check again, with concurrent chain edits shut out.

    Two people saving "a after b" and "b after a" at the same moment each see
    no loop. On PostgreSQL a transaction-scoped advisory lock makes such saves
    take turns (SQLite's IMMEDIATE transactions already do), and the upstream
    row is locked so a concurrent deletion of it waits for this save (and is
    then refused) instead of leaving this one pointing at nothing.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_EDIT_LOCK_KEY])
    if not Task.objects.select_for_update().filter(pk=task.after_task_id).exists():
        raise ValidationError(
            {
                "after_task": [
                    "after_task: the task to run after was deleted meanwhile; choose another"
                ]
            }
        )
    found = problems(task)
    if found:
        raise ValidationError({"after_task": found})


def deletion_refusal(task: Task) -> str | None:
    """Why `task` cannot be deleted now (tasks run after it), or None."""
    names = list(
        Task.objects.filter(after_task_id=task.pk).order_by("name").values_list("name", flat=True)
    )
    if not names:
        return None
    if len(names) == 1:
        return (
            f"{task.name} cannot be deleted: {names[0]} runs after it. Change its trigger "
            "or delete it first."
        )
    return (
        f"{task.name} cannot be deleted: {', '.join(names)} run after it. Change their "
        "trigger or delete them first."
    )


def children(execution: TaskExecution, limit: int = 100) -> list[TaskExecution]:
    """The chain runs this run started (with their tasks), oldest first; one query."""
    rows = execution.children.filter(trigger=ExecutionTrigger.CHAIN).select_related("task")
    return list(rows.order_by("id")[:limit])


# --- queueing runs (when an upstream run finishes) -------------------------------
_DOWNSTREAM_SQL = None


def _downstream_sql() -> str:
    """Plain SQL: it runs after every run, and the ORM's query building would cost more than it."""
    global _DOWNSTREAM_SQL
    if _DOWNSTREAM_SQL is None:
        qn = connection.ops.quote_name
        _DOWNSTREAM_SQL = (
            f"SELECT {qn('id')}, {qn('after_status')}, {qn('name')} FROM {qn(Task._meta.db_table)} "
            f"WHERE {qn('after_task_id')} = %s AND {qn('trigger_type')} = %s AND {qn('enabled')}"
        )
    return _DOWNSTREAM_SQL


def downstream(task_id: int) -> list[tuple[int, str, str]]:
    """(id, after_status, name) of the enabled `after` tasks of `task_id`: one indexed read."""
    with connection.cursor() as cursor:
        cursor.execute(_downstream_sql(), [task_id, TriggerType.AFTER])
        return cursor.fetchall()


def _stored_status(execution_id: int) -> str | None:
    """The outcome as stored: a run another process abandoned meanwhile is abandoned."""
    return TaskExecution.objects.filter(pk=execution_id).values_list("status", flat=True).first()


def _in_loop(task_id: int) -> bool:
    edges = _edges()
    return task_id in edges and _walk_up(edges[task_id][0], task_id, edges) is not None


def _insert(task_id: int, parent: TaskExecution) -> TaskExecution | None:
    """Queue one chain run; None when it exists already (or its task is gone)."""
    try:
        with transaction.atomic():
            return TaskExecution.objects.create(
                task_id=task_id,
                trigger=ExecutionTrigger.CHAIN,
                status=ExecutionStatus.QUEUED,
                parent=parent,
                created_at=timezone.now(),
            )
    except IntegrityError:
        return None


def queue_downstream(task: Task, execution: TaskExecution) -> list[TaskExecution]:
    """Queue one `chain` run of each enabled downstream task this finished run starts."""
    candidates = downstream(task.pk)
    if not candidates:
        return []  # the common case: one indexed read, nothing else
    status = _stored_status(execution.pk)
    wanted = STARTS.get(status, ())
    queued = []
    for task_id, after_status, name in candidates:
        if after_status not in wanted:
            continue
        if _in_loop(task_id):
            logger.error("Not queueing %s after %s #%s: its chain is a loop; fix it in the admin",
                         name, task.name, execution.pk)  # fmt: skip
            continue
        child = _insert(task_id, execution)
        if child is None:
            logger.info("%s after %s #%s was already queued", name, task.name, execution.pk)
            continue
        logger.info("Queued %s #%s after %s #%s (%s)", name, child.pk, task.name, execution.pk,
                    status)  # fmt: skip
        queued.append(child)
    return queued


def on_task_finished(
    sender: Any, task: Task, execution: TaskExecution, final: bool = True, **kwargs: Any
) -> None:
    """Receiver of `task_finished`: every finished run passes here, from any process.

    Runner outcomes, runs abandoned by `recovery` and (once they exist) runs on
    Celery workers all send the signal. A failure here is logged, never raised
    into the runner: the run itself is already recorded.
    """
    if not final:
        return
    facts = kwargs.get("facts")
    if facts is not None and not facts.has_downstream:
        return  # read with the outcome: nothing runs after this task
    try:
        queue_downstream(task, execution)
    except Exception:
        logger.exception("Could not queue the runs after %s #%s", task.name, execution.pk)
