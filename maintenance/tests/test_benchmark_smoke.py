"""The maintenance benchmark still runs end to end (at a size CI can afford)."""

from benchmarks import maintenance as bench


def test_the_benchmark_runs_every_measurement_at_a_tiny_size(capsys, tmp_path):
    assert bench.main(["--rows", "1000", "--only", "sessions,archive,backup", "--json"]) == 0

    out = capsys.readouterr().out
    for case in (
        "sessions.plain_delete",
        "sessions.clearsessions",
        "sessions.task",
        "archive.plain_stream",
        "archive.task",
        "backup.bare_api",
        "backup.task",
    ):
        assert case in out
    assert "longest write transaction" in out
    assert "site writes meanwhile: " in out and "0 failed" in out
    assert "peak RSS MB" in out


def test_repeated_measurements_report_the_median_run(capsys):
    assert bench.main(["--rows", "500", "--only", "errorlogs", "--repeat", "3"]) == 0

    lines = [line for line in capsys.readouterr().out.splitlines() if "errorlogs." in line]
    assert len(lines) == 2
    assert all("median of 3 (" in line for line in lines)


def test_the_credential_and_stats_measurements_run(capsys):
    assert bench.main(["--rows", "600", "--only", "credentials,stats"]) == 0

    out = capsys.readouterr().out
    for case in ("credentials.plain_update", "credentials.task", "stats.plain_upsert"):
        assert case in out
    task = next(line for line in out.splitlines() if line.startswith("stats.task"))
    assert "x the plain upsert" in task and "process CPU" in task
