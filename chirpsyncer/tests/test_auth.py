"""Signing in and out through the real forms, and the login page's own styling."""

import pytest
from django.contrib.auth import SESSION_KEY
from django.contrib.staticfiles import finders
from django.templatetags.static import static
from django.test import Client

from chirpsyncer.tests.factories import UserFactory

PASSWORD = "correct horse battery staple"  # UserFactory's password

pytestmark = pytest.mark.django_db


@pytest.fixture
def csrf_client():
    """A client that enforces CSRF, as a browser would meet it."""
    return Client(enforce_csrf_checks=True)


def sign_in(client: Client, username: str, password: str, next_url: str = ""):
    form = client.get("/accounts/login/")
    token = form.cookies["csrftoken"].value
    return client.post(
        "/accounts/login/",
        {
            "username": username,
            "password": password,
            "next": next_url,
            "csrfmiddlewaretoken": token,
        },
    )


def test_login_page_renders_the_form(client):
    response = client.get("/accounts/login/")

    assert response.status_code == 200
    assert 'name="username"' in response.text
    assert 'name="password"' in response.text
    assert 'name="csrfmiddlewaretoken"' in response.text


def test_signing_in_with_the_right_password_starts_a_session(csrf_client):
    user = UserFactory(username="alice")

    response = sign_in(csrf_client, "alice", PASSWORD)

    assert response.status_code == 302
    assert response["Location"] == "/tasks/"
    assert csrf_client.session[SESSION_KEY] == str(user.pk)


def test_signing_in_follows_next(csrf_client):
    UserFactory(username="alice", is_staff=True, is_superuser=True)

    response = sign_in(csrf_client, "alice", PASSWORD, next_url="/admin/")

    assert response["Location"] == "/admin/"
    assert csrf_client.get("/admin/").status_code == 200


def test_a_wrong_password_is_refused_with_a_message(csrf_client):
    UserFactory(username="alice")

    response = sign_in(csrf_client, "alice", "not it")

    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.text
    assert SESSION_KEY not in csrf_client.session


def test_signing_out_is_a_post_that_ends_the_session(csrf_client):
    UserFactory(username="alice")
    sign_in(csrf_client, "alice", PASSWORD)
    token = csrf_client.cookies["csrftoken"].value

    response = csrf_client.post("/accounts/logout/", {"csrfmiddlewaretoken": token})

    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/"
    assert SESSION_KEY not in csrf_client.session


def test_signing_out_by_get_is_not_allowed(client):
    client.force_login(UserFactory(username="alice"))

    response = client.get("/accounts/logout/")

    assert response.status_code == 405
    assert SESSION_KEY in client.session


def test_anonymous_admin_redirects_to_the_admin_login(client):
    response = client.get("/admin/")

    assert response.status_code == 302
    assert response["Location"] == "/admin/login/?next=/admin/"


def test_the_admin_login_page_loads(client):
    response = client.get("/admin/login/?next=/admin/")

    assert response.status_code == 200
    assert 'name="password"' in response.text


def test_non_staff_users_cannot_enter_the_admin(client):
    client.force_login(UserFactory(username="alice"))

    response = client.get("/admin/")

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_login_page_links_the_local_bootstrap_stylesheet(client):
    response = client.get("/accounts/login/")

    assert f'href="{static("bootstrap/css/bootstrap.min.css")}"' in response.text
    assert "cdn" not in response.text.lower()
    assert 'class="card' in response.text


def test_the_bootstrap_stylesheet_is_served_locally(client):
    response = client.get(static("bootstrap/css/bootstrap.min.css"))

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/css")
    body = b"".join(response.streaming_content)
    assert b"Bootstrap" in body[:200]
    with open(finders.find("bootstrap/css/bootstrap.min.css"), "rb") as source:
        assert body == source.read()


def test_the_bootstrap_script_is_served_locally(client):
    response = client.get(static("bootstrap/js/bootstrap.bundle.min.js"))

    assert response.status_code == 200
    assert b"".join(response.streaming_content)
