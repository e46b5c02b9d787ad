"""AuditLog rows for what people and programs do to tasks.

One row per change, deletion or trigger: who (the user, when there is one),
from where (`details["source"]`: admin, page, api, cli or python), what
(`task.created`, `task.configured`, `task.enabled`, `task.disabled`,
`task.deleted`, `task.triggered`), which task, and for changes the old and
new value of each changed field, so "who paused the backup?" and "who
pointed it at another function?" have answers. `services.save_task` and
`services.delete_task` write the change rows, so no path can forget them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpRequest

from chirpsyncer.models import AuditLog
from scheduling.access import wants_json
from scheduling.models import Task, config_fields

TRIGGERED = "task.triggered"
ENABLED = "task.enabled"
DISABLED = "task.disabled"
CONFIGURED = "task.configured"
CREATED = "task.created"
DELETED = "task.deleted"

SOURCES = ("admin", "page", "api", "cli", "python")


@dataclass(frozen=True)
class Actor:
    """Who changes a task, and through what: carried into every AuditLog row."""

    source: str = "python"
    user: Any = None
    request: HttpRequest | None = None

    @classmethod
    def from_request(cls, request: HttpRequest, source: str | None = None) -> Actor:
        """The signed-in user of `request`; the source is "api" for JSON clients, else "page"."""
        user = request.user if request.user.is_authenticated else None
        return cls(source or ("api" if wants_json(request) else "page"), user, request)


def _jsonable(value: Any) -> Any:
    """Datetimes (and anything else JSONField cannot take) as the JSON encoder writes them."""
    if isinstance(value, str | int | float | bool | dict | list) or value is None:
        return value
    return DjangoJSONEncoder().default(value)


def _value(task: Task, name: str) -> Any:
    """A field's value as the audit trail shows it: a related task by its name."""
    if name == "after_task":
        return task.after_task.name if task.after_task_id else None
    return _jsonable(getattr(task, name))


def snapshot(task: Task, fields: list[str] | None = None) -> dict[str, Any]:
    return {name: _value(task, name) for name in fields or config_fields()}


def changes(old: dict[str, Any], new: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """{"old": {...}, "new": {...}} restricted to the fields that differ."""
    changed = [name for name in new if old.get(name) != new[name]]
    return {
        "old": {name: old.get(name) for name in changed},
        "new": {name: new[name] for name in changed},
    }


def write(actor: Actor, action: str, task_name: str, details: dict[str, Any]) -> AuditLog:
    """Write one AuditLog row for `action` on the task named `task_name`."""
    meta = actor.request.META if actor.request is not None else {}
    return AuditLog.objects.create(
        user=actor.user if getattr(actor.user, "pk", None) else None,
        action=action,
        resource_type="task",
        resource_id=task_name,
        ip_address=meta.get("REMOTE_ADDR") or None,
        user_agent=meta.get("HTTP_USER_AGENT", "")[:1000],
        success=True,
        details={"source": actor.source, **details},
    )


def record(request: HttpRequest, action: str, task: Task, details: dict[str, Any]) -> AuditLog:
    """Write one AuditLog row for `action` on `task` by the request's user."""
    return write(Actor.from_request(request), action, task.name, details)
