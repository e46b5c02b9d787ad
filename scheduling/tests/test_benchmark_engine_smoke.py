"""`python -m benchmarks.engine` runs end to end at tiny sizes and prints its table.

No timing is asserted: the figures depend on the machine. What must hold is that
every measurement ran against its baselines and produced a row.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.process

BASE_DIR = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def output() -> str:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}  # its own temp SQLite
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.engine",
            "--executions",
            "5",
            "--dispatch",
            "4",
            "--lead-seconds",
            "0.5",
            "--startup-tasks",
            "12",
            "--sync-edits",
            "2",
        ],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return completed.stdout


def row(output: str, metric: str) -> list[str]:
    for line in output.splitlines():
        if line.startswith(metric):
            return [cell.strip() for cell in line.split("|")]
    raise AssertionError(f"no row {metric!r} in:\n{output}")


def test_it_prints_a_table_header_with_ratio_column(output):
    assert "Engine benchmark on sqlite" in output
    assert row(output, "metric") == ["metric", "ours", "baseline", "ratio"]


def test_it_compares_runner_overhead_with_both_baselines(output):
    for metric in (
        "overhead run_fire ms/exec vs django-apscheduler",
        "overhead run_now ms/exec vs django-apscheduler",
        "overhead batch of due fires ms/exec vs django-apscheduler",
        "overhead run_fire vs APScheduler memory (floor)",
    ):
        _, ours, baseline, ratio = row(output, metric)
        assert ours.endswith(" ms") and baseline.endswith(" ms") and ratio != "-"


def test_it_measures_dispatch_latency_with_nothing_dropped(output):
    _, ours, baseline, _ = row(output, "dispatch 4: p99 ms vs django-apscheduler")
    assert ours.endswith(" ms") and baseline.endswith(" ms")
    assert row(output, "dispatch 4: dropped vs APScheduler memory")[1:3] == ["0", "0"]
    assert row(output, "dispatch 4: dropped vs django-apscheduler")[1] == "0"


def test_it_measures_startup_memory_and_sync(output):
    assert row(output, "start-up 12 tasks s vs django-apscheduler")[1].endswith(" s")
    assert row(output, "peak RSS 12 tasks MiB vs APScheduler memory")[1].endswith(" MiB")
    assert row(output, "sync 1 edit of 12 ms vs dja reschedule_job")[1].endswith(" ms")
    assert "Targets:" in output
