"""Keyset pagination of a task's executions: no COUNT(*), no OFFSET.

A task with a million runs pages as fast at the end as at the start: each
page is one range scan of the (task, -id) index from a cursor id. The pager
offers "newer" and "older" links rather than page numbers, since numbering
pages would mean counting every row.
"""

from __future__ import annotations

from dataclasses import dataclass

from scheduling.models import ExecutionStatus, Task, TaskExecution

PAGE_SIZE = 50


@dataclass
class HistoryPage:
    executions: list[TaskExecution]
    newer_cursor: int | None  # pass as ?after= to see newer runs
    older_cursor: int | None  # pass as ?before= to see older runs

    @property
    def is_first(self) -> bool:
        return self.newer_cursor is None

    @property
    def has_unfinished(self) -> bool:
        """A queued or running row is shown: the page keeps polling until it ends."""
        return any(not execution.is_finished for execution in self.executions)


def _cursor(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


def clean_status(value: str | None) -> str:
    return value if value in ExecutionStatus.values else ""


def page(
    task: Task,
    *,
    status: str = "",
    before: str | None = None,
    after: str | None = None,
    size: int = PAGE_SIZE,
) -> HistoryPage:
    """One page of `task`'s executions, newest first, in one query."""
    rows = TaskExecution.objects.filter(task=task).select_related("requested_by")
    if status:
        rows = rows.filter(status=status)
    before_id, after_id = _cursor(before), _cursor(after)
    if after_id is not None:
        found = list(rows.filter(id__gt=after_id).order_by("id")[: size + 1])
        more_newer = len(found) > size
        executions = found[:size][::-1]
        return HistoryPage(
            executions,
            newer_cursor=executions[0].pk if more_newer and executions else None,
            older_cursor=executions[-1].pk if executions else after_id + 1,
        )
    if before_id is not None:
        rows = rows.filter(id__lt=before_id)
    found = list(rows.order_by("-id")[: size + 1])
    executions = found[:size]
    return HistoryPage(
        executions,
        newer_cursor=(executions[0].pk if executions else before_id - 1) if before_id else None,
        older_cursor=executions[-1].pk if len(found) > size else None,
    )
