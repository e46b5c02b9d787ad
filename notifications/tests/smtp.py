"""A real SMTP server for tests: aiosmtpd on localhost, with a required login."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email import policy as email_policy

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from django.test import override_settings

SMTP_USER = "mailer"
SMTP_PASSWORD = "s3cret-pass"


def free_port() -> int:
    """A port nothing listens on (until someone binds it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Inbox:
    """What the server received: one dict per accepted message."""

    port: int = 0
    messages: list[dict] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)

    async def handle_DATA(self, server, session, envelope):
        message = message_from_bytes(envelope.content, policy=email_policy.default)
        self.messages.append(
            {
                "from": envelope.mail_from,
                "to": list(envelope.rcpt_tos),
                "data": envelope.content.decode("utf-8", "replace"),
                "message": message,
                # A long encoded subject is folded onto a continuation line.
                "subject": str(message["Subject"]).strip(),
                "authenticated": session.authenticated,
            }
        )
        return "250 Message accepted for delivery"

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == SMTP_USER.encode()
            and auth_data.password == SMTP_PASSWORD.encode()
        )
        if ok:
            self.logins.append(SMTP_USER)
        # handled=False: let aiosmtpd answer "535 credentials invalid" itself.
        return AuthResult(success=ok, handled=False)


@contextmanager
def running_smtp_server() -> Iterator[Inbox]:
    inbox = Inbox(port=free_port())
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=inbox.port,
        authenticator=inbox.authenticate,
        auth_required=True,
        auth_require_tls=False,  # loopback only; production uses STARTTLS or SSL
    )
    controller.start()
    try:
        yield inbox
    finally:
        controller.stop()


def smtp_settings(port: int, password: str = SMTP_PASSWORD) -> override_settings:
    """Django's SMTP backend aimed at a local port, as the SMTP_* settings configure it."""
    return override_settings(
        SMTP_ENABLED=True,
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=port,
        EMAIL_HOST_USER=SMTP_USER,
        EMAIL_HOST_PASSWORD=password,
        EMAIL_USE_TLS=False,
        EMAIL_USE_SSL=False,
        EMAIL_TIMEOUT=5,
    )
