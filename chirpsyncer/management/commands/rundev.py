"""`make run`'s last step: the web server and the scheduler side by side.

A shell `cmd &` in a Makefile starts its children with SIGINT ignored, so
Ctrl-C left the web server running. Here both are ordinary children: Ctrl-C
reaches them, and whatever still runs afterwards gets SIGTERM and is waited for.
"""

import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "Run the web server and the scheduler together; Ctrl-C or SIGTERM stops both."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000")

    def handle(self, *args, addrport: str, **options) -> None:
        manage = [sys.executable, str(settings.BASE_DIR / "manage.py")]
        children = [
            subprocess.Popen([*manage, "runscheduler"]),
            subprocess.Popen([*manage, "runserver", "--noreload", addrport]),
        ]
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
        self.stdout.write(f"Web server on http://{addrport}/ and scheduler started.")
        self.stdout.flush()
        try:
            while all(child.poll() is None for child in children):
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            self._stop(children)

    def _stop(self, children: list[subprocess.Popen]) -> None:
        for child in children:
            if child.poll() is None:
                child.terminate()
        deadline = time.monotonic() + settings.SCHEDULER_SHUTDOWN_GRACE_SECONDS + 5
        for child in children:
            try:
                child.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
        self.stdout.write("Web server and scheduler stopped.")
