"""Task-history retention: old executions go, each task's recent history stays."""

from __future__ import annotations

import logging
from datetime import timedelta
from functools import reduce
from operator import or_

from django.db.models import Q
from django.utils import timezone

from maintenance.batching import delete_in_batches
from scheduling.models import FINISHED_STATUSES, Task, TaskExecution

logger = logging.getLogger(__name__)

KEEP_PER_TASK = 20
TASKS_PER_DELETE = 200  # bounds the size of the OR in one DELETE statement


def prune_executions(
    retention_days: int, keep_per_task: int = KEEP_PER_TASK, batch_size: int | None = None
) -> dict:
    """Delete finished executions older than `retention_days`, keeping each task's newest ones.

    A task that runs once a year still shows its last `keep_per_task` runs.
    1. Per task, the id of its `keep_per_task`-th newest execution is its floor:
       only rows below it may go.
    2. One batched delete over many tasks at once, in id order, so each batch
       rewrites neighbouring pages (executions of all tasks are interleaved).
    """
    if retention_days < 0 or keep_per_task < 0:
        raise ValueError("retention_days and keep_per_task must be zero or more")
    cutoff = timezone.now() - timedelta(days=retention_days)
    floors = _floors(keep_per_task)
    deleted = 0
    for start in range(0, len(floors), TASKS_PER_DELETE):
        group = floors[start : start + TASKS_PER_DELETE]
        below_floor = reduce(or_, (Q(task_id=task_id, id__lt=floor) for task_id, floor in group))
        old = TaskExecution.objects.filter(
            below_floor, created_at__lt=cutoff, status__in=FINISHED_STATUSES
        )
        deleted += delete_in_batches(old, batch_size=batch_size, label="old task history").deleted
    return {"deleted": deleted, "tasks": len(floors), "cutoff": cutoff.isoformat()}


def _floors(keep_per_task: int) -> list[tuple[int, int]]:
    """(task id, lowest id to keep) for tasks with more than `keep_per_task` executions."""
    floors = []
    for task_id in Task.objects.order_by("pk").values_list("pk", flat=True):
        newest = TaskExecution.objects.filter(task_id=task_id).order_by("-id")
        floor = next(
            iter(newest.values_list("id", flat=True)[keep_per_task : keep_per_task + 1]), None
        )
        if floor is not None:
            floors.append((task_id, floor + 1))
    return floors
