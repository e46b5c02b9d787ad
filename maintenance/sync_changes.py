"""Database triggers that note sync records changed or deleted, for the daily stats.

`aggregate_daily_stats` finds new and re-saved records by `updated_at`, but
a deleted record leaves no row to find, and `QuerySet.update()` or raw SQL
can move a record to another day or user without touching `updated_at`.
Triggers on the sync record table note each such record's user and start
time in `SyncRecordChange`, whatever made the change. PostgreSQL runs them
once per statement over its transition tables (one INSERT ... SELECT even
for a million-row DELETE); SQLite, which has only row triggers, per row.
Not noted: PostgreSQL's TRUNCATE, which fires no row or DELETE triggers.

SQLite drops a table's triggers when Django rebuilds the table (most
`AlterField` migrations do), so `ensure_installed` runs after every
`migrate` (see `maintenance.apps`).
"""

from __future__ import annotations

from typing import Any

RECORDS = "chirpsyncer_syncrecord"
CHANGES = "maintenance_syncrecordchange"
TRIGGERS = ("maintenance_syncrecord_deleted", "maintenance_syncrecord_updated")
# What DailySyncStat is computed from: a change to any of these changes a stat.
COUNTED = ("user_id", "started_at", "success", "posts_synced")

_SQLITE = [
    f"""CREATE TRIGGER IF NOT EXISTS {TRIGGERS[0]} AFTER DELETE ON {RECORDS}
    BEGIN
        INSERT INTO {CHANGES} (user_id, started_at) VALUES (OLD.user_id, OLD.started_at);
    END""",
    f"""CREATE TRIGGER IF NOT EXISTS {TRIGGERS[1]} AFTER UPDATE OF {", ".join(COUNTED)} ON {RECORDS}
    WHEN {" OR ".join(f"OLD.{column} IS NOT NEW.{column}" for column in COUNTED)}
    BEGIN
        INSERT INTO {CHANGES} (user_id, started_at)
        VALUES (OLD.user_id, OLD.started_at), (NEW.user_id, NEW.started_at);
    END""",
]
_COLUMNS = ", ".join(("id", *COUNTED))
_POSTGRESQL = [
    f"""CREATE OR REPLACE FUNCTION {TRIGGERS[0]}() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO {CHANGES} (user_id, started_at) SELECT user_id, started_at FROM old_rows;
        RETURN NULL;
    END $$""",
    f"""CREATE OR REPLACE FUNCTION {TRIGGERS[1]}() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO {CHANGES} (user_id, started_at)
        SELECT user_id, started_at FROM (
            (SELECT {_COLUMNS} FROM old_rows EXCEPT SELECT {_COLUMNS} FROM new_rows)
            UNION ALL
            (SELECT {_COLUMNS} FROM new_rows EXCEPT SELECT {_COLUMNS} FROM old_rows)
        ) AS changed;
        RETURN NULL;
    END $$""",
    f"DROP TRIGGER IF EXISTS {TRIGGERS[0]} ON {RECORDS}",
    f"""CREATE TRIGGER {TRIGGERS[0]} AFTER DELETE ON {RECORDS}
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION {TRIGGERS[0]}()""",
    f"DROP TRIGGER IF EXISTS {TRIGGERS[1]} ON {RECORDS}",
    f"""CREATE TRIGGER {TRIGGERS[1]} AFTER UPDATE ON {RECORDS}
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION {TRIGGERS[1]}()""",
]


def install(connection: Any) -> None:
    """Create (or replace) the triggers on `connection`'s database."""
    statements = {"sqlite": _SQLITE, "postgresql": _POSTGRESQL}[connection.vendor]
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


def uninstall(connection: Any) -> None:
    """Drop the triggers (and on PostgreSQL their functions)."""
    with connection.cursor() as cursor:
        for name in TRIGGERS:
            if connection.vendor == "postgresql":
                cursor.execute(f"DROP TRIGGER IF EXISTS {name} ON {RECORDS}")
                cursor.execute(f"DROP FUNCTION IF EXISTS {name}()")
            else:
                cursor.execute(f"DROP TRIGGER IF EXISTS {name}")


def installed(connection: Any) -> set[str]:
    """The names of our triggers present on the sync record table."""
    if connection.vendor == "postgresql":
        sql = "SELECT tgname FROM pg_trigger WHERE tgrelid = %s::regclass AND tgname IN (%s, %s)"
    else:
        sql = "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = %s "
        sql += "AND name IN (%s, %s)"
    with connection.cursor() as cursor:
        cursor.execute(sql, [RECORDS, *TRIGGERS])
        return {row[0] for row in cursor.fetchall()}


def ensure_installed(connection: Any) -> bool:
    """Install the triggers if both tables exist and a trigger is missing; True if it did."""
    tables = set(connection.introspection.table_names())
    if not {RECORDS, CHANGES} <= tables or installed(connection) == set(TRIGGERS):
        return False
    install(connection)
    return True
