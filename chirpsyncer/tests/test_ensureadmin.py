"""`manage.py ensureadmin`: a fresh install always has one account that can sign in."""

import re
from io import StringIO

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import CommandError, call_command
from django.test import RequestFactory

from chirpsyncer.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def can_sign_in(username: str, password: str) -> bool:
    """authenticate() as the login page calls it: django-axes needs the request."""
    request = RequestFactory().post("/accounts/login/")
    return authenticate(request, username=username, password=password) is not None


@pytest.fixture(autouse=True)
def no_superuser_env(monkeypatch):
    for name in (
        "DJANGO_SUPERUSER_USERNAME",
        "DJANGO_SUPERUSER_PASSWORD",
        "DJANGO_SUPERUSER_EMAIL",
    ):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def ensureadmin() -> str:
    out = StringIO()
    call_command("ensureadmin", stdout=out)
    return out.getvalue()


def test_it_creates_admin_with_a_generated_password_printed_once():
    output = ensureadmin()

    password = re.search(r"Created superuser 'admin' with password (\S+)", output).group(1)
    assert can_sign_in("admin", password)
    user = get_user_model().objects.get(username="admin")
    assert user.is_staff and user.is_superuser
    assert len(password) >= 12


def test_second_run_creates_nothing_and_prints_no_password():
    first = ensureadmin()
    password = re.search(r"with password (\S+)", first).group(1)

    second = ensureadmin()

    assert get_user_model().objects.count() == 1
    assert password not in second
    assert "already exists" in second


def test_each_install_gets_a_different_password():
    first = re.search(r"with password (\S+)", ensureadmin()).group(1)
    get_user_model().objects.all().delete()

    second = re.search(r"with password (\S+)", ensureadmin()).group(1)

    assert first != second


def test_it_uses_the_account_from_the_environment(no_superuser_env):
    no_superuser_env.setenv("DJANGO_SUPERUSER_USERNAME", "ops")
    no_superuser_env.setenv("DJANGO_SUPERUSER_PASSWORD", "a long pass phrase")
    no_superuser_env.setenv("DJANGO_SUPERUSER_EMAIL", "ops@example.com")

    output = ensureadmin()

    assert can_sign_in("ops", "a long pass phrase")
    user = get_user_model().objects.get(username="ops")
    assert user.is_superuser and user.is_staff
    assert user.email == "ops@example.com"
    assert "a long pass phrase" not in output
    assert not get_user_model().objects.filter(username="admin").exists()


def test_the_environment_account_is_not_reset_on_later_runs(no_superuser_env):
    no_superuser_env.setenv("DJANGO_SUPERUSER_USERNAME", "ops")
    no_superuser_env.setenv("DJANGO_SUPERUSER_PASSWORD", "a long pass phrase")
    ensureadmin()
    user = get_user_model().objects.get(username="ops")
    user.set_password("changed in the admin")
    user.save()

    ensureadmin()

    assert get_user_model().objects.count() == 1
    assert can_sign_in("ops", "changed in the admin")


def test_an_existing_superuser_means_no_generated_admin():
    UserFactory(username="root", is_staff=True, is_superuser=True)

    output = ensureadmin()

    assert "already exists" in output
    assert not get_user_model().objects.filter(username="admin").exists()


@pytest.mark.parametrize("name", ["DJANGO_SUPERUSER_USERNAME", "DJANGO_SUPERUSER_PASSWORD"])
def test_half_an_environment_account_is_an_error(no_superuser_env, name):
    no_superuser_env.setenv(name, "ops")

    with pytest.raises(CommandError, match="both DJANGO_SUPERUSER_USERNAME"):
        ensureadmin()

    assert not get_user_model().objects.exists()
