"""manage.py ensuregroups: the "Task viewers" and "Task operators" groups."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.management import CommandError, call_command

from chirpsyncer.tests.factories import UserFactory
from scheduling.groups import OPERATORS, VIEWERS
from scheduling.tests import sentinels

pytestmark = pytest.mark.django_db


def _perms(name: str) -> set[str]:
    group = Group.objects.get(name=name)
    return {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.all()}


def test_it_creates_both_groups_with_their_permissions(capsys):
    call_command("ensuregroups")
    assert _perms(VIEWERS) == {"scheduling.view_task", "scheduling.view_taskexecution"}
    assert _perms(OPERATORS) == {
        "scheduling.view_task",
        "scheduling.view_taskexecution",
        "scheduling.run_task",
        "scheduling.add_task",
        "scheduling.change_task",
        "scheduling.delete_task",
        "scheduling.view_schedulernode",
        "scheduling.view_schedulerlease",
    }
    out = capsys.readouterr().out
    assert "Created group 'Task viewers': scheduling.view_task" in out
    assert "Created group 'Task operators'" in out


def test_running_it_again_changes_nothing(capsys):
    call_command("ensuregroups")
    capsys.readouterr()
    call_command("ensuregroups")
    out = capsys.readouterr().out
    assert "Group 'Task viewers' already has its permissions." in out
    assert "Group 'Task operators' already has its permissions." in out
    assert Group.objects.filter(name__in=[VIEWERS, OPERATORS]).count() == 2


def test_it_restores_a_missing_permission_and_keeps_one_added_by_hand(capsys):
    call_command("ensuregroups")
    viewers = Group.objects.get(name=VIEWERS)
    viewers.permissions.remove(Permission.objects.get(codename="view_task"))
    viewers.permissions.add(Permission.objects.get(codename="run_task"))
    capsys.readouterr()
    call_command("ensuregroups")
    assert "Group 'Task viewers': added scheduling.view_task" in capsys.readouterr().out
    assert {"scheduling.view_task", "scheduling.run_task"} <= _perms(VIEWERS)


def test_it_refuses_clearly_before_migrations_made_the_permissions():
    Permission.objects.filter(codename="run_task").delete()
    with pytest.raises(CommandError, match=r"scheduling\.run_task do not exist yet: run .*migrate"):
        call_command("ensuregroups")
    assert not Group.objects.filter(name__in=[VIEWERS, OPERATORS]).exists()  # all or nothing


def test_members_of_the_groups_get_what_the_readme_promises(client):
    call_command("ensuregroups")
    _, _, failed = sentinels.task_with_secrets()
    viewer, operator = UserFactory(username="v"), UserFactory(username="o")
    viewer.groups.add(Group.objects.get(name=VIEWERS))
    operator.groups.add(Group.objects.get(name=OPERATORS))

    client.force_login(viewer)
    assert sentinels.ERROR in client.get(failed.get_absolute_url()).content.decode()
    assert client.post("/tasks/backup/trigger/").status_code == 403

    client.force_login(operator)
    assert sentinels.ERROR in client.get(failed.get_absolute_url()).content.decode()
    assert client.post("/tasks/backup/trigger/").status_code == 302
    assert client.post("/tasks/backup/toggle/").status_code == 302
