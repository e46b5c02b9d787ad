"""`python -m benchmarks.export` end to end (tiny): a real gunicorn, both formats, baselines."""

import re
import subprocess
import sys

from django.conf import settings


def test_export_benchmark_prints_time_and_peak_memory_for_csv_and_json():
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.export", "--executions", "3000"],
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=300,
        env={"PATH": "/usr/bin:/bin", "HOME": "/tmp"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "sqlite, 3,000 executions of one task" in result.stdout
    for fmt in ("csv", "json"):
        assert re.search(rf"^{fmt}: 3,000 rows, ", result.stdout, re.MULTILINE)
        ours = re.search(
            rf"^{fmt}: worker peak RSS vs plain cursor +\| +([\d.]+) MiB",
            result.stdout,
            re.MULTILINE,
        )
        assert ours and 20 < float(ours.group(1)) < 500
        assert re.search(
            rf"^{fmt}: time for all rows vs sqlite CLI \(CSV\) +\|", result.stdout, re.MULTILINE
        )
