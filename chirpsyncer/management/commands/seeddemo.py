"""Fill a fresh install with realistic demo data, so every maintenance task has work."""

import sys
import time

from django.core.management.base import BaseCommand, CommandParser
from tqdm import tqdm

from chirpsyncer import demo
from chirpsyncer.models import AuditLog


class Command(BaseCommand):
    help = "Insert demo users, credentials, logs and sessions (--scale 100: 1M audit rows)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--scale", type=int, default=1, help="Multiplier: 1 = 10,000 audit rows."
        )
        parser.add_argument("--if-empty", action="store_true", help="Do nothing if data exists.")
        parser.add_argument("--seed", type=int, default=1, help="Random seed for repeatable data.")

    def handle(self, *args, scale: int, if_empty: bool, seed: int, **options) -> None:
        if scale < 1:
            self.stderr.write("--scale must be at least 1")
            sys.exit(2)
        # Task changes are audited too (syncdefaulttasks may have run first): only
        # ChirpSyncer's own rows say the demo data is there.
        if if_empty and AuditLog.objects.exclude(resource_type="task").exists():
            self.stdout.write("Demo data already present; skipping (drop --if-empty to add more).")
            return
        sizes = demo.Sizes.for_scale(scale)
        total = sizes.audit_logs + sizes.sync_records + sizes.error_logs + sizes.sessions
        started = time.monotonic()
        with tqdm(
            total=total, unit="rows", disable=not sys.stdout.isatty(), file=sys.stdout
        ) as bar:
            progress = self._progress(bar, total)
            counts = demo.seed(sizes, progress, seed_value=seed)
        self._register_demo_task()
        elapsed = time.monotonic() - started
        summary = ", ".join(f"{n:,} {k.replace('_', ' ')}" for k, n in counts.items())
        self.stdout.write(self.style.SUCCESS(f"Seeded {summary} in {elapsed:.1f} s."))

    def _progress(self, bar: tqdm, total: int):
        done = 0

        def report(rows: int) -> None:
            nonlocal done
            done += rows
            bar.update(rows)
            if bar.disable and (done % 200_000 < rows or done == total):
                self.stdout.write(f"  {done:,} / {total:,} rows")

        return report

    def _register_demo_task(self) -> None:
        from scheduling.models import Task, TriggerType
        from scheduling.services import save_task

        if not Task.objects.filter(name="simulate-sync").exists():
            save_task(
                Task(
                    name="simulate-sync",
                    func="chirpsyncer.demo.simulate_sync",
                    description="Demo only: records a few sync runs every 20 seconds.",
                    trigger_type=TriggerType.INTERVAL,
                    interval_seconds=20,
                )
            )
            self.stdout.write("Registered demo task 'simulate-sync' (every 20 s).")
