"""Claim many fires at once: the engine's path when tasks fall due together.

One read of the tasks, one multi-row `INSERT ... ON CONFLICT DO NOTHING
RETURNING` and one read for overlapping runs per chunk, instead of a few
statements per fire, so 1,000 tasks due at once do not start one after
another's bookkeeping. `runner.run_claimed` then runs each claim and
`runner.record_outcomes` stores their outcomes in batches.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from scheduling.engine import runner
from scheduling.engine.hot_sql import HotSql
from scheduling.models import ExecutionStatus, Task, TaskExecution

logger = logging.getLogger(__name__)


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
    runner.tidy_connections()
    hot, conn = HotSql.current()
    if not hot.can_return:  # no INSERT ... RETURNING: claim one by one
        claims = []
        for task_id, when in fires:
            task = runner.load_task(task_id)
            execution = runner.claim_fire(task, when, trigger)
            if execution is not None and execution.status == ExecutionStatus.RUNNING:
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


def _claim_chunk(hot: HotSql, conn: Any, fires: list[tuple[int, datetime]], trigger: str):
    """Claim a chunk: fires of local tasks as `running` (returned), of queue tasks as `queued`.

    Queued claims are not returned: the sender (`engine.sending`) hands them
    to Celery workers.
    """
    tasks = hot.load_tasks(conn, [task_id for task_id, _ in fires])
    fires = [(task_id, when) for task_id, when in fires if task_id in tasks]
    queued = [fire for fire in fires if tasks[fire[0]].queue]
    if queued:
        template = TaskExecution(trigger=trigger, status=ExecutionStatus.QUEUED)
        with transaction.atomic():
            ids = hot.insert_fires(conn, template, queued)
        for (task_id, when), pk in zip(queued, ids, strict=True):
            if pk is None:
                logger.info("Task %s at %s already claimed elsewhere", tasks[task_id].name, when)
        fires = [fire for fire in fires if not tasks[fire[0]].queue]
    if not fires:
        return []
    template = TaskExecution(
        trigger=trigger,
        status=ExecutionStatus.RUNNING,
        started_at=timezone.now(),
        host=runner.HOST,
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
    overlapping = runner.overlapping_run(task, execution)
    return None if overlapping is None else overlapping.pk
