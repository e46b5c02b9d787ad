"""Credential hygiene: switch off credentials nobody has used for months.

Set-based: a batch is a range of primary keys, switched off and logged in
one short transaction by the database itself. The `credential.deactivated`
audit rows, `details` JSON included, are written by `INSERT INTO auditlog
... SELECT ... FROM credential` (on PostgreSQL, from what the UPDATE
returned), so no row passes through Python: building 600,000 audit rows as
model instances made the task 28x a plain UPDATE of the same credentials.
`maintenance/tests/test_credentials.py` pins that the JSON says what the
Python code wrote (SQLite keeps non-ASCII characters as UTF-8 where
`json.dumps` escaped them, and leaves out the spaces; the values are equal).
"""

from __future__ import annotations

import calendar
import logging
from datetime import datetime

from django.db import connection, transaction
from django.db.models import Max, Q, QuerySet
from django.utils import timezone

from chirpsyncer.models import AuditLog, Credential
from maintenance.batch_loop import run_batches

logger = logging.getLogger(__name__)

ACTION = "credential.deactivated"
BATCH_SIZE = 5000

# `last_used_at` as Python's isoformat() prints the aware UTC datetime Django
# reads (microseconds only when there are some); NULL stays NULL (JSON null).
# SQLite: Django stores "YYYY-MM-DD HH:MM:SS[.ffffff]" in UTC, the same digits.
_ISO_UTC = {
    "sqlite": "replace({col}, ' ', 'T') || '+00:00'",
    "postgresql": (
        "to_char({col} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS') || CASE WHEN "
        "date_trunc('second', {col}) = {col} THEN '' ELSE to_char({col} AT TIME ZONE 'UTC', "
        "'.US') END || '+00:00'"
    ),
}
_JSON_OBJECT = {"sqlite": "json_object", "postgresql": "jsonb_build_object"}
_INTEGER_PARAM = {"sqlite": "%s", "postgresql": "%s::integer"}
_TEXT_PARAM = {"sqlite": "%s", "postgresql": "%s::text"}


def months_before(moment: datetime, months: int) -> datetime:
    """The same wall-clock time `months` calendar months earlier, in TIME_ZONE.

    The day is clamped to the target month's length: six months before
    31 August is 28 (or 29) February, not 3 March.
    """
    if months < 0:
        raise ValueError(f"months must be zero or more, got {months}")
    local = timezone.localtime(moment)
    year, month_index = divmod(local.year * 12 + local.month - 1 - months, 12)
    day = min(local.day, calendar.monthrange(year, month_index + 1)[1])
    return local.replace(year=year, month=month_index + 1, day=day)


def inactive_credentials(cutoff: datetime) -> QuerySet[Credential]:
    """Active credentials last used before `cutoff`, or never used and created before it.

    The batches below spell the same condition in SQL (`_Batch.inactive`);
    `maintenance/tests/test_credentials.py` pins that they agree.
    """
    unused_since = Q(last_used_at__lt=cutoff)
    never_used = Q(last_used_at__isnull=True, created_at__lt=cutoff)
    return Credential.objects.filter(unused_since | never_used, is_active=True)


class _Batch:
    """One batch's statements for the current database, built from the models' meta.

    A batch is a range of primary keys, `after < pk <= last` (no upper bound
    for the last batch), and its credentials that match the inactive condition.
    """

    def __init__(self, vendor: str) -> None:
        if vendor not in _ISO_UTC:
            raise NotImplementedError(f"SQLite and PostgreSQL are supported, not {vendor}")
        qn = connection.ops.quote_name
        self.vendor = vendor
        pk, used = qn("id"), qn("last_used_at")
        self.inactive = (
            f"{qn('is_active')} AND ({used} < %s OR ({used} IS NULL AND {qn('created_at')} < %s))"
        )
        self.pk, self.credentials = pk, qn(Credential._meta.db_table)
        details = (
            f"{_JSON_OBJECT[vendor]}('platform', {qn('platform')}, 'label', {qn('label')}, "
            f"'last_used_at', {_ISO_UTC[vendor].format(col=used)}, "
            f"'inactive_months', {_INTEGER_PARAM[vendor]}, 'cutoff', {_TEXT_PARAM[vendor]})"
        )
        names = ["user", "action", "resource_type", "resource_id", "ip_address", "user_agent"]
        names += ["success", "details", "created_at"]
        columns = ", ".join(qn(AuditLog._meta.get_field(name).column) for name in names)
        self.insert_audit = (
            f"INSERT INTO {qn(AuditLog._meta.db_table)} ({columns}) "
            f"SELECT {qn('user_id')}, %s, 'credential', CAST({pk} AS TEXT), NULL, '', %s, "
            f"{details}, %s FROM {{source}} WHERE {{where}} ORDER BY {pk}"
        )
        self.returning = ", ".join(qn(name) for name in ("id", "user_id", "platform", "label"))
        self.returning += f", {used}"

    def where(self, last: int | None) -> str:
        upper = "" if last is None else f" AND {self.pk} <= %s"
        return f"{self.pk} > %s{upper} AND {self.inactive}"

    def run(
        self, after: int, last: int | None, cutoff: datetime, months: int, now: datetime
    ) -> int:
        """Switch off the batch's inactive credentials and log each; returns how many.

        Whoever switches a credential off writes its audit row, so two runs
        that overlap never log one credential twice. PostgreSQL: one
        statement, the audit rows selected from what the UPDATE returned (a
        concurrent run's UPDATE waits for this one's row locks, then skips
        the rows that no longer match). SQLite: the INSERT ... SELECT, then
        the UPDATE with the same condition; SQLite lets one writer in at a
        time, so nobody can change the rows between the two.
        """
        adapt = connection.ops.adapt_datetimefield_value
        where = self.where(last)
        bounds = [after] if last is None else [after, last]
        where_params = [*bounds, adapt(cutoff), adapt(cutoff)]
        audit_params = [ACTION, True, months, cutoff.isoformat(), adapt(now)]
        update = f"UPDATE {self.credentials} SET {connection.ops.quote_name('is_active')} = %s "
        update += f"WHERE {where}"
        with transaction.atomic(), connection.cursor() as cursor:
            if self.vendor == "postgresql":
                insert = self.insert_audit.format(source="switched", where="TRUE")
                cursor.execute(
                    f"WITH switched AS ({update} RETURNING {self.returning}) {insert}",
                    [False, *where_params, *audit_params],
                )
                return cursor.rowcount
            insert = self.insert_audit.format(source=self.credentials, where=where)
            cursor.execute(insert, [*audit_params, *where_params])
            logged = cursor.rowcount
            cursor.execute(update, [False, *where_params])
            if cursor.rowcount != logged:  # raising rolls the batch back
                raise RuntimeError(f"{cursor.rowcount} credentials deactivated, {logged} logged")
            return logged


def deactivate_inactive_credentials(months: int) -> dict:
    """Mark credentials unused for `months` calendar months inactive, with one audit row each.

    Batches walk the primary key up to the highest one at the start (the
    last batch has no upper bound), starting at BATCH_SIZE keys and adapting
    to take 0.1-0.5 s each (`maintenance.batch_loop`). No batch reads rows
    an earlier one switched off.
    """
    now = timezone.now()
    cutoff = months_before(now, months)
    batch = _Batch(connection.vendor)
    highest = Credential.objects.aggregate(highest=Max("pk"))["highest"] or 0
    after = 0

    def step(size: int) -> tuple[int, bool]:
        nonlocal after
        last = after + size if after + size < highest else None
        count = batch.run(after, last, cutoff, months, now)
        after = last or highest
        return count, last is None

    run = run_batches(step, size=BATCH_SIZE, what="credentials deactivated")
    logger.info(
        "Deactivated %d credentials unused since %s in %d batches (longest %.3f s)",
        run.done,
        cutoff.isoformat(),
        run.batches,
        run.longest_batch_seconds,
    )
    return {"deactivated": run.done, "audit_logs": run.done, "cutoff": cutoff.isoformat()}
