"""Run the scheduler until SIGTERM/SIGINT: `python manage.py runscheduler`."""

import logging
import math
import os
import signal
import sys

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from scheduling.engine.loop import Engine

logger = logging.getLogger("scheduling.engine")
MAX_GRACE_SECONDS = 86_400


class Command(BaseCommand):
    help = "Run scheduled tasks (any number of processes; one leads at a time)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--grace",
            type=float,
            default=settings.SCHEDULER_SHUTDOWN_GRACE_SECONDS,
            help="Seconds to wait for running tasks on shutdown.",
        )
        parser.add_argument(
            "--no-sync-defaults",
            action="store_true",
            help="Do not create missing default tasks at start.",
        )

    def handle(self, *args, grace: float, no_sync_defaults: bool, **options) -> None:
        if not (math.isfinite(grace) and 0 <= grace <= MAX_GRACE_SECONDS):
            raise CommandError(f"--grace: {grace} is out of range 0-{MAX_GRACE_SECONDS:,} seconds")
        if not no_sync_defaults:
            call_command("syncdefaulttasks", verbosity=0)
        engine = Engine()

        def request_stop(signum: int, frame: object) -> None:
            # Only set a flag: the main loop does the work of stopping.
            logger.info("Received %s; stopping", signal.Signals(signum).name)
            engine.stop_event.set()

        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)
        self.stdout.write(f"Scheduler {engine.node_id} running; Ctrl-C or SIGTERM stops it.")
        self.stdout.flush()
        engine.run()
        finished = engine.shutdown(grace)
        self.stdout.write("Scheduler stopped." if finished else "Scheduler stopped; runs left.")
        self.stdout.flush()
        if not finished:
            # Worker threads cannot be killed; leave them (the next leader marks
            # their executions abandoned) instead of hanging on interpreter exit.
            sys.stderr.flush()
            os._exit(0)
