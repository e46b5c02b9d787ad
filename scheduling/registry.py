"""Known task functions and their default schedules.

`@scheduled_task` records a function under a name; each installed app's
`tasks.py` is imported at start-up so its decorators run. `resolve` turns a
Task's `func` (registered name or dotted path) into the callable, refusing
anything that cannot be stored and imported again by another process.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.module_loading import autodiscover_modules


@dataclass(frozen=True)
class RegisteredTask:
    name: str
    func: Callable[..., Any]
    schedule: str  # a cron expression, "@daily", or "every N" seconds for an interval
    description: str = ""
    kwargs: dict[str, Any] = field(default_factory=dict)

    @property
    def dotted_path(self) -> str:
        return f"{self.func.__module__}.{self.func.__qualname__}"


_registry: dict[str, RegisteredTask] = {}


def scheduled_task(
    *, name: str, schedule: str, description: str = "", kwargs: dict[str, Any] | None = None
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a module-level function as a task with a default schedule.

    `schedule` is a crontab expression or macro, or `every N` for N seconds.
    """

    def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
        entry = RegisteredTask(
            name=name,
            func=func,
            schedule=schedule,
            description=description or (func.__doc__ or "").strip().split("\n")[0],
            kwargs=kwargs or {},
        )
        existing = _registry.get(name)
        if existing and existing.dotted_path != entry.dotted_path:
            raise ValueError(f"Task name {name!r} is registered twice: {existing.dotted_path}")
        _registry[name] = entry
        return func

    return decorator


def autodiscover() -> None:
    autodiscover_modules("tasks")


def registered() -> dict[str, RegisteredTask]:
    return dict(_registry)


def get(name: str) -> RegisteredTask | None:
    return _registry.get(name)


def dotted_path_for(func: str | Callable[..., Any]) -> str:
    """The storable reference for `func`: a registered name, or a dotted path.

    Raises ValidationError for lambdas, closures, methods and anything that does
    not import back to the same object.
    """
    if isinstance(func, str):
        if func in _registry:
            return func
        resolve(func)
        return func
    qualname = getattr(func, "__qualname__", "")
    module = getattr(func, "__module__", None)
    if not callable(func) or not module or "<" in qualname or "." in qualname:
        raise ValidationError(
            f"func: {func!r} cannot be stored; pass a module-level function, "
            "a registered task name or a dotted path",
            code="invalid_func",
        )
    for entry in _registry.values():
        if entry.func is func:
            return entry.name
    path = f"{module}.{qualname}"
    if resolve(path) is not func:
        raise ValidationError(f"func: {path} does not import back to the same function")
    return path


def resolve(reference: str) -> Callable[..., Any]:
    """Return the callable for a registered name or dotted path, or raise ValidationError."""
    if reference in _registry:
        return _registry[reference].func
    module_path, _, attribute = reference.rpartition(".")
    if not module_path:
        raise ValidationError(
            f"func: {reference!r} is neither a registered task nor a dotted path "
            f"(registered: {', '.join(sorted(_registry)) or 'none'})",
            code="invalid_func",
        )
    try:
        module = importlib.import_module(module_path)
    except ImportError as exc:
        raise ValidationError(
            f"func: cannot import module {module_path!r} ({exc})", code="invalid_func"
        ) from exc
    target = getattr(module, attribute, None)
    if not callable(target):
        raise ValidationError(
            f"func: {module_path!r} has no callable {attribute!r}", code="invalid_func"
        )
    return target
