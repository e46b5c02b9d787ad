"""`make run`'s rundev: both processes start, and one Ctrl-C stops both."""

import os
import signal
import socket
import subprocess
import sys
import urllib.request

import pytest

from scheduling.tests.processes import BASE_DIR, database_url, wait_until

pytestmark = [pytest.mark.process, pytest.mark.django_db(transaction=True)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def interactive_signals() -> None:
    """SIGINT as a terminal's foreground job has it: a suite started in the
    background by a non-interactive shell inherits SIGINT ignored, and so would
    `rundev`, which then could not be stopped the way this test stops it."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def test_ctrl_c_stops_the_web_server_and_the_scheduler():
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url(), "SCHEDULER_HEARTBEAT_SECONDS": "0.5"}
    parent = subprocess.Popen(
        [sys.executable, "manage.py", "rundev", f"127.0.0.1:{port}"],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=interactive_signals,
    )
    try:
        # /healthz/ is 200 only when the web server answers AND the scheduler beats.
        wait_until(lambda: answers(f"http://127.0.0.1:{port}/healthz/"), 40, "web + scheduler up")
        children = subprocess.run(
            ["pgrep", "-P", str(parent.pid)], capture_output=True, text=True
        ).stdout.split()
        assert len(children) == 2
        parent.send_signal(signal.SIGINT)  # what Ctrl-C delivers to the foreground job
        assert parent.wait(60) == 0
        for pid in children:
            wait_until(lambda pid=pid: not os.path.exists(f"/proc/{pid}"), 10, f"child {pid} gone")
        assert not answers(f"http://127.0.0.1:{port}/healthz/")
    finally:
        if parent.poll() is None:
            parent.kill()
