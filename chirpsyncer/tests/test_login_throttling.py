"""Login throttling: five failures for a username from one address lock that pair out.

Through the real sign-in forms (django-axes needs the request, which the test
client's `login()` does not pass: the suite signs people in with
`force_login`, and these tests post the forms a browser would).
"""

import logging
from datetime import timedelta
from io import StringIO

import pytest
import time_machine
from django.contrib.auth import SESSION_KEY
from django.core.management import call_command
from django.test import Client, override_settings
from django.utils import timezone

from chirpsyncer.models import AuditLog
from chirpsyncer.signins import FAILED, LOCKED_OUT, REFUSED
from chirpsyncer.tests.factories import UserFactory

PASSWORD = "correct horse battery staple"  # UserFactory's password
WRONG = "hunter2-wrong-password"
PAGES = ["/accounts/login/", "/admin/login/"]

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice(db):
    return UserFactory(username="alice", is_staff=True, is_superuser=True)


def sign_in(client: Client, page: str, username: str, password: str, **extra):
    return client.post(page, {"username": username, "password": password}, **extra)


def fail(client: Client, page: str, username: str, times: int, **extra) -> list[int]:
    return [sign_in(client, page, username, WRONG, **extra).status_code for _ in range(times)]


@pytest.mark.parametrize("page", PAGES)
def test_after_30_wrong_passwords_the_right_one_is_refused(client, alice, page):
    statuses = fail(client, page, "alice", 30)

    response = sign_in(client, page, "alice", PASSWORD)

    assert statuses[:4] == [200] * 4  # the form again, with its error
    assert set(statuses[4:]) == {429}
    assert response.status_code == 429
    assert "Too many failed sign-in attempts" in response.text
    assert "15 minutes" in response.text
    assert 'class="card' in response.text  # the site's own layout
    assert SESSION_KEY not in client.session


def test_a_lockout_on_one_login_page_holds_on_the_other(client, alice):
    fail(client, "/accounts/login/", "alice", 5)

    response = sign_in(client, "/admin/login/", "alice", PASSWORD)

    assert response.status_code == 429
    assert SESSION_KEY not in client.session


def test_four_failures_do_not_lock_and_a_success_starts_the_count_again(client, alice):
    fail(client, "/accounts/login/", "alice", 4)
    assert sign_in(client, "/accounts/login/", "alice", PASSWORD).status_code == 302
    client.logout()

    assert fail(client, "/accounts/login/", "alice", 4) == [200] * 4
    assert sign_in(client, "/accounts/login/", "alice", PASSWORD).status_code == 302


def test_another_username_from_the_same_address_is_not_locked(client, alice):
    UserFactory(username="bob")
    fail(client, "/accounts/login/", "alice", 10)

    response = sign_in(client, "/accounts/login/", "bob", PASSWORD)

    assert response.status_code == 302
    assert client.session[SESSION_KEY]


def test_the_same_username_from_another_address_is_not_locked(client, alice):
    fail(client, "/accounts/login/", "alice", 10, REMOTE_ADDR="203.0.113.7")

    response = sign_in(client, "/accounts/login/", "alice", PASSWORD, REMOTE_ADDR="203.0.113.8")

    assert response.status_code == 302


def test_the_lock_lifts_after_the_cool_off(client, alice):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        fail(client, "/accounts/login/", "alice", 5)
        clock.shift(timedelta(minutes=14, seconds=59))
        assert sign_in(client, "/accounts/login/", "alice", PASSWORD).status_code == 429

        clock.shift(timedelta(seconds=2))
        response = sign_in(client, "/accounts/login/", "alice", PASSWORD)

    assert response.status_code == 302


@override_settings(AXES_COOLOFF_TIME=timedelta(minutes=60))
def test_refused_attempts_do_not_extend_the_lock(client, alice):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        fail(client, "/accounts/login/", "alice", 5)
        for _ in range(6):  # an attacker keeps trying, every ten minutes
            clock.shift(timedelta(minutes=10))
            assert fail(client, "/accounts/login/", "alice", 1) == [429]

        clock.shift(timedelta(minutes=1))
        response = sign_in(client, "/accounts/login/", "alice", PASSWORD)

    assert response.status_code == 302


def test_a_forged_x_forwarded_for_does_not_escape_the_lock(client, alice):
    for n in range(5):
        sign_in(client, "/accounts/login/", "alice", WRONG, HTTP_X_FORWARDED_FOR=f"198.51.100.{n}")

    response = sign_in(
        client, "/accounts/login/", "alice", PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.99"
    )

    assert response.status_code == 429


@override_settings(CLIENT_IP_HEADER="HTTP_X_FORWARDED_FOR")
def test_behind_a_proxy_the_address_the_proxy_appended_counts(client, alice):
    # The client forged the first entry; the proxy appended the real address.
    fail(client, "/accounts/login/", "alice", 5, HTTP_X_FORWARDED_FOR="10.9.9.9, 203.0.113.5")

    locked = sign_in(
        client, "/accounts/login/", "alice", PASSWORD, HTTP_X_FORWARDED_FOR="1.1.1.1, 203.0.113.5"
    )
    other = sign_in(
        client, "/accounts/login/", "alice", PASSWORD, HTTP_X_FORWARDED_FOR="10.9.9.9, 203.0.113.6"
    )

    assert locked.status_code == 429
    assert other.status_code == 302
    assert set(AuditLog.objects.values_list("ip_address", flat=True)) == {"203.0.113.5"}


def test_failures_and_the_lockout_are_audited_without_the_password(client, alice):
    agent = {"HTTP_USER_AGENT": "curl/8.0 guesser", "REMOTE_ADDR": "203.0.113.9"}
    fail(client, "/accounts/login/", "alice", 5, **agent)
    fail(client, "/admin/login/", "alice", 1, **agent)
    sign_in(client, "/accounts/login/", "alice", PASSWORD, **agent)

    rows = list(AuditLog.objects.order_by("pk"))

    assert [row.action for row in rows] == [FAILED] * 5 + [LOCKED_OUT, REFUSED, REFUSED]
    assert [row.details.get("failures") for row in rows[:5]] == [1, 2, 3, 4, 5]
    assert rows[5].details == {
        "username": "alice",
        "failures": 5,
        "path": "/accounts/login/",
        "minutes": 15,
    }
    assert rows[6].details == {"username": "alice", "path": "/admin/login/"}
    for row in rows:
        assert (row.ip_address, row.user_agent) == ("203.0.113.9", "curl/8.0 guesser")
        assert (row.resource_type, row.resource_id, row.success) == ("user", "alice", False)
        assert WRONG not in str(row.details) and PASSWORD not in str(row.details)


def test_failures_and_the_lockout_are_logged(client, alice, caplog):
    with caplog.at_level(logging.WARNING, logger="chirpsyncer.signins"):
        fail(client, "/accounts/login/", "alice", 6)

    messages = [r.getMessage() for r in caplog.records if r.name == "chirpsyncer.signins"]
    assert messages[0] == "Failed sign-in for 'alice' from 127.0.0.1 (1 in a row)"
    assert "Locked out 'alice' from 127.0.0.1 for 15 min" in messages
    assert messages[-1] == "Sign-in refused for 'alice' from 127.0.0.1: locked out"
    assert not any(WRONG in message for message in messages)


def test_a_failure_for_an_unknown_username_is_audited_too(client):
    sign_in(client, "/accounts/login/", "nobody-" + "é" * 20, WRONG)

    row = AuditLog.objects.get()
    assert (row.action, row.details["username"]) == (FAILED, "nobody-" + "é" * 20)


def test_axes_reset_username_lifts_a_lock(client, alice):
    fail(client, "/accounts/login/", "alice", 5)

    out = StringIO()
    call_command("axes_reset_username", "alice", stdout=out)

    assert out.getvalue().strip() == "1 attempts removed."
    assert sign_in(client, "/accounts/login/", "alice", PASSWORD).status_code == 302
