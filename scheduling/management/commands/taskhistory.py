"""Show a task's recent executions, or one run's log.

`python manage.py taskhistory NAME [--limit N]` lists runs, newest first;
`--log ID` prints what run ID of that task logged.
"""

from django.core.management.base import BaseCommand, CommandError, CommandParser

from scheduling.models import Task, TaskExecution
from scheduling.scheduler import TaskScheduler

MAX_LIMIT = 10_000


class Command(BaseCommand):
    help = "Show a task's executions, newest first, or one execution's log (--log ID)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")
        parser.add_argument("--limit", type=int, default=20, help=f"1 to {MAX_LIMIT:,}.")
        parser.add_argument(
            "--log", type=int, metavar="ID", help="Print the log of this execution of the task."
        )

    def handle(self, *args, name: str, limit: int, log: int | None = None, **options) -> None:
        if log is not None:
            self.print_log(name, log)
            return
        if not 1 <= limit <= MAX_LIMIT:
            raise CommandError(f"--limit: {limit} is out of range 1-{MAX_LIMIT:,}")
        try:
            history = TaskScheduler().get_task_history(name, limit=limit)
        except Task.DoesNotExist:
            raise CommandError(f"Unknown task {name!r}") from None
        if not history:
            self.stdout.write(f"{name} has not run yet.")
            return
        for item in history:
            started = (
                item["started_at"].strftime("%Y-%m-%d %H:%M:%S") if item["started_at"] else "-"
            )
            duration = f"{item['duration_ms']} ms" if item["duration_ms"] is not None else "-"
            first_line = (item["error"] or "").strip().splitlines()[:1]
            self.stdout.write(
                f"#{item['id']:<7} {started}  {item['status']:<9} {item['trigger']:<8} "
                f"{duration:>9}  {first_line[0] if first_line else ''}".rstrip()
            )

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
