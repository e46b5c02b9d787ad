"""Run one task now, in this process: `python manage.py runtask NAME [--kwargs JSON]`."""

import contextlib
import json
import sys

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from scheduling import kwargs as task_kwargs
from scheduling.engine.runner import run_now
from scheduling.models import ExecutionStatus, ExecutionTrigger, Task
from scheduling.progress import progress_bars


class Command(BaseCommand):
    help = "Run a task inline, record it (trigger 'cli') and print the result; exit 1 on failure."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")
        parser.add_argument(
            "--kwargs", help="JSON object replacing the task's kwargs for this run."
        )

    def handle(self, *args, name: str, kwargs: str | None, **options) -> None:
        try:
            task = Task.objects.get(name=name)
        except Task.DoesNotExist:
            known = ", ".join(Task.objects.values_list("name", flat=True)) or "none"
            raise CommandError(f"Unknown task {name!r}. Known tasks: {known}") from None
        overrides = None
        if kwargs is not None:
            try:
                overrides = task_kwargs.parse(kwargs, label="--kwargs")
            except ValidationError as exc:
                raise CommandError(exc.messages[0]) from None
        self.stdout.write(f"Running {task.name} ({task.func}) ...")
        self.stdout.flush()
        # A bar per thing the task counts, when someone watches a terminal.
        watched = progress_bars(sys.stderr) if sys.stderr.isatty() else contextlib.nullcontext()
        with watched:
            execution = run_now(task, trigger=ExecutionTrigger.CLI, kwargs=overrides)
        summary = f"{execution.status} in {execution.duration_ms} ms (execution #{execution.pk})"
        if execution.status == ExecutionStatus.SUCCESS:
            self.stdout.write(self.style.SUCCESS(summary))
            self.stdout.write(json.dumps(execution.result, indent=2, default=str))
            return
        self.stderr.write(self.style.ERROR(summary))
        self.stderr.write(execution.error)
        sys.exit(1)
