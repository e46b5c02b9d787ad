from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from maintenance.restore import restore_archive


class Command(BaseCommand):
    help = (
        "Load an audit-log archive (.jsonl.gz written by archive_audit_logs) back into the "
        "database. Rows already present (same id) are skipped, so running it twice is safe."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path, help="The archive file to restore.")

    def handle(self, *args, file: Path, **options):
        if not file.is_file():
            raise CommandError(f"{file} is not a file")
        try:
            result = restore_archive(file)
        except (OSError, ValueError, KeyError) as exc:
            raise CommandError(f"Cannot restore {file}: {exc}") from exc
        self.stdout.write(
            f"Restored {result['restored']} audit-log rows from {file} "
            f"({result['skipped']} already present)."
        )
