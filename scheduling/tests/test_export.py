"""GET /tasks/<name>/history.csv and /history.json: every row, valid files, the details rule."""

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from benchmarks.pages import seed
from scheduling import export
from scheduling.models import TaskExecution
from scheduling.tests import sentinels
from scheduling.tests.factories import TaskExecutionFactory, TaskFactory
from scheduling.tests.stored import DEEP_OBJECT, LONE_SURROGATE, write_raw

pytestmark = pytest.mark.django_db

COMMON = [
    "id", "task", "status", "trigger", "attempt", "scheduled_for", "created_at",
    "started_at", "finished_at", "duration_ms", "is_overdue", "parent",
]  # fmt: skip
DETAILS = ["requested_by", "host", "pid", "kwargs", "result", "error"]


def _body(response) -> str:
    assert response.status_code == 200, response.content
    return b"".join(response.streaming_content).decode("utf-8")


def _csv(client, url: str) -> list[dict[str, str]]:
    response = client.get(url)
    assert response["Content-Type"].startswith("text/csv; charset=utf-8")
    return list(csv.DictReader(io.StringIO(_body(response), newline="")))


def _json(client, url: str) -> list[dict]:
    response = client.get(url)
    assert response["Content-Type"] == "application/json"
    return json.loads(_body(response))


def _at(day: int, hour: int = 0) -> datetime:
    return datetime(2025, 3, day, hour, tzinfo=UTC)


def test_a_20000_run_history_exports_every_row_oldest_first(task_viewer_client):
    (task,) = seed(1, 20_000)
    stored = TaskExecution.objects.filter(task=task).order_by("id")
    first, last = stored.first(), stored.last()

    rows = _csv(task_viewer_client, f"/tasks/{task.name}/history.csv")
    assert len(rows) == 20_000
    assert list(rows[0]) == COMMON + DETAILS
    ids = [int(row["id"]) for row in rows]
    assert ids == sorted(ids) and ids[0] == first.pk and ids[-1] == last.pk
    assert rows[-1]["status"] == last.status and rows[-1]["task"] == task.name
    assert rows[-1]["started_at"] == last.started_at.isoformat()
    assert rows[-1]["duration_ms"] == str(last.duration_ms)
    assert {row["error"] for row in rows if row["status"] == "failed"} == {"RuntimeError: boom"}

    items = _json(task_viewer_client, f"/tasks/{task.name}/history.json")
    assert len(items) == 20_000
    assert list(items[0]) == COMMON + DETAILS
    assert [item["id"] for item in items] == ids
    assert items[-1]["finished_at"] == last.finished_at.isoformat()
    assert items[0]["result"] == first.result and items[0]["is_overdue"] is False


def test_csv_is_rfc_4180_with_quotes_commas_and_line_breaks_in_errors(task_viewer_client):
    task = TaskFactory(name="backup")
    error = 'OSError: disk "data", full\nTraceback (most recent call last):\n  line 2'
    TaskExecutionFactory(task=task, status="failed", error=error, result={"path": "a,b"})
    raw = _body(task_viewer_client.get("/tasks/backup/history.csv"))
    assert raw.startswith(",".join(COMMON + DETAILS) + "\r\n") and raw.endswith("\r\n")
    assert '"OSError: disk ""data"", full\nTraceback' in raw  # quoted, quotes doubled
    (row,) = csv.DictReader(io.StringIO(raw, newline=""))
    assert row["error"] == error
    assert json.loads(row["result"]) == {"path": "a,b"}
    assert row["is_overdue"] == "false" and row["parent"] == ""


def test_csv_defuses_spreadsheet_formulas_and_json_keeps_the_text(task_viewer_client):
    task = TaskFactory(name="backup")
    TaskExecutionFactory(task=task, status="failed", error='=HYPERLINK("http://x","y")')
    (row,) = _csv(task_viewer_client, "/tasks/backup/history.csv")
    assert row["error"] == '\'=HYPERLINK("http://x","y")'
    (item,) = _json(task_viewer_client, "/tasks/backup/history.json")
    assert item["error"] == '=HYPERLINK("http://x","y")'


def test_datetimes_are_iso_8601_in_utc_and_json_values_are_nested(task_viewer_client, settings):
    settings.TIME_ZONE = "Europe/Madrid"
    task = TaskFactory(name="backup")
    TaskExecutionFactory(task=task, started_at=_at(5, 3), result={"deleted": 3, "é": ["ü"]})
    (item,) = _json(task_viewer_client, "/tasks/backup/history.json")
    assert item["started_at"] == "2025-03-05T03:00:00+00:00"
    assert item["result"] == {"deleted": 3, "é": ["ü"]}
    (row,) = _csv(task_viewer_client, "/tasks/backup/history.csv")
    assert row["started_at"] == "2025-03-05T03:00:00+00:00"


def test_an_empty_history_is_a_header_or_an_empty_array(viewer_client):
    TaskFactory(name="backup")
    assert _body(viewer_client.get("/tasks/backup/history.csv")) == ",".join(COMMON) + "\r\n"
    assert _json(viewer_client, "/tasks/backup/history.json") == []


SQLITE_ONLY = pytest.mark.skipif(
    connection.vendor != "sqlite", reason="PostgreSQL's jsonb refuses this text outright"
)


@pytest.mark.parametrize(
    "column, stored",
    [
        ("result", DEEP_OBJECT),
        ("kwargs", DEEP_OBJECT),
        pytest.param("result", LONE_SURROGATE, marks=SQLITE_ONLY),
        pytest.param("result", '{"a": NaN}', marks=SQLITE_ONLY),
    ],
)
def test_stored_json_no_check_let_in_still_exports(task_viewer_client, column, stored):
    """Written around the checks (raw SQL, old rows): shown as its text, never a broken file."""
    task = TaskFactory(name="backup")
    write_raw(TaskExecutionFactory(task=task), **{column: stored})
    (item,) = _json(task_viewer_client, "/tasks/backup/history.json")
    assert isinstance(item[column], str) and item[column].startswith('{"a":')
    (row,) = _csv(task_viewer_client, "/tasks/backup/history.csv")
    assert row[column] == item[column]


# --- filters ----------------------------------------------------------------------
@pytest.fixture
def dated_runs():
    task = TaskFactory(name="backup")
    runs = [
        TaskExecutionFactory(task=task, created_at=_at(day), status=status)
        for day, status in [(1, "success"), (2, "failed"), (3, "success"), (4, "failed")]
    ]
    return task, runs


@pytest.mark.parametrize(
    "query, expected",
    [
        ("status=failed", [1, 3]),
        ("since=2025-03-02", [1, 2, 3]),  # a date is its midnight; since is inclusive
        ("until=2025-03-03T00:00:00Z", [0, 1]),  # until is exclusive
        ("since=2025-03-02T00:00:00%2B00:00&until=2025-03-04", [1, 2]),
        ("status=success&since=2025-03-02", [2]),
        ("status=&since=&until=", [0, 1, 2, 3]),  # empty means no filter
    ],
)
def test_filters_pick_runs_by_status_and_queue_time(viewer_client, dated_runs, query, expected):
    task, runs = dated_runs
    for fmt in ("csv", "json"):
        url = f"/tasks/backup/history.{fmt}?{query}"
        got = _csv(viewer_client, url) if fmt == "csv" else _json(viewer_client, url)
        assert [int(row["id"]) for row in got] == [runs[i].pk for i in expected]


def test_a_naive_time_is_in_the_sites_time_zone(viewer_client, dated_runs, settings):
    settings.TIME_ZONE = "Europe/Madrid"  # UTC+1 in March
    task, runs = dated_runs
    queued = datetime(2025, 3, 2, 1, 30, tzinfo=UTC)  # 02:30 in Madrid
    TaskExecution.objects.filter(pk=runs[1].pk).update(created_at=queued)
    got = _json(viewer_client, "/tasks/backup/history.json?since=2025-03-02T02:30:00")
    assert [item["id"] for item in got] == [runs[1].pk, runs[2].pk, runs[3].pk]
    got = _json(viewer_client, "/tasks/backup/history.json?since=2025-03-02T02:30:01")
    assert [item["id"] for item in got] == [runs[2].pk, runs[3].pk]


@pytest.mark.parametrize(
    "query, message",
    [
        ("status=bogus", "status: 'bogus' is not one of queued, running, success"),
        ("since=yesterday", "since: 'yesterday' is not a date or time (use ISO 8601"),
        ("until=2025-02-30", "until: '2025-02-30' is not a date or time"),
        ("since=2025-03-02T25:00", "since: '2025-03-02T25:00' is not a date or time"),
        ("since=0001-01-01T00:00:00%2B01:00", "since: '0001-01-01T00:00:00+01:00' is not a date"),
        ("since=2025-03-02&until=2025-03-02", "since: must be before until"),
        ("since=" + "9" * 500, f"since: '{'9' * 40}' is not a date"),  # quoted, cut short
    ],
)
def test_a_bad_filter_is_a_400_that_says_which_and_why(viewer_client, query, message):
    TaskFactory(name="backup")
    response = viewer_client.get(f"/tasks/backup/history.csv?{query}")
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/plain")
    assert message in response.content.decode()
    response = viewer_client.get(f"/tasks/backup/history.json?{query}")
    assert response.status_code == 400
    assert message in response.json()["error"]


# --- who sees what -----------------------------------------------------------------
def test_a_viewer_without_view_task_gets_no_detail_columns(viewer_client):
    sentinels.task_with_secrets()
    csv_text = _body(viewer_client.get("/tasks/backup/history.csv"))
    json_text = _body(viewer_client.get("/tasks/backup/history.json"))
    for text in (csv_text, json_text):
        assert sentinels.leaked(text) == []
    assert csv_text.splitlines()[0].split(",") == COMMON
    assert all(list(item) == COMMON for item in json.loads(json_text))


@pytest.mark.parametrize("client_name", ["task_viewer_client", "staff_client", "admin_client_"])
def test_people_with_the_permission_get_every_detail_column(request, client_name):
    client = request.getfixturevalue(client_name)
    sentinels.task_with_secrets()
    items = _json(client, "/tasks/backup/history.json")
    failed = items[1]
    assert failed["requested_by"] == sentinels.REQUESTER
    assert (failed["host"], failed["pid"]) == (sentinels.HOST, sentinels.PID)
    assert sentinels.ERROR in failed["error"] and sentinels.TRACEBACK_PATH in failed["error"]
    assert failed["kwargs"] == {"only": sentinels.RUN_KWARG}
    assert items[0]["result"] == {"path": sentinels.RESULT}
    text = _body(client.get("/tasks/backup/history.csv"))
    assert all(secret in text for secret in sentinels.FAILED_RUN_SECRETS)


def test_signed_out_visitors_are_sent_to_sign_in_and_scripts_get_401(client):
    TaskFactory(name="backup")
    response = client.get("/tasks/backup/history.csv")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    response = client.get("/tasks/backup/history.json", HTTP_ACCEPT="application/json")
    assert response.status_code == 401


def test_an_unknown_task_is_404(viewer_client):
    assert viewer_client.get("/tasks/nope/history.csv").status_code == 404


def test_the_download_is_an_attachment_not_kept_by_caches(viewer_client):
    TaskFactory(name="backup")
    response = viewer_client.get("/tasks/backup/history.json")
    assert response["Content-Disposition"] == 'attachment; filename="backup-history.json"'
    assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"]


# --- cost -----------------------------------------------------------------------------
def _export_queries(client, monkeypatch, runs: int) -> int:
    monkeypatch.setattr(export, "CHUNK", 1_000)
    TaskExecution.objects.all().delete()
    task = TaskFactory(name=f"sized-{runs}")
    TaskExecution.objects.bulk_create(
        TaskExecution(task=task, status="success", created_at=_at(1) + timedelta(minutes=i))
        for i in range(runs)
    )
    with CaptureQueriesContext(connection) as captured:
        body = _body(client.get(f"/tasks/{task.name}/history.csv"))
    assert body.count("\r\n") == runs + 1
    return len(captured)


def test_queries_grow_with_chunks_never_with_rows(task_viewer_client, monkeypatch):
    """One query per 1,000 rows (the chunk): the requester's name comes in the same join."""
    small = _export_queries(task_viewer_client, monkeypatch, 2_500)  # 3 chunks
    large = _export_queries(task_viewer_client, monkeypatch, 5_500)  # 6 chunks
    assert large - small == 3
    assert small <= 10  # session, user, permissions, the task, three chunks


def test_rows_hold_one_chunk_at_a_time():
    """The generator yields chunk-sized lists: the whole history is never in memory."""
    (task,) = seed(1, 5_000)
    sizes = [len(chunk) for chunk in export.rows(task, export.Filters(), True, chunk=1_000)]
    assert sizes == [1_000] * 5
