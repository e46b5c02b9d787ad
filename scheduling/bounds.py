"""The range of every number a person can enter on a task, in one place.

Each range is enforced three times: by model validators (field errors in the
page form and the admin; `TaskScheduler` runs `full_clean`), by database
check constraints (`Task.Meta.constraints`, built here), and by the engine,
which re-checks a row before using it (`stored_problems`), because a row can
predate the constraints or be written around them. The ranges are wide
enough for any real schedule and narrow enough that no date arithmetic on
them can overflow (Python dates end in year 9999).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db.models import CheckConstraint, Q
from django.utils.deconstruct import deconstructible

from scheduling import jsontext

if TYPE_CHECKING:
    from scheduling.models import Task

DAY = 86_400

# field: (lowest, highest, the highest in words)
NUMBERS: dict[str, tuple[int, int, str]] = {
    "interval_seconds": (1, 365 * DAY, "365 days"),
    "misfire_grace_seconds": (1, 30 * DAY, "30 days"),
    "timeout_seconds": (1, 30 * DAY, "30 days"),
    "max_retries": (0, 100, "100"),
    "retry_backoff_seconds": (0, DAY, "1 day"),
    "retry_backoff_max_seconds": (0, 7 * DAY, "7 days"),
}
NULLABLE = {"interval_seconds", "timeout_seconds"}

RUN_AT_MIN = datetime(1970, 1, 1, tzinfo=UTC)
RUN_AT_MAX = datetime(9000, 12, 31, 23, 59, 59, tzinfo=UTC)
LAST_YEAR = RUN_AT_MAX.year

# Written by the runner only, but a raw UPDATE can still make them negative.
COUNTERS = ("last_duration_ms", "run_count", "success_count", "failure_count",
            "consecutive_failures")  # fmt: skip

DESCRIPTION_MAX_CHARS = 1_000
# Task names that are pages of their own: /tasks/new/ creates a task.
RESERVED_NAMES = frozenset({"new"})
RECIPIENTS_MAX_CHARS = 2_000


@deconstructible
class InRange:
    """A model validator naming the field, the value and the allowed range."""

    def __init__(self, field: str) -> None:
        self.field = field

    def __call__(self, value: Any) -> None:
        problem = number_problem(self.field, value)
        if problem:
            raise ValidationError(problem, code="out_of_range")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, InRange) and other.field == self.field


def number_problem(field: str, value: Any) -> str | None:
    low, high, words = NUMBERS[field]
    if value is None or (isinstance(value, int) and low <= value <= high):
        return None
    return f"{field}: {value} is out of range {low}-{high:,} (at most {words})"


def validate_run_at(value: datetime | None) -> None:
    """Model validator for `run_at` (a naive value is reported by `validate_schedule`)."""
    if value is None or value.utcoffset() is None:
        return
    if not RUN_AT_MIN <= value <= RUN_AT_MAX:
        raise ValidationError(
            f"run_at: {value:%Y-%m-%d %H:%M} is out of range: pick a date between "
            f"{RUN_AT_MIN:%Y-%m-%d} and {RUN_AT_MAX:%Y-%m-%d}",
            code="out_of_range",
        )


def validate_wall_clock_year(year: int) -> None:
    """Before a form attaches a time zone: year 9999 in UTC-12 is already year 10000 in UTC."""
    if not RUN_AT_MIN.year <= year <= LAST_YEAR:
        raise ValidationError(
            f"run_at: year {year} is out of range {RUN_AT_MIN.year}-{LAST_YEAR}",
            code="out_of_range",
        )


def check_constraints() -> list[CheckConstraint]:
    """The database's copy of the ranges: a value that slipped past the forms stops here."""
    constraints = []
    for field, (low, high, _) in NUMBERS.items():
        allowed = Q(**{f"{field}__gte": low, f"{field}__lte": high})
        if field in NULLABLE:
            allowed |= Q(**{f"{field}__isnull": True})
        constraints.append(CheckConstraint(condition=allowed, name=f"task_{field}_in_range"))
    run_at = Q(run_at__isnull=True) | Q(run_at__gte=RUN_AT_MIN, run_at__lte=RUN_AT_MAX)
    constraints.append(CheckConstraint(condition=run_at, name="task_run_at_in_range"))
    return constraints


def stored_problems(task: Task) -> list[str]:
    """What a loaded task holds that no check would let in: the engine skips such a task.

    Everything a database constraint covers is here, so the engine never
    writes to a row the database would refuse to update.
    """
    problems = [number_problem(field, getattr(task, field)) for field in NUMBERS]
    try:
        validate_run_at(task.run_at)
    except ValidationError as exc:
        problems.extend(exc.messages)
    problems += [f"{name}: {getattr(task, name)} is negative" for name in COUNTERS
                 if (getattr(task, name) or 0) < 0]  # fmt: skip
    if isinstance(task.kwargs, jsontext.Unreadable):
        problems.append(f"kwargs: unreadable ({task.kwargs.problem})")
    elif not isinstance(task.kwargs, dict):
        problems.append("kwargs: not a JSON object")
    return [p for p in problems if p]


def check_stored(task: Task) -> None:
    """Raise ValidationError listing what is out of range in a loaded task."""
    problems = stored_problems(task)
    if problems:
        raise ValidationError(f"Task {task.name}: {'; '.join(problems)}", code="out_of_range")
