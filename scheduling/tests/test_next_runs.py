"""The "Next runs" card: each fire time as the task's clock shows it, seconds when it has them."""

import re
from datetime import UTC, datetime

import pytest
import time_machine

from scheduling.display import fire_times, local_time
from scheduling.tests.factories import TaskFactory

pytestmark = pytest.mark.django_db


def _next_runs(client, name: str) -> list[str]:
    body = client.get(f"/tasks/{name}/").content.decode()
    card = body[body.index('id="upcoming"') : body.index("</ul>", body.index('id="upcoming"'))]
    return re.findall(r'justify-content-between"><span>([^<]+)</span>', card)


@time_machine.travel(datetime(2025, 3, 4, 3, 55, 1, tzinfo=UTC), tick=False)
def test_a_20_second_task_lists_five_different_times_with_seconds(viewer_client):
    # Created now, at 03:55:01: an interval runs from its creation.
    TaskFactory(name="fast", trigger_type="interval", cron_expression="", interval_seconds=20)
    assert _next_runs(viewer_client, "fast") == [
        "Tue 2025-03-04 03:55:21 UTC",
        "Tue 2025-03-04 03:55:41 UTC",
        "Tue 2025-03-04 03:56:01 UTC",
        "Tue 2025-03-04 03:56:21 UTC",
        "Tue 2025-03-04 03:56:41 UTC",
    ]


@time_machine.travel(datetime(2025, 3, 4, 3, 55, 1, tzinfo=UTC), tick=False)
def test_a_cron_task_lists_minutes_in_its_own_zone(viewer_client):
    TaskFactory(name="nightly", cron_expression="30 2 * * *", timezone="Europe/Madrid")
    assert _next_runs(viewer_client, "nightly")[:2] == [
        "Wed 2025-03-05 02:30 CET",
        "Thu 2025-03-06 02:30 CET",
    ]


def test_fire_times_show_seconds_only_when_a_time_has_them():
    on_the_minute = [datetime(2025, 7, 1, 10, m, tzinfo=UTC) for m in (0, 1)]
    assert [text for _, text in fire_times(on_the_minute, "Europe/Madrid")] == [
        "Tue 2025-07-01 12:00 CEST",
        "Tue 2025-07-01 12:01 CEST",
    ]
    odd = [*on_the_minute, datetime(2025, 7, 1, 10, 1, 30, tzinfo=UTC)]
    assert fire_times(odd, "Nowhere/City")[2][1] == "Tue 2025-07-01 10:01:30 UTC"


def test_the_next_run_column_shows_seconds_only_when_the_time_has_them():
    assert local_time(datetime(2025, 7, 1, 10, 1, tzinfo=UTC), "Europe/Madrid") == (
        "Tue 1 Jul, 12:01 CEST"
    )
    assert (
        local_time(datetime(2025, 7, 1, 10, 1, 30, tzinfo=UTC), "UTC") == "Tue 1 Jul, 10:01:30 UTC"
    )


@time_machine.travel(datetime(2025, 3, 4, 3, 55, 1, tzinfo=UTC), tick=False)
def test_the_task_list_shows_a_20_second_tasks_next_run_to_the_second(viewer_client):
    TaskFactory(
        name="fast",
        trigger_type="interval",
        cron_expression="",
        interval_seconds=20,
        next_run_at=datetime(2025, 3, 4, 3, 55, 21, tzinfo=UTC),
    )
    assert "Tue 4 Mar, 03:55:21 UTC" in viewer_client.get("/tasks/").content.decode()
    status = viewer_client.get("/api/tasks/status/").json()
    assert [t["next_run_local"] for t in status["tasks"] if t["name"] == "fast"] == [
        "Tue 4 Mar, 03:55:21 UTC"
    ]
