"""JSON that cannot hurt the process reading it: checked before parsing, shown safely.

Python's json module recurses once per nesting level (900 levels inside a
Django view is a RecursionError), accepts NaN and Infinity (no database JSON
type stores them), and decodes a lone "\\ud800" escape into a string no page
can encode as UTF-8. So:

- `loads` counts the nesting depth of the text *before* parsing it, refuses
  NaN/Infinity and numbers too large for a float, and finds lone surrogates;
- `dumps` refuses the same things in a Python value, without recursing more
  than the depth limit allows;
- `StoredJSONField` reads a database value through `loads`: a row written
  around the checks (raw SQL, an old row) comes back as `Unreadable` text that
  pages show as it is stored, and that the runner refuses to run with;
- `display` renders any value for a page without raising.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models.fields.json import KeyTransform
from django.forms.fields import InvalidJSONInput

MAX_DEPTH = 32

# A JSON string (escapes included) or one bracket: enough to count nesting.
_TOKENS = re.compile(r'"(?:[^"\\]+|\\.)*"|[\[\]{}]')
# An escaped surrogate in JSON text; only these can decode to a lone surrogate.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
# json.dumps writes NUL as \u0000 (an escaped backslash before it is not one).
_NUL_ESCAPE = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")


class JSONProblem(ValueError):
    """The text or value is not JSON we store: the message says why."""


class Unreadable(InvalidJSONInput):
    """A stored JSON text that failed the checks, kept as the text itself.

    A `str`, so templates print it and the status API sends it as a string;
    an `InvalidJSONInput`, so Django's JSON form fields show it as typed text.
    """

    problem: str

    def __new__(cls, text: str, problem: str) -> Unreadable:
        obj = super().__new__(cls, text)
        obj.problem = problem
        return obj


def nesting_depth(text: str) -> int:
    """How deeply arrays and objects nest in `text`, counted without parsing it."""
    depth = deepest = 0
    for match in _TOKENS.finditer(text):
        token = match.group()
        if token in ("[", "{"):
            depth += 1
            deepest = max(deepest, depth)
        elif token in ("]", "}"):
            depth -= 1
    return deepest


def _refuse_constant(name: str) -> Any:
    raise JSONProblem(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise JSONProblem(f"{text} is too large for a number")
    return value


def loads(text: str, max_depth: int = MAX_DEPTH) -> Any:
    """Parse `text`, or raise JSONProblem saying what is wrong with it."""
    # Fewer brackets than the limit cannot nest deeper than it: skip the scan.
    depth = nesting_depth(text) if text.count("[") + text.count("{") > max_depth else 0
    if depth > max_depth:
        raise JSONProblem(f"nested {depth} levels deep; at most {max_depth} levels are allowed")
    try:
        value = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite)
    except JSONProblem:
        raise
    except json.JSONDecodeError as exc:
        raise JSONProblem(
            f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from None
    except ValueError as exc:  # an integer of more than 4,300 digits
        raise JSONProblem(f"not valid JSON: {exc}") from None
    if _SURROGATE_ESCAPE.search(text):
        dumps(value, max_depth)  # a valid pair decodes to one character; a lone one stays
    return value


def deeper_than(value: Any, max_depth: int) -> bool:
    """True if lists and dicts in `value` nest more than `max_depth` levels (no recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list | tuple):
            if depth > max_depth:
                return True
            stack.extend((child, depth + 1) for child in item)
    return False


def dumps(
    value: Any, max_depth: int = MAX_DEPTH, encoder: type[json.JSONEncoder] | None = None
) -> str:
    """`value` as compact JSON text, or JSONProblem (too deep, NaN, lone surrogate, not JSON)."""
    if deeper_than(value, max_depth):
        raise JSONProblem(f"nested more than {max_depth} levels deep")
    try:
        text = json.dumps(value, ensure_ascii=False, allow_nan=False, cls=encoder)
    except ValueError as exc:
        raise JSONProblem(f"{exc} (NaN and Infinity are not JSON)") from None
    except TypeError as exc:
        raise JSONProblem(str(exc)) from None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        bad = text[exc.start : exc.end].encode("unicode_escape").decode()
        raise JSONProblem(f"contains {bad}, a lone surrogate that is not text") from None
    if _NUL_ESCAPE.search(text):
        raise JSONProblem("contains \\u0000 (NUL), which PostgreSQL cannot store")
    return text


def display(value: Any, indent: int | None = 2) -> str:
    """`value` as JSON for a page; never raises, never yields text UTF-8 cannot encode."""
    if value is None:
        return ""
    if isinstance(value, InvalidJSONInput):
        return str(value)
    if deeper_than(value, MAX_DEPTH):
        return f"(nested more than {MAX_DEPTH} levels deep; not shown)"
    options = {"indent": indent, "sort_keys": True, "cls": DjangoJSONEncoder}
    try:
        text = json.dumps(value, ensure_ascii=False, **options)
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(value, ensure_ascii=True, **options)  # lone surrogates as \\udXXX
    except (TypeError, ValueError):
        text = json.dumps(repr(value), ensure_ascii=True)
    return text


class StoredJSONField(models.JSONField):
    """A JSONField whose stored text is checked (`loads`) before it is parsed.

    It deconstructs as a plain JSONField: only reading differs, so changing a
    column to it needs no migration (and no SQLite rebuild of a big table).
    """

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        if value is None or not isinstance(value, str) or isinstance(expression, KeyTransform):
            return super().from_db_value(value, expression, connection)
        try:
            return loads(value)
        except JSONProblem as exc:
            return Unreadable(value, str(exc))

    def get_prep_value(self, value: Any) -> Any:
        if isinstance(value, Unreadable):
            raise JSONProblem(
                f"{self.name}: the stored value is unreadable ({value.problem}); "
                "set a new value before saving"
            )
        return super().get_prep_value(value)

    def deconstruct(self) -> tuple:
        name, _, args, kwargs = super().deconstruct()
        return name, "django.db.models.JSONField", args, kwargs


class JSONTypeOf(models.Func):
    """The JSON type of a column ('object', 'array', ...), for a check constraint."""

    function = "JSON_TYPE"  # SQLite
    output_field = models.CharField()

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return super().as_sql(compiler, connection, function="JSONB_TYPEOF", **extra)
