"""Fixtures for the notification tests: quiet defaults, a real SMTP server and
a real HTTP endpoint for channels."""

import pytest

from notifications import delivery
from notifications.background import sender
from notifications.tests.smtp import running_smtp_server
from notifications.tests.webhook import running_endpoint


@pytest.fixture(autouse=True)
def no_throttle(monkeypatch):
    """Bulk-mail throttling is a sleep; tests need not wait for it."""
    monkeypatch.setattr(delivery, "THROTTLE_SECONDS", 0)


@pytest.fixture(autouse=True)
def notify_defaults(settings):
    """The shipped defaults, whatever the developer's environment says."""
    settings.ADMINS = []
    settings.NOTIFY_ON_TASK_FAILURE = True
    settings.NOTIFY_ON_TASK_SUCCESS = False
    settings.NOTIFY_ADMINS_ONLY = True
    settings.NOTIFY_REPEAT_HOURS = 24
    settings.NOTIFY_MAX_PER_HOUR = 20
    settings.SITE_URL = "https://scheduler.example.com"
    settings.SMTP_ENABLED = False
    settings.TIME_ZONE = "UTC"
    settings.NOTIFY_CHANNEL_TIMEOUT_SECONDS = 5
    # The staff persona's password is hashed on creation; PBKDF2 costs a second.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def smtp_server():
    """aiosmtpd on 127.0.0.1 requiring the test login; yields its Inbox."""
    with running_smtp_server() as inbox:
        yield inbox


@pytest.fixture
def endpoint():
    """An HTTP server on 127.0.0.1 that records what channels post to it."""
    with running_endpoint() as server:
        yield server
        # Posts still in flight would otherwise write into the next test's database.
        server.release.set()
        assert sender.flush(timeout=15), "background channel posts did not finish"
