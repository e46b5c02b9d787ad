"""Long task runs show a progress bar in a terminal, and nothing extra elsewhere."""

import fcntl
import io
import os
import pty
import struct
import subprocess
import sys
import termios
import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone

from chirpsyncer.models import ErrorLog
from chirpsyncer.tests.factories import ErrorLogFactory
from maintenance.tests.test_archive import database_url
from scheduling import progress


def test_counts_reach_the_bar_while_it_is_shown_and_nowhere_after():
    shown = io.StringIO()
    with progress.progress_bars(shown):
        progress.advance(1500, "old error logs: deleted")
        progress.advance(500, "old error logs: deleted")
    progress.advance(7, "old error logs: deleted")  # nobody watching: a no-op

    assert "old error logs: deleted: 2.00k rows" in shown.getvalue()
    assert "2.01k" not in shown.getvalue()


def run_in_a_terminal(*argv: str, env: dict[str, str]) -> tuple[int, str]:
    """Run `manage.py argv` with a 120x40 pseudo-terminal as stdout and stderr."""
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    child = subprocess.Popen(
        [sys.executable, "manage.py", *argv],
        stdin=subprocess.DEVNULL,
        stdout=terminal,
        stderr=terminal,
        cwd=settings.BASE_DIR,
        env={**os.environ, **env},
    )
    os.close(terminal)
    output, deadline = b"", time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # the child closed the terminal: it has exited
            break
        if not chunk:
            break
        output += chunk
    os.close(controller)
    return child.wait(timeout=30), output.decode(errors="replace")


@pytest.mark.process
@pytest.mark.django_db(transaction=True)
def test_runtask_in_a_terminal_shows_a_bar_and_without_one_only_the_log():
    call_command("syncdefaulttasks", verbosity=0)
    old = timezone.now() - timedelta(days=40)
    ErrorLogFactory.create_batch(300, created_at=old)
    env = {"DATABASE_URL": database_url(), "MAINTENANCE_BATCH_SIZE": "50", "LOG_LEVEL": "INFO"}

    code, shown = run_in_a_terminal("runtask", "cleanup_error_logs", env=env)

    assert code == 0, shown
    assert "old error logs: deleted: 300 rows" in shown.replace("300.0", "300")
    assert "rows/s" in shown
    assert not ErrorLog.objects.exists()

    ErrorLogFactory.create_batch(300, created_at=old)
    piped = subprocess.run(
        [sys.executable, "manage.py", "runtask", "cleanup_error_logs"],
        capture_output=True,
        text=True,
        cwd=settings.BASE_DIR,
        env={**os.environ, **env},
        timeout=120,
    )
    assert piped.returncode == 0, piped.stderr
    assert "old error logs: deleted 300 rows" in piped.stderr  # the log line
    assert "rows/s" not in piped.stdout + piped.stderr
