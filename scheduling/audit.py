"""AuditLog rows for what people do to tasks, from the pages and from admin.

One row per change or trigger: who, what (`task.triggered`, `task.enabled`,
`task.disabled`, `task.configured`, `task.created`), which task, and the old and new values,
so "who paused the backup?" has an answer.
"""

from __future__ import annotations

from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpRequest

from chirpsyncer.models import AuditLog
from scheduling.models import SCHEDULE_FIELDS, Task

TRIGGERED = "task.triggered"
ENABLED = "task.enabled"
DISABLED = "task.disabled"
CONFIGURED = "task.configured"
CREATED = "task.created"


def _jsonable(value: Any) -> Any:
    """Datetimes (and anything else JSONField cannot take) as the JSON encoder writes them."""
    if isinstance(value, str | int | float | bool | dict | list) or value is None:
        return value
    return DjangoJSONEncoder().default(value)


def snapshot(task: Task, fields: list[str] = SCHEDULE_FIELDS) -> dict[str, Any]:
    return {name: _jsonable(getattr(task, name)) for name in fields}


def changes(old: dict[str, Any], new: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """{"old": {...}, "new": {...}} restricted to the fields that differ."""
    changed = [name for name in new if old.get(name) != new[name]]
    return {
        "old": {name: old.get(name) for name in changed},
        "new": {name: new[name] for name in changed},
    }


def record(request: HttpRequest, action: str, task: Task, details: dict[str, Any]) -> AuditLog:
    """Write one AuditLog row for `action` on `task` by the request's user."""
    user = request.user if request.user.is_authenticated else None
    return AuditLog.objects.create(
        user=user,
        action=action,
        resource_type="task",
        resource_id=task.name,
        ip_address=request.META.get("REMOTE_ADDR") or None,
        user_agent=request.META.get("HTTP_USER_AGENT", "")[:1000],
        success=True,
        details=details,
    )
