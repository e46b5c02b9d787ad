"""`python -m benchmarks.workers` runs end to end at tiny sizes against real workers.

No timing is asserted: the figures depend on the machine. What must hold is
that every sender ran against the same real Celery workers, the report is
complete, and ours lost and doubled nothing, with one scheduler or two, while
two celery beats visibly double every run.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.process

BASE_DIR = Path(__file__).resolve().parents[2]
TASKS = 20


@pytest.fixture(scope="module")
def output() -> str:
    # The benchmark starts a private redis-server: the shared one on 6379 has other
    # test runs flushing its database numbers.
    if shutil.which("redis-server") is None:
        pytest.skip("no redis-server on PATH: the workers benchmark needs one for its broker")
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}  # its own temp SQLite
    completed = subprocess.run(
        [
            *(sys.executable, "-m", "benchmarks.workers"),
            *("--tasks", str(TASKS), "--sleep", "0.1", "--workers", "1", "--concurrency", "2"),
            *("--lead-seconds", "2", "--settle-seconds", "0.5"),
        ],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return completed.stdout


def cells(output: str, first: str) -> list[str]:
    for line in output.splitlines():
        if line.split("|")[0].strip() == first:
            return [cell.strip() for cell in line.split("|")]
    raise AssertionError(f"no row {first!r} in:\n{output}")


def test_it_prints_one_line_per_measurement(output):
    assert "Workers benchmark on sqlite" in output
    header = cells(output, "measurement")
    assert header == [
        *("measurement", "runs", "lost", "doubled", "p50 s", "p99 s", "makespan s", "runs/s"),
        "off worker",
    ]
    for label in ("floor", "ours", "beat", "ours2", "beat2", "probe-floor", "probe-ours"):
        row = cells(output, f"{label}-1w")
        assert row[1] == str(TASKS if not label.startswith("probe") else 4 * 2)  # 4 waves of -c
        assert float(row[6]) > 0  # a makespan: every run ended


def test_ours_loses_and_doubles_nothing_on_workers(output):
    for label in ("ours-1w", "ours2-1w", "probe-ours-1w"):
        _, _, lost, doubled, *_, off_worker = cells(output, label)
        assert (lost, doubled, off_worker) == ("0", "0", "0"), label


def test_two_beats_double_every_run(output):
    assert cells(output, "beat2-1w")[3] == str(TASKS)
    assert cells(output, "1w 2 schedulers vs 2 beats: doubled")[1:3] == ["0", str(TASKS)]


def test_it_compares_against_the_floor_and_states_the_targets(output):
    _, ours, floor, ratio = cells(output, "1w makespan vs floor")
    assert ours.endswith(" s") and floor.endswith(" s") and ratio != "-"
    assert "Targets:" in output
    assert "met    two schedulers: 0 lost, 0 doubled" in output
