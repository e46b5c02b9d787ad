"""The functions a task may run: registered in code, never typed in a form.

`@scheduled_task` records a module-level function under a name. Each
installed app's `tasks.py` and each module in `SCHEDULER_TASK_MODULES` is
imported at start-up (`scheduling.apps`), so every process (web, scheduler,
`runtask`) knows the same functions. A task's `func` is looked up here by
registered name, or by the dotted path of a registered function (rows stored
before registration was required keep working); anything else is refused
everywhere, and nothing a row names is ever imported.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.core.validators import validate_slug
from django.utils.module_loading import autodiscover_modules

from scheduling import bounds, cron
from scheduling import kwargs as task_kwargs

# The same rule as Task.queue's validator; whether a broker is set is checked when a task is saved.
QUEUE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}\Z")

HOW_TO_REGISTER = (
    "Only registered functions can run: decorate a module-level function with "
    "@scheduled_task(name=..., schedule=None) in an installed app's tasks.py or in a "
    "module listed in SCHEDULER_TASK_MODULES, then choose it by that name."
)


@dataclass(frozen=True)
class RegisteredTask:
    name: str
    func: Callable[..., Any]
    schedule: str | None  # a cron expression or macro, "every N" seconds, or None: no default
    description: str = ""
    kwargs: dict[str, Any] = field(default_factory=dict)
    queue: str = ""  # blank: run in the scheduler process

    @property
    def dotted_path(self) -> str:
        return f"{self.func.__module__}.{self.func.__qualname__}"

    @property
    def label(self) -> str:
        return f"{self.name} — {self.description}" if self.description else self.name


_registry: dict[str, RegisteredTask] = {}


def parse_schedule_text(schedule: str) -> dict[str, Any]:
    """A registry schedule (`"0 3 * * *"`, `"@daily"`, `"every 60"`) as Task fields.

    Raises ValueError for a schedule no task could have.
    """
    text = schedule.strip()
    if text.lower().startswith("every "):
        seconds = text.split()[1] if len(text.split()) == 2 else ""
        if not seconds.isdigit() or bounds.number_problem("interval_seconds", int(seconds)):
            low, high, words = bounds.NUMBERS["interval_seconds"]
            raise ValueError(
                f"schedule {schedule!r}: expected 'every N' with N from {low} to {high:,} ({words})"
            )
        return {"trigger_type": "interval", "interval_seconds": int(seconds)}
    try:
        cron.validate(text)
    except ValidationError as exc:
        raise ValueError(f"schedule {schedule!r}: {'; '.join(exc.messages)}") from None
    return {"trigger_type": "cron", "cron_expression": text}


def _check_entry(entry: RegisteredTask) -> None:
    """Fail at import, where the developer is looking, not at the first run."""
    qualname = getattr(entry.func, "__qualname__", "")
    if not callable(entry.func) or "<" in qualname or "." in qualname:
        raise ValueError(f"{entry.name}: only module-level functions can be registered")
    try:
        validate_slug(entry.name)
    except ValidationError:
        raise ValueError(f"Task name {entry.name!r} must be letters, digits, '-' or '_'") from None
    if len(entry.name) > 100 or len(entry.dotted_path) > 255:
        raise ValueError(f"Task name {entry.name!r} or its path is too long (100 / 255 characters)")
    if len(entry.description) > bounds.DESCRIPTION_MAX_CHARS:
        raise ValueError(
            f"{entry.name}: description over {bounds.DESCRIPTION_MAX_CHARS} characters"
        )
    if entry.schedule is not None:
        if entry.name in bounds.RESERVED_NAMES:  # its default task would be named so
            raise ValueError(f"Task name {entry.name!r} is reserved for a page; choose another")
        parse_schedule_text(entry.schedule)
    try:
        task_kwargs.validate(entry.kwargs)
    except ValidationError as exc:
        raise ValueError(f"{entry.name}: {'; '.join(exc.messages)}") from None
    if not isinstance(entry.queue, str) or (entry.queue and not QUEUE_NAME.match(entry.queue)):
        raise ValueError(
            f"{entry.name}: queue {entry.queue!r} must be letters, digits, '_', '.', ':' or '-' "
            "(at most 100), starting with a letter or digit"
        )


def scheduled_task(
    *,
    name: str,
    schedule: str | None,
    description: str = "",
    kwargs: dict[str, Any] | None = None,
    queue: str = "",
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a module-level function as a task function under `name`.

    `schedule` is a crontab expression or macro, or `every N` for N seconds:
    `syncdefaulttasks` creates a task with it. `schedule=None` only makes the
    function available to tasks people create. `queue`: the Celery queue of
    the default task's runs (blank: the scheduler process runs them).
    """

    def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
        entry = RegisteredTask(
            name=name,
            func=func,
            schedule=schedule,
            description=description or (func.__doc__ or "").strip().split("\n")[0],
            kwargs=kwargs or {},
            queue=queue,
        )
        _check_entry(entry)
        existing = _registry.get(name)
        if existing and existing.dotted_path != entry.dotted_path:
            raise ValueError(f"Task name {name!r} is registered twice: {existing.dotted_path}")
        _registry[name] = entry
        return func

    return decorator


def autodiscover() -> None:
    autodiscover_modules("tasks")


def import_task_modules(modules: Iterable[str]) -> None:
    """Import the modules of SCHEDULER_TASK_MODULES so their decorators run."""
    for module in modules:
        try:
            importlib.import_module(module)
        except Exception as exc:
            raise ImproperlyConfigured(
                f"SCHEDULER_TASK_MODULES names {module!r}, which cannot be imported: "
                f"{type(exc).__name__}: {exc}"
            ) from exc


def registered() -> dict[str, RegisteredTask]:
    return dict(_registry)


def get(name: str) -> RegisteredTask | None:
    return _registry.get(name)


def lookup(reference: Any) -> RegisteredTask | None:
    """The registered function a stored `func` names (by name or dotted path), or None."""
    if not isinstance(reference, str):
        return None
    found = _registry.get(reference)
    if found is None:
        found = next((e for e in _registry.values() if e.dotted_path == reference), None)
    return found


def choices() -> list[tuple[str, str]]:
    """(name, "name — description") for every registered function, for forms."""
    return [(name, _registry[name].label) for name in sorted(_registry)]


def not_registered(reference: str) -> ValidationError:
    shown = reference if len(reference) <= 120 else f"{reference[:120]}..."
    return ValidationError(
        f"func: {shown!r} is not a registered task function. {HOW_TO_REGISTER}",
        code="unregistered_func",
    )


def validate_registered(reference: str) -> None:
    """Model validator for `Task.func`."""
    if lookup(reference) is None:
        raise not_registered(reference)


def storable_name(func: str | Callable[..., Any]) -> str:
    """The registered name to store for `func` (a name, a dotted path or the function itself)."""
    if isinstance(func, str):
        entry = lookup(func)
        if entry is None:
            raise not_registered(func)
        return entry.name
    qualname = getattr(func, "__qualname__", "")
    if not callable(func) or "<" in qualname or "." in qualname:
        raise ValidationError(
            f"func: {func!r} cannot be stored; {HOW_TO_REGISTER}", code="invalid_func"
        )
    for entry in _registry.values():
        if entry.func is func:
            return entry.name
    raise not_registered(f"{getattr(func, '__module__', '?')}.{qualname}")


def resolve(reference: str) -> Callable[..., Any]:
    """The function a stored `func` names; ValidationError (nothing imported) if not registered."""
    entry = lookup(reference)
    if entry is None:
        raise not_registered(str(reference))
    return entry.func
