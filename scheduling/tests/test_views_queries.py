"""Query counts do not grow with the data: 100 tasks and 100,000 executions.

The history is loaded once for the module (executemany, committed) and
removed afterwards; each test reads it inside its own transaction.
"""

import pytest
from django.db import connection

from benchmarks.pages import seed
from scheduling.models import Task, TaskExecution

TASKS, EXECUTIONS = 100, 100_000


@pytest.fixture(scope="module")
def big_history(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        tasks = seed(TASKS, EXECUTIONS)
        yield tasks
        with connection.cursor() as cursor:  # no per-row cascade collection
            cursor.execute(f"DELETE FROM {TaskExecution._meta.db_table}")
            cursor.execute(f"DELETE FROM {Task._meta.db_table}")


@pytest.fixture
def middle_task(big_history, db):
    return big_history[TASKS // 2]


def test_task_list_takes_at_most_8_queries(
    big_history, staff_client, django_assert_max_num_queries
):
    with django_assert_max_num_queries(8):
        response = staff_client.get("/tasks/")
    body = response.content.decode()
    assert body.count("<tr data-task=") == TASKS
    assert body.count('<svg class="sparkline"') == TASKS
    assert body.count("<rect ") == TASKS * 20


def test_filtered_task_list_takes_at_most_8_queries(
    big_history, staff_client, django_assert_max_num_queries
):
    with django_assert_max_num_queries(8):
        assert staff_client.get("/tasks/?status=success&enabled=yes").status_code == 200


def test_task_detail_takes_at_most_11_queries(
    middle_task, staff_client, django_assert_max_num_queries
):
    # ... and the tasks the form offers to run after (those that run after it among them)
    with django_assert_max_num_queries(11):
        body = staff_client.get(middle_task.get_absolute_url()).content.decode()
    assert body.count("data-execution=") == 50
    assert 'id="schedule-form"' in body


def test_an_old_history_page_takes_at_most_11_queries(
    middle_task, staff_client, django_assert_max_num_queries
):
    oldest_ids = TaskExecution.objects.filter(task=middle_task).order_by("id")
    cursor = oldest_ids.values_list("id", flat=True)[60]
    with django_assert_max_num_queries(11):
        body = staff_client.get(
            f"{middle_task.get_absolute_url()}?before={cursor}"
        ).content.decode()
    assert body.count("data-execution=") == 50
    assert "Older &rarr;" in body and "&larr; Newer" in body


def test_a_filtered_history_takes_at_most_11_queries(
    middle_task, staff_client, django_assert_max_num_queries
):
    with django_assert_max_num_queries(11):
        body = staff_client.get(f"{middle_task.get_absolute_url()}?status=failed").content.decode()
    assert body.count('data-status="failed"') >= 50


def test_status_api_takes_at_most_7_queries(
    big_history, viewer_client, django_assert_max_num_queries
):
    # session, user, the user's permissions (2: own and groups'), tasks, 7-day counts, heartbeat
    with django_assert_max_num_queries(7):
        tasks = viewer_client.get("/api/tasks/status/").json()["tasks"]
    assert len(tasks) == TASKS
    assert all(task["last_7_days"]["runs"] > 0 for task in tasks)


def test_execution_detail_takes_at_most_7_queries(
    middle_task, viewer_client, django_assert_max_num_queries
):
    execution = TaskExecution.objects.filter(task=middle_task).first()
    # session, user, the user's permissions (2), the execution with its task, requester
    # and parent, the runs it started
    with django_assert_max_num_queries(7):
        assert viewer_client.get(execution.get_absolute_url()).status_code == 200
