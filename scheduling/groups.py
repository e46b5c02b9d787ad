"""The groups that give people access to tasks: "Task viewers" and "Task operators".

Permissions are granted through these groups rather than one by one, so
making someone an operator is one tick in admin (Users > the user > Groups)
and what each role may do is written down here, once. `ensure_groups()` is
idempotent: it creates a missing group and adds the permissions a group
lacks, and never removes a permission an administrator added on purpose.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.contrib.auth.models import Group, Permission
from django.db import transaction

VIEWERS, OPERATORS = "Task viewers", "Task operators"
SEE = ["scheduling.view_task", "scheduling.view_taskexecution"]
GROUPS: dict[str, list[str]] = {
    # Sees every task and run in full: kwargs, func, results, errors, host/pid, requester.
    VIEWERS: SEE,
    # Also runs, creates, edits and deletes tasks, and reads the scheduler nodes and lease.
    OPERATORS: [
        *SEE,
        "scheduling.run_task",
        "scheduling.add_task",
        "scheduling.change_task",
        "scheduling.delete_task",
        "scheduling.view_schedulernode",
        "scheduling.view_schedulerlease",
    ],
}


class MissingPermission(LookupError):
    """A permission a group needs is not in the database (migrations not applied)."""


@dataclass
class GroupChange:
    name: str
    created: bool = False
    added: list[str] = field(default_factory=list)


def _permissions(names: list[str]) -> dict[str, Permission]:
    found = {
        f"{p.content_type.app_label}.{p.codename}": p
        for p in Permission.objects.select_related("content_type").filter(
            codename__in=[name.split(".", 1)[1] for name in names]
        )
    }
    missing = [name for name in names if name not in found]
    if missing:
        raise MissingPermission(
            f"Permission(s) {', '.join(missing)} do not exist yet: run manage.py migrate first"
        )
    return {name: found[name] for name in names}


@transaction.atomic
def ensure_groups() -> list[GroupChange]:
    """Create the task groups when missing and give each the permissions it lacks."""
    changes = []
    for name, wanted in GROUPS.items():
        permissions = _permissions(wanted)
        group, created = Group.objects.get_or_create(name=name)
        have = set(group.permissions.values_list("pk", flat=True))
        added = [perm for perm, obj in permissions.items() if obj.pk not in have]
        group.permissions.add(*(permissions[perm] for perm in added))
        changes.append(GroupChange(name=name, created=created, added=added))
    return changes
