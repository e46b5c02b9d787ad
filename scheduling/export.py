"""A task's history as CSV or JSON, streamed: a million runs export in flat memory.

The rows are read in keyset chunks (`id > last id ORDER BY id LIMIT n`, one
range of the (task, -id) index per chunk, never OFFSET), encoded chunk by
chunk and handed on as bytes, so the web process and `taskhistory` hold one
chunk at a time whatever the size of the history. Oldest run first: an export
reads like a log, and `since=` picks up where the last one ended.

Columns are fixed and in a fixed order. The run details (`requested_by`,
`host`, `pid`, `kwargs`, `result`, `error`) are the ones `scheduling.access`
guards: without them a caller's rows do not even select those columns.

- CSV is RFC 4180: CRLF line ends, a header row, fields quoted when they hold
  a comma, quote or line break. A text cell that starts like a spreadsheet
  formula (`=`, `+`, `-`, `@`, tab, CR) gets a leading `'`, so an error
  message cannot become a formula when someone opens the file.
- JSON is one array of objects, written as it is read.

Datetimes are ISO 8601 in UTC; JSON values (kwargs, result) are JSON text in
CSV and nested values in JSON.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from scheduling import access, jsontext
from scheduling.models import ExecutionStatus, Task, TaskExecution

CHUNK = 2_000
FORMATS = ("csv", "json")

# (column, what the query selects), in output order.
FIELDS = [
    ("id", "id"),
    ("task", None),  # the task's name: the same on every row, not selected
    ("status", "status"),
    ("trigger", "trigger"),
    ("attempt", "attempt"),
    ("scheduled_for", "scheduled_for"),
    ("created_at", "created_at"),
    ("started_at", "started_at"),
    ("finished_at", "finished_at"),
    ("duration_ms", "duration_ms"),
    ("is_overdue", "is_overdue"),
    ("parent", "parent_id"),
    ("requested_by", "requested_by__username"),
    ("host", "host"),
    ("pid", "pid"),
    ("kwargs", "kwargs"),
    ("result", "result"),
    ("error", "error"),
]
DATETIME_COLUMNS = frozenset({"scheduled_for", "created_at", "started_at", "finished_at"})
JSON_COLUMNS = frozenset({"kwargs", "result"})
TEXT_COLUMNS = frozenset({"task", "status", "trigger", "requested_by", "host", "error"})
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Filters:
    """The history table's filters, plus a time window on when runs were queued."""

    status: str = ""
    since: datetime | None = None  # created_at >= since
    until: datetime | None = None  # created_at < until


def _moment(name: str, text: str) -> datetime:
    """An ISO 8601 date or date-time; a naive one is in the site's TIME_ZONE."""
    example = "use ISO 8601, e.g. 2025-03-01 or 2025-03-01T12:00:00Z"
    try:
        moment = parse_datetime(text)
        if moment is None:
            day = parse_date(text)
            moment = datetime.combine(day, time()) if isinstance(day, date) else None
        if moment is None:
            raise ValueError
        if timezone.is_naive(moment):
            moment = timezone.make_aware(moment)
        moment.astimezone(UTC)  # out of range once in UTC (year 1 or 9999)?
    except (ValueError, OverflowError):
        raise ValidationError(f"{name}: {text[:40]!r} is not a date or time ({example})") from None
    return moment


def parse_filters(params: Any) -> Filters:
    """`status`, `since`, `until` from a query string or options.

    Raises ValidationError naming the bad one (an unknown status, a date that is not one).
    """
    status = (params.get("status") or "").strip()
    if status and status not in ExecutionStatus.values:
        allowed = ", ".join(ExecutionStatus.values)
        raise ValidationError(f"status: {status[:40]!r} is not one of {allowed}")
    since, until = (params.get("since") or "").strip(), (params.get("until") or "").strip()
    filters = Filters(
        status=status,
        since=_moment("since", since) if since else None,
        until=_moment("until", until) if until else None,
    )
    if filters.since and filters.until and filters.since >= filters.until:
        raise ValidationError("since: must be before until")
    return filters


def columns(details: bool) -> list[str]:
    """The column names, without the run details for a caller who may not see them."""
    return [name for name, _ in FIELDS if details or name not in access.EXECUTION_DETAIL_KEYS]


def matching(task: Task, filters: Filters) -> QuerySet[TaskExecution]:
    """The task's executions that pass `filters` (unordered)."""
    query = TaskExecution.objects.filter(task=task)
    if filters.status:
        query = query.filter(status=filters.status)
    if filters.since:
        query = query.filter(created_at__gte=filters.since)
    if filters.until:
        query = query.filter(created_at__lt=filters.until)
    return query


def rows(
    task: Task, filters: Filters, details: bool, chunk: int | None = None
) -> Iterator[list[tuple]]:
    """The task's executions as tuples in `columns(details)` order, a list per chunk, oldest first.

    One query per chunk; a cursor on the id, so the last chunk costs what the
    first did.
    """
    chunk = chunk or CHUNK
    wanted = [field for name, field in FIELDS if name in columns(details)]
    selected = [field for field in wanted if field is not None]
    task_at = wanted.index(None)
    query = matching(task, filters).order_by("id").values_list(*selected)
    last_id = 0
    while True:
        found = list(query.filter(id__gt=last_id)[:chunk])
        if not found:
            return
        last_id = found[-1][0]
        yield [(*row[:task_at], task.name, *row[task_at:]) for row in found]
        if len(found) < chunk:
            return


# --- encoders --------------------------------------------------------------------
def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()


def _csv_text(value: str | None) -> str | None:
    if value is not None and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _csv_json(value: Any) -> str | None:
    if value is None or isinstance(value, jsontext.Unreadable):
        return value  # stored text that is not JSON we read: shown as that text
    return json.dumps(value, ensure_ascii=False)


def _csv_flag(value: bool) -> str:
    return "true" if value else "false"  # as in the JSON export


# How each column is written in CSV (None for numbers, which csv writes as they are;
# csv.writer writes None as an empty field). Built once, applied per cell.
CSV_CELLS = {
    **dict.fromkeys(DATETIME_COLUMNS, _iso),
    **dict.fromkeys(JSON_COLUMNS, _csv_json),
    **dict.fromkeys(TEXT_COLUMNS, _csv_text),
    "is_overdue": _csv_flag,
}


class _Lines:
    """A file-like sink for csv.writer that keeps what it was given."""

    def __init__(self) -> None:
        self.parts: list[str] = []

    def write(self, text: str) -> None:
        self.parts.append(text)

    def take(self) -> str:
        text, self.parts = "".join(self.parts), []
        return text


def csv_stream(names: list[str], chunks: Iterable[list[tuple]]) -> Iterator[str]:
    """A header line, then one block of lines per chunk of rows."""
    cells = [CSV_CELLS.get(name) for name in names]
    sink = _Lines()
    writer = csv.writer(sink, lineterminator="\r\n")
    writer.writerow(names)
    yield sink.take()
    for chunk in chunks:
        writer.writerows(
            [value if cell is None else cell(value) for cell, value in zip(cells, row)]  # noqa: B905
            for row in chunk
        )
        yield sink.take()


def _json_objects(names: list[str], chunk: list[tuple]) -> Iterator[str]:
    # A stored result that is not JSON we read (jsontext.Unreadable) is a str: shown as text.
    moments = [i for i, name in enumerate(names) if name in DATETIME_COLUMNS]
    for row in chunk:
        item = dict(zip(names, row))  # noqa: B905
        for i in moments:
            item[names[i]] = _iso(row[i])
        yield json.dumps(item, ensure_ascii=False)


def json_stream(names: list[str], chunks: Iterable[list[tuple]]) -> Iterator[str]:
    """`[`, the objects one chunk at a time, `]`: one JSON array, written as it is read."""
    yield "["
    separator = "\n"
    for chunk in chunks:
        yield separator + ",\n".join(_json_objects(names, chunk))
        separator = ",\n"
    yield "\n]\n"


def encode(fmt: str, names: list[str], chunks: Iterable[list[tuple]]) -> Iterator[str]:
    """Rows in `fmt` ("csv" or "json"), as text blocks."""
    return (csv_stream if fmt == "csv" else json_stream)(names, chunks)


def utf8(text: str) -> bytes:
    """UTF-8 that cannot fail halfway through a download (a lone surrogate becomes `\\udXXX`)."""
    return text.encode("utf-8", "backslashreplace")


def stream(task: Task, fmt: str, filters: Filters, details: bool) -> Iterator[bytes]:
    """The whole export of `task` in `fmt`, as bytes blocks (one per chunk of rows)."""
    blocks = encode(fmt, columns(details), rows(task, filters, details))
    return (utf8(block) for block in blocks)
