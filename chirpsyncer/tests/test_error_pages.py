"""With DEBUG off, errors show the site's own plain pages: no settings, no traceback."""

import pytest
from django.test import Client

pytestmark = [pytest.mark.django_db, pytest.mark.urls("chirpsyncer.tests.error_urls")]


@pytest.fixture
def browser():
    """A client that gets the error page, as a browser would, instead of the exception."""
    return Client(raise_request_exception=False)


def test_a_server_error_shows_a_plain_page_without_secrets(browser, settings):
    settings.EMAIL_HOST_PASSWORD = "hunter2"
    settings.METRICS_TOKEN = "metrics-secret"

    response = browser.get("/test-errors/boom/")

    assert response.status_code == 500
    assert "Something went wrong on our side" in response.text
    assert 'class="card' in response.text
    for leak in ("hunter2", "metrics-secret", "Traceback", "RuntimeError", "SECRET_KEY", "boom"):
        assert leak not in response.text
    assert "Content-Security-Policy" in response.headers


def test_a_missing_page_is_a_plain_404(browser):
    response = browser.get("/no-such-page/")

    assert response.status_code == 404
    assert "Page not found" in response.text
    assert "/no-such-page/" in response.text
    assert "URLconf" not in response.text  # Django's debug 404 lists the URL patterns


def test_a_refusal_is_a_plain_403(browser):
    response = browser.get("/test-errors/denied/")

    assert response.status_code == 403
    assert "You are not allowed to do that" in response.text


def test_a_bad_request_is_a_plain_400(browser):
    response = browser.get("/test-errors/bad/")

    assert response.status_code == 400
    assert "Bad request" in response.text
    assert "forged" not in response.text


def test_a_post_without_its_csrf_token_gets_the_site_page():
    browser = Client(enforce_csrf_checks=True)

    response = browser.post("/accounts/login/", {"username": "a", "password": "b"})

    assert response.status_code == 403
    assert "This form could not be accepted" in response.text
    assert "<style" not in response.text  # Django's own page has an inline style the CSP blocks
