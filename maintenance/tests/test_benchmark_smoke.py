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
    assert "peak RSS MB" in out
