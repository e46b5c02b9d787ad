"""The task page's charts: what they draw, how they read without sight, what they cost."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from benchmarks.pages import seed
from scheduling import charts
from scheduling.models import TaskExecution
from scheduling.tests.factories import TaskExecutionFactory, TaskFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2025, 3, 30, 12, 0, tzinfo=UTC)


def _run(task, at: datetime, status: str = "success", duration_ms: int | None = 1000):
    return TaskExecutionFactory(
        task=task, status=status, created_at=at, started_at=at, duration_ms=duration_ms
    )


def _queries(task) -> int:
    with CaptureQueriesContext(connection) as captured:
        data = charts.for_task(task)
        str(data.durations_svg), str(data.days_svg)
    return len(captured)


@pytest.mark.parametrize("size", [10, 10_000])
def test_the_charts_take_two_queries_whatever_the_history(size):
    (task,) = seed(1, size)
    assert _queries(task) == 2
    data = charts.for_task(task)
    assert len(data.runs) == min(size, 100) and len(data.days) == 30


@pytest.mark.parametrize("size", [10, 10_000])
def test_the_detail_page_costs_the_same_at_10_and_10000_runs(staff_client, size):
    (task,) = seed(1, size)
    with CaptureQueriesContext(connection) as captured:
        body = staff_client.get(task.get_absolute_url()).content.decode()
    assert body.count('class="chart chart-durations"') == 1
    assert body.count('class="chart chart-days"') == 1
    assert len(captured) <= 11


def test_it_draws_the_newest_100_runs_oldest_left_with_height_for_duration():
    task = TaskFactory(name="backup")
    start = NOW - timedelta(days=10)
    made = [_run(task, start + timedelta(hours=i), duration_ms=100 + i) for i in range(150)]
    data = charts.for_task(task, now=NOW)
    assert [run.id for run in data.runs] == [run.pk for run in made[50:]]
    svg = str(data.durations_svg)
    bars = re.findall(r'<rect class="bar status-success" x="(\d+)" y="(\d+)" width="8" '
                      r'height="(\d+)">', svg)  # fmt: skip
    assert len(bars) == 100
    assert [int(x) for x, _, _ in bars] == sorted(int(x) for x, _, _ in bars)
    assert int(bars[-1][2]) == 100  # the longest run (249 ms) reaches the top line
    assert int(bars[0][2]) == round(100 * 150 / 249)  # 150 ms: linear scale


def test_failures_and_skips_are_marked_under_the_axis_not_only_coloured():
    task = TaskFactory(name="backup")
    _run(task, NOW - timedelta(hours=3))
    _run(task, NOW - timedelta(hours=2), status="failed")
    _run(task, NOW - timedelta(hours=1), status="skipped", duration_ms=None)
    svg = str(charts.for_task(task, now=NOW).durations_svg)
    assert svg.count('class="mark status-failed"') == 1
    assert svg.count('class="mark status-skipped"') == 1
    assert 'class="mark status-success"' not in svg
    assert re.search(r'class="bar status-skipped"[^>]*height="3"', svg)  # no duration: a stub


def test_days_are_the_tasks_calendar_days_with_rates_and_empty_days():
    task = TaskFactory(name="backup", timezone="Europe/Madrid")
    # 23:30 UTC on 28 March is 00:30 on 29 March in Madrid.
    for status in ["success", "success", "success", "failed"]:
        _run(task, datetime(2025, 3, 28, 23, 30, tzinfo=UTC), status=status)
    _run(task, datetime(2025, 3, 27, 10, 0, tzinfo=UTC), status="skipped", duration_ms=None)
    _run(task, datetime(2025, 2, 27, 10, 0, tzinfo=UTC))  # before the 30 days
    days = charts.for_task(task, now=NOW).days
    assert days[0].day.isoformat() == "2025-03-01" and days[-1].day.isoformat() == "2025-03-30"
    by_day = {day.day.isoformat(): day for day in days}
    assert (by_day["2025-03-29"].total, by_day["2025-03-29"].rate) == (4, 0.75)
    assert by_day["2025-03-29"].grade == "bad"
    assert by_day["2025-03-28"].total == 0
    assert (by_day["2025-03-27"].skipped, by_day["2025-03-27"].rate) == (1, None)
    assert sum(day.total for day in days) == 5


def test_the_strip_fills_each_day_to_its_success_rate():
    task = TaskFactory(name="backup")
    for status in ["success"] * 9 + ["failed"]:
        _run(task, NOW - timedelta(hours=1), status=status)
    svg = str(charts.for_task(task, now=NOW).days_svg)
    assert svg.count('class="track"') == 30
    (day,) = re.findall(
        r'<rect class="day day-warn" x="\d+" y="(\d+)" width="8" height="(\d+)"', svg
    )
    assert day == ("4", "36")  # 90% of 40
    assert "10 runs, 9 succeeded, 1 failed (90%)" in svg


def test_each_chart_has_a_text_alternative_and_no_inline_style_or_script():
    task = TaskFactory(name="backup")
    _run(task, NOW - timedelta(hours=2), duration_ms=4200)
    _run(task, NOW - timedelta(hours=1), status="failed", duration_ms=800)
    data = charts.for_task(task, now=NOW)
    for svg in (str(data.durations_svg), str(data.days_svg)):
        label = re.search(r'role="img" aria-label="([^"]+)"', svg).group(1)
        assert f"<title>{label}</title>" in svg  # the SVG's own title, first child
        assert "style=" not in svg and "<script" not in svg and "fill=" not in svg
    assert data.runs_summary == "Last 2 runs: 1 succeeded, 1 failed. Median 2.5 s, longest 4.2 s."
    assert data.days_summary == "Last 30 days: 50% of 2 runs succeeded; 1 day with failures."


def test_the_page_shows_the_charts_and_their_numbers_as_tables(staff_client):
    task = TaskFactory(name="backup")
    for i in range(3):
        _run(task, datetime.now(UTC) - timedelta(hours=i + 1), duration_ms=1000 * (i + 1))
    body = staff_client.get("/tasks/backup/").content.decode()
    charts_html = body[body.index('id="charts"') : body.index('id="history"')]
    assert "These runs as a table" in charts_html and "These days as a table" in charts_html
    assert charts_html.count("<tr><td>#") == 3
    assert "3.0 s" in charts_html  # the scale's top: the longest run
    assert "Last 3 runs: 3 succeeded. Median 2.0 s, longest 3.0 s." in charts_html
    assert "style=" not in charts_html


def test_a_task_that_never_ran_says_so_instead_of_an_empty_chart(viewer_client):
    TaskFactory(name="backup")
    body = viewer_client.get("/tasks/backup/").content.decode()
    assert "No runs yet: the chart appears after the first one." in body
    assert "No runs with an outcome in the last 30 days." in body
    assert TaskExecution.objects.count() == 0
