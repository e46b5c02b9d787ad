"""A task's executions: a readable list, one run's log, or the whole history as CSV or JSON.

    python manage.py taskhistory NAME [--limit N]                   # newest first
    python manage.py taskhistory NAME --format csv > history.csv    # every run, oldest first
    python manage.py taskhistory NAME --format json --status failed --since 2025-03-01

    python manage.py taskhistory NAME --log ID                      # what run ID logged

`--status`, `--since` and `--until` filter both, as on the task page and its
export URLs. CSV and JSON are the export of `/tasks/<name>/history.csv|json`
with every column (whoever runs manage.py can read the database anyway),
streamed to stdout a chunk at a time; progress and the final count go to
stderr so the data stays clean.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser, OutputWrapper

from scheduling import export
from scheduling.models import Task, TaskExecution

MAX_LIMIT = 10_000
PROGRESS_EVERY = 100_000
TEXT_FIELDS = ("id", "started_at", "status", "trigger", "duration_ms", "error")


class Command(BaseCommand):
    help = "Show a task's executions (newest first), one run's log, or export them."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")
        parser.add_argument(
            "--format", choices=["text", *export.FORMATS], default="text", dest="fmt"
        )
        parser.add_argument(
            "--limit", type=int, default=20, help=f"text only: 1 to {MAX_LIMIT:,} runs."
        )
        parser.add_argument("--status", default="", help="only runs with this status")
        parser.add_argument("--since", default="", help="queued at or after (ISO 8601)")
        parser.add_argument("--until", default="", help="queued before (ISO 8601)")
        parser.add_argument(
            "--log", type=int, metavar="ID", help="Print the log of this execution of the task."
        )

    def handle(
        self, *args, name: str, fmt: str, limit: int, log: int | None = None, **options
    ) -> None:
        if log is not None:
            self.print_log(name, log)
            return
        if not 1 <= limit <= MAX_LIMIT:
            raise CommandError(f"--limit: {limit} is out of range 1-{MAX_LIMIT:,}")
        try:
            filters = export.parse_filters(options)
        except ValidationError as exc:
            raise CommandError(f"--{'; '.join(exc.messages)}") from None
        task = Task.objects.filter(name=name).first()
        if task is None:
            raise CommandError(f"Unknown task {name!r}")
        if fmt == "text":
            self._print(task, filters, limit)
        else:
            self._export(task, filters, fmt)

    def _print(self, task: Task, filters: export.Filters, limit: int) -> None:
        runs = export.matching(task, filters).order_by("-id").values(*TEXT_FIELDS)[:limit]
        if not runs:
            which = " matching the filters" if filters != export.Filters() else ""
            self.stdout.write(f"{task.name} has no runs{which}.")
            return
        for item in runs:
            self.stdout.write(_line(item))

    def _export(self, task: Task, filters: export.Filters, fmt: str) -> None:
        """Write the export to stdout; a closed pipe (`| head`) ends it quietly."""
        progress = Progress(export.rows(task, filters, details=True), self.stderr)
        try:
            for block in export.encode(fmt, export.columns(details=True), progress):
                # Text that any stdout encodes (a lone surrogate in an error message).
                self.stdout.write(export.utf8(block).decode("utf-8"), ending="")
            self.stdout.flush()
        except BrokenPipeError:
            # Python would complain about the pipe again when it flushes stdout at exit.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return
        self.stderr.write(f"Exported {progress.total:,} runs of {task.name} as {fmt}.")

    def print_log(self, name: str, execution_id: int) -> None:
        """The log as stored; a run still in progress shows what it has logged so far."""
        if not Task.objects.filter(name=name).exists():
            raise CommandError(f"Unknown task {name!r}")
        execution = TaskExecution.objects.filter(task__name=name, pk=execution_id).first()
        if execution is None:
            raise CommandError(f"{name} has no execution #{execution_id}")
        state = "" if execution.is_finished else ", still running: the log so far"
        self.stdout.write(f"# {name} #{execution.pk} ({execution.status}{state})")
        self.stdout.write(execution.log if execution.log else "(nothing logged)")


class Progress:
    """Passes chunks of rows through, counting them; a line on stderr every PROGRESS_EVERY."""

    def __init__(self, chunks: Iterable[list[tuple]], stderr: OutputWrapper) -> None:
        self.chunks, self.stderr, self.total = chunks, stderr, 0

    def __iter__(self) -> Iterator[list[tuple]]:
        for chunk in self.chunks:
            before, self.total = self.total, self.total + len(chunk)
            if self.total // PROGRESS_EVERY > before // PROGRESS_EVERY:
                self.stderr.write(f"... {self.total:,} runs")
            yield chunk


def _line(item: dict) -> str:
    started = item["started_at"].strftime("%Y-%m-%d %H:%M:%S") if item["started_at"] else "-"
    duration = f"{item['duration_ms']} ms" if item["duration_ms"] is not None else "-"
    first_line = (item["error"] or "").strip().splitlines()[:1]
    return (
        f"#{item['id']:<7} {started}  {item['status']:<9} {item['trigger']:<8} "
        f"{duration:>9}  {first_line[0] if first_line else ''}"
    ).rstrip()
