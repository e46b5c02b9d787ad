"""Project-wide fixtures: the named personas every app's tests use."""

import pytest
from django.contrib.auth.models import Group, Permission

from chirpsyncer.tests.factories import UserFactory
from scheduling.groups import VIEWERS, ensure_groups


@pytest.fixture
def staff(db):
    """A staff member who may see run details, run and change tasks."""
    user = UserFactory(username="staff", is_staff=True, email="staff@example.com")
    user.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="scheduling",
            codename__in=["view_task", "run_task", "change_task"],
        )
    )
    return user


@pytest.fixture
def viewer(db):
    """A signed-in user with no permissions: sees what runs and how it went, not the details."""
    return UserFactory(username="viewer")


@pytest.fixture
def task_viewer(db):
    """A signed-in user (not staff) in the "Task viewers" group: sees every detail of runs."""
    ensure_groups()
    user = UserFactory(username="task-viewer")
    user.groups.add(Group.objects.get(name=VIEWERS))
    return user


@pytest.fixture
def superuser(db):
    return UserFactory(username="root", is_staff=True, is_superuser=True)


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


@pytest.fixture
def viewer_client(client, viewer):
    client.force_login(viewer)
    return client


@pytest.fixture
def task_viewer_client(client, task_viewer):
    client.force_login(task_viewer)
    return client


@pytest.fixture
def admin_client_(client, superuser):
    client.force_login(superuser)
    return client


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """PBKDF2 costs ~1 s per user created; tests are not about hashing."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
