"""Rows written straight to the database, around validators and check constraints.

What a raw UPDATE, a shell session or a row from before the constraints can
leave behind. The scheduler and the pages must survive every one of them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from django.db import connection, models

# Written by `scheduling.tests.not_registered.touch` if it ever runs.
NOT_REGISTERED_MARKER = Path("/tmp/chirpsyncer-not-registered-was-called")

# The largest value each database stores in an integer column the checks refuse.
HUGE = 10**14 if connection.vendor == "sqlite" else 2**31 - 1
LONE_SURROGATE = '{"a": "\\ud800"}'
DEEP = "[" * 900 + "]" * 900
DEEP_OBJECT = '{"a": ' * 900 + "1" + "}" * 900


def not_registered_marker() -> Path:
    return NOT_REGISTERED_MARKER


@contextmanager
def checks_off(model: type[models.Model]) -> Iterator[None]:
    """Let writes to `model`'s table bypass its check constraints, as a raw UPDATE could.

    SQLite: a pragma for this connection. PostgreSQL: the constraints are
    dropped and added back NOT VALID, which is what a row from before a
    constraint looks like (new writes are checked, old rows are not).
    """
    table = model._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("PRAGMA ignore_check_constraints = ON")
            try:
                yield
            finally:
                cursor.execute("PRAGMA ignore_check_constraints = OFF")
            return
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = %s::regclass AND contype = 'c'",
            [table],
        )
        definitions = cursor.fetchall()
        # ALTER TABLE refuses to run while deferred foreign-key checks are pending.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        for name, _ in definitions:
            cursor.execute(f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"')
        try:
            yield
        finally:
            for name, definition in definitions:
                cursor.execute(
                    f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" {definition} NOT VALID'
                )
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def write_raw(obj: models.Model, **values: Any) -> None:
    """UPDATE `obj`'s row with `values`; JSON fields take raw JSON text. No check applies."""
    meta = obj._meta
    assignments, params = [], []
    for name, value in values.items():
        field = meta.get_field(name)
        if isinstance(field, models.JSONField):
            cast = "%s" if connection.vendor == "sqlite" else "CAST(%s AS jsonb)"
            assignments.append(f'"{field.column}" = {cast}')
            params.append(value)
        else:
            assignments.append(f'"{field.column}" = %s')
            params.append(field.get_db_prep_save(value, connection))
    with checks_off(type(obj)), connection.cursor() as cursor:
        cursor.execute(
            f'UPDATE "{meta.db_table}" SET {", ".join(assignments)} WHERE id = %s',
            [*params, obj.pk],
        )
