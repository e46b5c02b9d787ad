"""List tasks as an aligned table (or JSON): `python manage.py listtasks [--json]`."""

import json

from django.core.management.base import BaseCommand, CommandParser
from django.core.serializers.json import DjangoJSONEncoder

from scheduling.engine import heartbeat
from scheduling.models import Task
from scheduling.scheduler import task_status

COLUMNS = ["name", "schedule", "enabled", "last status", "next run"]


def _when(value) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S %Z") if value else "-"


class Command(BaseCommand):
    help = "List tasks: name, schedule, enabled, last status, next run; and who leads."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="Print JSON instead of a table.")

    def handle(self, *args, json: bool = False, **options) -> None:
        tasks = list(Task.objects.select_related("after_task").order_by("name"))
        state = heartbeat.current_state()
        if json:
            payload = {"scheduler": state, "tasks": [task_status(t) for t in tasks]}
            self.stdout.write(_dumps(payload))
            return
        rows = [
            [
                t.name,
                f"{t.schedule} ({t.timezone})" if t.trigger_type == "cron" else _schedule(t),
                "yes" if t.enabled else "no",
                t.last_status or "-",
                _when(t.next_run_at),
            ]
            for t in tasks
        ]
        widths = [max(len(str(r[i])) for r in [COLUMNS, *rows]) for i in range(len(COLUMNS))]
        for row in [COLUMNS, *rows]:
            self.stdout.write(
                "  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
            )
        leader = state["leader"] or "none"
        self.stdout.write(
            f"\nScheduler: {state['state']}; leader: {leader}; nodes: {state['nodes']}"
        )
        if state["broker"] != "off":
            queues = ", ".join(state["worker_queues"]) or "-"
            self.stdout.write(
                f"Workers: {state['workers']} processes (queues: {queues}); "
                f"broker: {state['broker']}"
            )


def _schedule(task: Task) -> str:
    if task.trigger_type == "interval":
        return f"every {task.interval_seconds} s"
    if task.trigger_type == "after":
        return f"after {task.schedule or '?'} ({task.after_status})"
    return f"once at {_when(task.run_at)}"


def _dumps(payload) -> str:
    return json.dumps(payload, cls=DjangoJSONEncoder, indent=2)
