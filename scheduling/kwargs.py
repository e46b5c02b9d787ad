"""A task's keyword arguments: a JSON object of at most 64 KiB, nested at most 32 deep.

One set of rules for every way kwargs arrive: the page form and the admin
(`KwargsFormField`), the model (`KwargsField`, so `full_clean` and therefore
`TaskScheduler` apply it), `trigger_task_now` and `runtask --kwargs`
(`parse` / `validate`). No NaN or Infinity, no lone surrogates: they would
fail in the database or on every page that shows them.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.forms.fields import InvalidJSONInput

from scheduling import jsontext

MAX_BYTES = 64 * 1024
MAX_DEPTH = jsontext.MAX_DEPTH
EXAMPLE = '{"days_old": 90}'


def _error(label: str, message: str) -> ValidationError:
    return ValidationError(f"{label}: {message}", code="invalid_kwargs")


def _size_problem(size: int) -> str | None:
    if size <= MAX_BYTES:
        return None
    return f"{size:,} bytes of JSON; at most {MAX_BYTES:,} (64 KiB) are allowed"


def parse(text: str, label: str = "kwargs") -> dict[str, Any]:
    """Text a person typed, as a kwargs dict; ValidationError naming `label` otherwise."""
    problem = _size_problem(len(text.encode("utf-8", "surrogatepass")))
    if problem:
        raise _error(label, problem)
    try:
        value = jsontext.loads(text)
    except jsontext.JSONProblem as exc:
        raise _error(label, str(exc)) from None
    return validate(value, label)


def validate(value: Any, label: str = "kwargs") -> dict[str, Any]:
    """A Python value as kwargs: returns it as it will be stored (JSON round trip)."""
    if isinstance(value, jsontext.Unreadable):
        raise _error(label, f"the stored value is unreadable ({value.problem}); enter new kwargs")
    if not isinstance(value, dict):
        raise _error(label, f"must be a JSON object (a dict of keyword arguments), e.g. {EXAMPLE}")
    try:
        text = jsontext.dumps(value, MAX_DEPTH)
    except jsontext.JSONProblem as exc:
        raise _error(label, str(exc)) from None
    problem = _size_problem(len(text.encode("utf-8")))
    if problem:
        raise _error(label, problem)
    return json.loads(text)


class KwargsFormField(forms.JSONField):
    """The kwargs textarea: parsed by `parse`, and re-shown exactly as typed when refused."""

    def __init__(self, **options: Any) -> None:
        options.setdefault("required", False)
        options.setdefault("help_text", f"A JSON object passed to the function, e.g. {EXAMPLE}.")
        options.setdefault("widget", forms.Textarea(attrs={"rows": 3, "class": "font-monospace"}))
        super().__init__(**options)

    def to_python(self, value: Any) -> Any:
        if self.disabled:
            return value
        if value in self.empty_values:
            return {}
        if isinstance(value, str):
            return parse(value)
        return validate(value)

    def bound_data(self, data: Any, initial: Any) -> Any:
        if self.disabled:
            return initial
        return None if data is None else InvalidJSONInput(data)

    def prepare_value(self, value: Any) -> str:
        return jsontext.display(value if value is not None else {}, indent=None)

    def has_changed(self, initial: Any, data: Any) -> bool:
        try:
            return self.to_python(data) != initial
        except ValidationError:
            return True


class KwargsField(jsontext.StoredJSONField):
    """Task and execution kwargs: validated by `validate`, edited with `KwargsFormField`."""

    def validate(self, value: Any, model_instance: Any) -> None:
        if value is not None or not self.null:
            validate(value, self.name)
        super().validate(value, model_instance)

    def formfield(self, **kwargs: Any) -> forms.Field:
        return super().formfield(**{"form_class": KwargsFormField, **kwargs})
