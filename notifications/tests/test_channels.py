"""notifications.channels: Apprise URLs checked, masked, and posted to a real local endpoint."""

import logging

import pytest
from django.core.exceptions import ValidationError

from notifications import channels
from notifications.tests.smtp import free_port

SECRET = "s3cretPassw0rd"
TOKEN = "T0kenInThePath42"


def send(url, **kwargs):
    kwargs.setdefault("timeout", 5)
    body = "Disk full\nhttps://x/tasks/backup-db/"
    return channels.send(url, "[Failing] backup-db", body, **kwargs)


@pytest.mark.parametrize(
    "url",
    [
        "json://127.0.0.1:8080/alerts",
        "form://hooks.example.com/alerts",
        "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ/#ops",
        "https://discord.com/api/webhooks/1234567890/abcdefghijklmnopqrstuvwxyz",
        "ntfy://ops-alerts",
        "ntfys://user:pass@ntfy.example.com/ops",
    ],
)
def test_it_accepts_urls_apprise_knows(url):
    channels.check_url(url)


@pytest.mark.parametrize(
    "url, message",
    [
        ("", "Enter an Apprise URL"),
        ("   ", "Enter an Apprise URL"),
        ("json://" + "a" * 5000, "too long (5007 characters"),
        ("json://host/\ud800", "not valid text"),
        ("json://a json://b", "without spaces"),
        ("json://host/a\x00b", "without spaces"),
        ("file:///etc/passwd", "does not know the scheme file://"),
        ("gopher://example.com/x", "does not know the scheme gopher://"),
        ("syslog://", "notifies this server itself"),
        ("windows://", "notifies this server itself"),
        ("slack://only-one-token", "slack:// URL is incomplete or malformed"),
        ("hooks.example.com/alerts", "should start with a service's scheme"),
    ],
)
def test_it_refuses_bad_urls_with_a_clear_message(url, message):
    with pytest.raises(ValidationError) as refused:
        channels.check_url(url)

    assert message in refused.value.messages[0]


def test_checking_a_url_logs_no_secret(caplog):
    caplog.set_level(logging.DEBUG)  # Apprise logs "Loaded JSON URL: ..." with its path
    channels.check_url(f"json://ops:{SECRET}@hooks.example.com/{TOKEN}")
    with pytest.raises(ValidationError):
        channels.check_url(f"slack://{TOKEN}")

    assert "Loaded JSON URL" in caplog.text
    assert SECRET not in caplog.text and TOKEN not in caplog.text


def test_the_masked_url_hides_passwords_tokens_and_long_path_parts():
    shown = channels.masked_url(f"json://ops:{SECRET}@hooks.example.com/hook/{TOKEN}?+X-Key=k3y")

    assert shown == "json://ops:****@hooks.example.com/hook/T...2"
    slack = channels.masked_url("slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ/#ops")
    assert slack == "slack://T...2/A...D/T...Q/#ops/"


def test_a_json_post_arrives_with_title_and_body(endpoint):
    answer = send(endpoint.url("json", "alerts"), tone="failure")

    assert answer.ok, answer.text
    [request] = endpoint.requests
    assert request.path == "/alerts"
    assert request.json["title"] == "[Failing] backup-db"
    assert request.json["message"] == "Disk full\nhttps://x/tasks/backup-db/"
    assert request.json["type"] == "failure"


def test_a_form_post_arrives_with_title_and_body(endpoint):
    assert send(endpoint.url("form", "alerts")).ok

    [request] = endpoint.requests
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert request.form["title"] == "[Failing] backup-db"
    assert request.form["message"].startswith("Disk full")


def test_a_refusing_port_is_a_failed_answer():
    answer = send(f"json://127.0.0.1:{free_port()}/alerts")

    assert not answer.ok
    assert "Connection error" in answer.text


def test_an_error_status_is_reported(endpoint):
    answer = send(endpoint.url("json", "status/500/alerts"))

    assert not answer.ok
    assert "error=500" in answer.text


def test_a_slow_service_times_out_without_waiting_for_it(endpoint):
    answer = send(endpoint.url("json", "slow/alerts"), timeout=0.5)

    assert endpoint.arrived.is_set() and endpoint.answered == []  # still holding the request
    assert answer.timed_out and not answer.ok
    assert answer.text.startswith("Timed out after 0.5 s")


def test_no_secret_reaches_the_logs_or_the_answer(endpoint, caplog):
    caplog.set_level(logging.DEBUG)  # Apprise and urllib3 log URLs and paths at DEBUG
    url = endpoint.url("json", f"status/500/{TOKEN}", userinfo=f"ops:{SECRET}@")

    answer = send(url)

    assert not answer.ok
    assert endpoint.requests[0].path == f"/status/500/{TOKEN}"  # the secret was used...
    assert "POST" in caplog.text  # ...the DEBUG lines were written...
    for secret in (SECRET, TOKEN):  # ...and hid it
        assert secret not in caplog.text
        assert secret not in answer.text
