"""Create Task rows for registered tasks that have none; never touch existing rows."""

from django.core.management.base import BaseCommand

from scheduling.audit import Actor
from scheduling.defaults import sync_default_tasks


class Command(BaseCommand):
    help = "Create missing default tasks from the registry (edited schedules are kept)."

    def handle(self, *args, **options) -> None:
        created, kept, refused = sync_default_tasks(Actor("cli"))
        for name in created:
            self.stdout.write(f"Created task {name}")
        for name, why in refused.items():
            self.stderr.write(f"Task {name} not created: {why}")
        self.stdout.write(f"{len(created)} created, {len(kept)} already present (left as is).")
