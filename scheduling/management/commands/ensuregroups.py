"""Create the "Task viewers" and "Task operators" groups; safe to run on every deploy."""

from django.core.management.base import BaseCommand, CommandError

from scheduling.groups import MissingPermission, ensure_groups


class Command(BaseCommand):
    help = (
        "Create the 'Task viewers' and 'Task operators' groups when missing and add any "
        "permission they lack (permissions added by hand are kept)."
    )

    def handle(self, *args, **options) -> None:
        try:
            changes = ensure_groups()
        except MissingPermission as exc:
            raise CommandError(str(exc)) from exc
        for change in changes:
            if change.created:
                self.stdout.write(f"Created group {change.name!r}: {', '.join(change.added)}")
            elif change.added:
                self.stdout.write(f"Group {change.name!r}: added {', '.join(change.added)}")
            else:
                self.stdout.write(f"Group {change.name!r} already has its permissions.")
