"""Load audit-log archives back into the database, each file all or nothing."""

import contextlib
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from maintenance.restore import RestoreError, restore_archive
from scheduling.progress import progress_bars


class Command(BaseCommand):
    help = (
        "Load audit-log archives (.jsonl.gz written by archive_audit_logs) back into the "
        "database. Each file is checked in full first and restored in one transaction: all "
        "of its rows or none. Rows already present (same id) are skipped, so running it "
        "twice is safe. A bad file is reported and the next file is still restored; the "
        "command then exits with an error naming every refused file."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "files", nargs="+", type=Path, metavar="file", help="Archive file(s) to restore."
        )

    def handle(self, *args, files: list[Path], **options):
        refused: list[RestoreError] = []
        restored = 0
        for path in files:
            try:
                restored += self.restore_one(path)
            except RestoreError as exc:
                if len(files) == 1:
                    raise CommandError(f"Cannot restore {exc}. Nothing was restored.") from exc
                refused.append(exc)
                self.stderr.write(f"Refused {exc}. Nothing was restored from this file.")
        if len(files) > 1:
            self.stdout.write(
                f"{len(files) - len(refused)} of {len(files)} files restored, "
                f"{restored} audit-log rows in all."
            )
        if refused:
            names = "; ".join(str(exc) for exc in refused)
            raise CommandError(
                f"{len(refused)} of {len(files)} files refused, nothing restored from them: {names}"
            )

    def restore_one(self, path: Path) -> int:
        """Restore one file and say so; returns the rows inserted."""
        if not path.is_file():
            raise RestoreError(path, "is not a file")
        self.stdout.write(f"Checking {path} ...")
        watched = progress_bars(sys.stderr) if sys.stderr.isatty() else contextlib.nullcontext()
        with watched:
            result = restore_archive(path)
        self.stdout.write(
            f"Restored {result['restored']} audit-log rows from {path} "
            f"({result['skipped']} already present)."
        )
        return result["restored"]
