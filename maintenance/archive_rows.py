"""What a valid line of an audit-log archive is, decided before anything is inserted.

A line is one JSON object whose keys are the archive's columns
(`archive_format.COLUMNS`). `parse_line` turns it into `AuditLog` field
values or raises `RowError` saying, in words an operator can act on, what is
wrong. It refuses every value the database would refuse (a string too long
for its column, a lone surrogate, NaN, an id out of range, on PostgreSQL a
NUL character), so a restore that passed the check never stops half-way.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_ipv46_address
from django.db import connection

from chirpsyncer.models import AuditLog
from maintenance.archive_format import COLUMNS

COLUMN_SET = frozenset(COLUMNS)
REQUIRED = ("id", "action", "created_at")
TEXT_KEYS = ("action", "resource_type", "resource_id", "user_agent")
DEFAULTS = {
    "user_id": None,
    "resource_type": "",
    "resource_id": "",
    "ip_address": None,
    "user_agent": "",
    "success": True,
    "details": {},
}
KINDS = {dict: "an object", list: "an array", str: "a string", bool: "true/false"}


class RowError(ValueError):
    """One line of an archive is not a row that can be restored."""


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return KINDS.get(type(value), "a number")


def _no_constants(name: str) -> None:
    raise RowError(f"{name} is not a JSON value")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise RowError(f"the number {text} is too large to store")
    return value


_decoder = json.JSONDecoder(parse_constant=_no_constants, parse_float=_finite)


def decode(line: bytes) -> dict[str, Any]:
    """The JSON object on `line`, or RowError (not UTF-8, not JSON, not an object)."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RowError(f"not UTF-8 text (byte {exc.start + 1})") from None
    if not text.strip():
        raise RowError("the line is empty")
    try:
        value = _decoder.decode(text)
    except RowError:
        raise
    except RecursionError:
        raise RowError("not JSON (nested too deeply)") from None
    except json.JSONDecodeError as exc:
        raise RowError(f"not JSON ({exc.msg} at column {exc.colno})") from None
    except ValueError as exc:  # e.g. an integer of more than 4300 digits
        raise RowError(f"not JSON ({exc})") from None
    if not isinstance(value, dict):
        raise RowError(f"expected a JSON object, found {_kind(value)}")
    return value


def _integer(key: str, value: Any, minimum: int, maximum: int) -> int:
    if type(value) is not int:
        raise RowError(f"{key}: expected an integer, found {_kind(value)}")
    if not minimum <= value <= maximum:
        raise RowError(f"{key}: {value} is out of range {minimum}..{maximum}")
    return value


@dataclass(frozen=True)
class Limits:
    """What the database in use can store; worked out once per restore, not per row."""

    refuses_nul: bool
    ids: tuple[int, int]
    user_ids: tuple[int, int]
    lengths: dict[str, int | None]


def _key_range(field_name: str) -> tuple[int, int]:
    field = AuditLog._meta.get_field(field_name)
    field = getattr(field, "target_field", field)  # user -> the user model's primary key
    _, high = connection.ops.integer_field_range(field.get_internal_type())
    return 1, high if high is not None else 2**63 - 1


def database_limits() -> Limits:
    """The limits of the default database (PostgreSQL stores no NUL in text or jsonb)."""
    return Limits(
        refuses_nul=connection.vendor == "postgresql",
        ids=_key_range("id"),
        user_ids=_key_range("user"),
        lengths={key: AuditLog._meta.get_field(key).max_length for key in TEXT_KEYS},
    )


def _storable(key: str, text: str, refuses_nul: bool) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise RowError(f"{key}: contains a lone surrogate (a broken \\u escape)") from None
    if refuses_nul and "\x00" in text:
        raise RowError(f"{key}: contains a NUL character, which PostgreSQL cannot store")


def _strings(value: Any) -> Iterator[str]:
    """Every string (keys too) inside a decoded JSON value; a loop, as it may be deep."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _text(key: str, value: Any, limits: Limits) -> str:
    if not isinstance(value, str):
        raise RowError(f"{key}: expected a string, found {_kind(value)}")
    longest = limits.lengths[key]
    if longest is not None and len(value) > longest:
        raise RowError(f"{key}: longer than {longest} characters")
    _storable(key, value, limits.refuses_nul)
    return value


@lru_cache(maxsize=4096)  # audit rows come from few addresses
def _is_ip_address(value: str) -> bool:
    try:
        validate_ipv46_address(value)
    except ValidationError:
        return False
    return True


def _ip_address(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise RowError(f"ip_address: expected a string or null, found {_kind(value)}")
    if not _is_ip_address(value):
        raise RowError(f"ip_address: {value[:60]!r} is not an IPv4 or IPv6 address")
    return value


def _boolean(key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise RowError(f"{key}: expected true or false, found {_kind(value)}")
    return value


def _details(value: Any, refuses_nul: bool) -> Any:
    if value is None:
        raise RowError("details: expected a JSON value other than null")
    for text in _strings(value):
        _storable("details", text, refuses_nul)
    return value


def _moment(value: Any) -> datetime:
    if not isinstance(value, str):
        raise RowError(f"created_at: expected an ISO 8601 date-time string, found {_kind(value)}")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise RowError(f"created_at: {value[:60]!r} is not an ISO 8601 date-time") from None
    if moment.tzinfo is None:
        raise RowError(f"created_at: {value!r} has no UTC offset")
    try:
        moment.astimezone(UTC)
    except OverflowError:
        raise RowError(f"created_at: {value!r} is out of range") from None
    return moment


def parse_row(record: dict[str, Any], limits: Limits) -> dict[str, Any]:
    """`AuditLog` field values from one decoded line, or RowError naming the key."""
    unknown = sorted(set(record) - COLUMN_SET)
    if unknown:
        raise RowError(f"unknown key(s) {', '.join(unknown)}")
    missing = [key for key in REQUIRED if key not in record]
    if missing:
        raise RowError(f"missing required key(s) {', '.join(missing)}")
    row = {**DEFAULTS, **record}
    user_id = row["user_id"]
    values = {key: _text(key, row[key], limits) for key in TEXT_KEYS}
    values.update(
        id=_integer("id", row["id"], *limits.ids),
        user_id=None if user_id is None else _integer("user_id", user_id, *limits.user_ids),
        ip_address=_ip_address(row["ip_address"]),
        success=_boolean("success", row["success"]),
        details=_details(row["details"], limits.refuses_nul),
        created_at=_moment(row["created_at"]),
    )
    return values


def parse_line(line: bytes, limits: Limits) -> dict[str, Any]:
    """One archive line as `AuditLog` field values; RowError says what is wrong."""
    return parse_row(decode(line), limits)
