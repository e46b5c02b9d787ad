"""Migrations 0003/0004 on a database holding values the new constraints refuse.

Before 0004 any non-negative number was accepted; the migration must bring
such rows into range rather than fail on a real database.
"""

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("scheduling", "0002_misfire_grace_default_from_settings")]
AFTER = [("scheduling", "0004_task_value_ranges")]
BIG = 10**14 if connection.vendor == "sqlite" else 2**31 - 1


def _migrate(targets=None):
    """Migrate to `targets` (default: the latest), returning the models as they are there."""
    executor = MigrationExecutor(connection)
    targets = targets or executor.loader.graph.leaf_nodes()
    executor.migrate(targets)
    executor.loader.build_graph()
    return executor.loader.project_state(targets).apps


def test_the_migration_clamps_out_of_range_rows_before_adding_the_constraints():
    old_apps = _migrate(BEFORE)
    try:
        Task = old_apps.get_model("scheduling", "Task")
        base = {"func": "test_noop", "cron_expression": "0 3 * * *", "timezone": "UTC"}
        Task.objects.create(
            name="huge",
            interval_seconds=BIG,
            misfire_grace_seconds=BIG,
            timeout_seconds=BIG,
            max_retries=30_000,
            retry_backoff_seconds=BIG,
            retry_backoff_max_seconds=BIG,
            run_at=datetime(9999, 12, 31, 23, 59, tzinfo=UTC),
            kwargs=[1, 2],
            **base,
        )
        Task.objects.create(
            name="zero", interval_seconds=0, misfire_grace_seconds=0, timeout_seconds=0,
            run_at=datetime(1900, 1, 1, tzinfo=UTC), kwargs={"keep": 1}, **base,
        )  # fmt: skip
        Task.objects.create(name="fine", kwargs={"days_old": 30}, **base)
        new_apps = _migrate(AFTER)
    finally:
        _migrate()  # the later tests need the latest schema
    rows = {task.name: task for task in new_apps.get_model("scheduling", "Task").objects.all()}
    huge, zero, fine = rows["huge"], rows["zero"], rows["fine"]
    assert (huge.interval_seconds, huge.misfire_grace_seconds, huge.timeout_seconds) == (
        31_536_000, 2_592_000, 2_592_000,
    )  # fmt: skip
    assert (huge.max_retries, huge.retry_backoff_seconds, huge.retry_backoff_max_seconds) == (
        100, 86_400, 604_800,
    )  # fmt: skip
    assert huge.run_at == datetime(9000, 12, 31, 23, 59, 59, tzinfo=UTC)
    assert huge.kwargs == {}
    assert (zero.interval_seconds, zero.misfire_grace_seconds, zero.timeout_seconds) == (1, 1, 1)
    assert zero.run_at == datetime(1970, 1, 1, tzinfo=UTC) and zero.kwargs == {"keep": 1}
    assert (fine.misfire_grace_seconds, fine.kwargs) == (300, {"days_old": 30})
