"""Bring existing task rows into the ranges that 0004 adds as check constraints.

Before 0004 the database accepted any non-negative number (and on SQLite,
any 64-bit one), so a real database may hold values the constraints refuse;
adding a constraint over such a row would fail the migration. This step runs
first, in its own transaction, and clamps each out-of-range value to the
nearest allowed one (0 becomes 1 where 0 is not allowed; a huge interval,
misfire grace, timeout, retry count or backoff becomes the maximum; a run_at
before 1970 or after year 9000 becomes that bound). A `kwargs` that is not a
JSON object becomes `{}`. Rows already in range are not touched. The ranges
are copied here, not imported, so this migration keeps its meaning if they
change later.
"""

from datetime import UTC, datetime

from django.db import migrations

from scheduling.jsontext import JSONTypeOf

DAY = 86_400
RANGES = {
    "interval_seconds": (1, 365 * DAY),
    "misfire_grace_seconds": (1, 30 * DAY),
    "timeout_seconds": (1, 30 * DAY),
    "max_retries": (0, 100),
    "retry_backoff_seconds": (0, DAY),
    "retry_backoff_max_seconds": (0, 7 * DAY),
}
RUN_AT = (datetime(1970, 1, 1, tzinfo=UTC), datetime(9000, 12, 31, 23, 59, 59, tzinfo=UTC))


def clamp(apps, schema_editor):
    tasks = apps.get_model("scheduling", "Task").objects
    for field, (low, high) in RANGES.items():
        tasks.filter(**{f"{field}__lt": low}).update(**{field: low})
        tasks.filter(**{f"{field}__gt": high}).update(**{field: high})
    tasks.filter(run_at__lt=RUN_AT[0]).update(run_at=RUN_AT[0])
    tasks.filter(run_at__gt=RUN_AT[1]).update(run_at=RUN_AT[1])
    tasks.annotate(kind=JSONTypeOf("kwargs")).exclude(kind="object").update(kwargs={})


class Migration(migrations.Migration):
    dependencies = [("scheduling", "0002_misfire_grace_default_from_settings")]

    operations = [migrations.RunPython(clamp, migrations.RunPython.noop)]
