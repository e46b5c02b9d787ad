"""`python -m benchmarks.pages` runs end to end (tiny), in its own throwaway database."""

import subprocess
import sys

from django.conf import settings


def test_page_benchmark_prints_latency_and_queries_for_every_page():
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.pages"]
        + ["--tasks", "10", "--executions", "1000", "--requests", "5"],
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=300,
        env={"PATH": "/usr/bin:/bin", "HOME": "/tmp"},
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "sqlite, 10 tasks, 1000 executions" in result.stdout
    rows = {line.split()[0]: line.split()[-3:] for line in lines if line.startswith("/")}
    assert set(rows) >= {"/tasks/", "/api/tasks/status/"}
    assert any(page.startswith("/tasks/bench-task-") for page in rows)
    for median, p95, queries in rows.values():
        assert float(median) > 0 and float(p95) >= float(median)
        assert 0 < int(queries) <= 11  # the task page: see test_views_queries
