"""Show a task's recent executions: `python manage.py taskhistory NAME [--limit N]`."""

from django.core.management.base import BaseCommand, CommandError, CommandParser

from scheduling.models import Task
from scheduling.scheduler import TaskScheduler

MAX_LIMIT = 10_000


class Command(BaseCommand):
    help = "Show a task's executions, newest first."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")
        parser.add_argument("--limit", type=int, default=20, help=f"1 to {MAX_LIMIT:,}.")

    def handle(self, *args, name: str, limit: int, **options) -> None:
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
