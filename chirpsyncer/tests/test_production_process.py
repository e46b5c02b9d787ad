"""A real gunicorn with DEBUG=false, checked over real HTTP.

Two servers, each started with only the variables the test names (no `.env`):
one with the production defaults behind a TLS-terminating proxy (the proxy's
`X-Forwarded-Proto: https` is sent by hand), and one whose database cannot be
opened, so every page that needs it fails as it would in an outage.
"""

from __future__ import annotations

import http.client
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message
from urllib.parse import urlencode

import pytest
from django.conf import settings as django_settings

from chirpsyncer.tests.factories import UserFactory
from chirpsyncer.tests.isolated import PRELUDE, environment
from scheduling.tests.processes import database_url, wait_until

pytestmark = [pytest.mark.process, pytest.mark.django_db(transaction=True)]

SECRET_KEY = "Kx8-" + "process-test-only-key-" * 3
PASSWORD = "correct horse battery staple"  # UserFactory's password
HTTPS = {"X-Forwarded-Proto": "https"}  # what the TLS-terminating proxy adds
GUNICORN = PRELUDE + (
    "import sys\nfrom gunicorn.app.wsgiapp import run\n"
    "sys.argv = ['gunicorn', 'chirpsyncer.wsgi', '--bind', '127.0.0.1:0', '--workers', '1',"
    " '--no-control-socket']\nrun()\n"
)


class Gunicorn:
    """`gunicorn chirpsyncer.wsgi` on a free port, with exactly the given environment."""

    def __init__(self, **variables: str) -> None:
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            [sys.executable, "-c", GUNICORN],
            cwd=django_settings.BASE_DIR,
            env=environment(DEBUG="false", **variables),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        threading.Thread(target=self._read, daemon=True).start()
        self.port = int(wait_until(self._port, 30, f"gunicorn to listen:\n{self.output}"))

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def _port(self) -> str | None:
        assert self.proc.poll() is None, f"gunicorn exited:\n{self.output}"
        found = re.search(r"Listening at: http://127\.0\.0\.1:(\d+)", self.output)
        return found and found.group(1)

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def request(
        self, method: str, path: str, headers: dict | None = None, body: str | None = None
    ) -> Response:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            answer = connection.getresponse()
            return Response(answer.status, answer.headers, answer.read().decode())
        finally:
            connection.close()


@dataclass
class Response:
    status: int
    headers: Message
    text: str

    def cookie(self, name: str) -> str:
        """The whole Set-Cookie line for `name` (value and attributes)."""
        for line in self.headers.get_all("Set-Cookie") or []:
            if line.startswith(f"{name}="):
                return line
        raise AssertionError(f"no {name} cookie in {self.headers.get_all('Set-Cookie')}")


# One server per module: each start costs a few seconds, and the servers keep no
# state of their own (the production one reads the test database by name).
@pytest.fixture(scope="module")
def production(django_db_setup) -> Iterator[Gunicorn]:
    server = Gunicorn(
        SECRET_KEY=SECRET_KEY,
        ALLOWED_HOSTS="127.0.0.1",
        DATABASE_URL=database_url(),
        SECURE_PROXY_SSL_HEADER="X-Forwarded-Proto,https",
    )
    yield server
    server.stop()


@pytest.fixture(scope="module")
def broken_database() -> Iterator[Gunicorn]:
    server = Gunicorn(
        SECRET_KEY=SECRET_KEY,
        ALLOWED_HOSTS="127.0.0.1",
        DATABASE_URL="sqlite:////nonexistent-dir/chirpsyncer.sqlite3",
        SECURE_SSL_REDIRECT="false",
        EMAIL_URL="smtp+tls://mailer:hunter2-mail-password@smtp.example.com:587",
        METRICS_TOKEN="metrics-token-secret",
    )
    yield server
    server.stop()


def test_plain_http_is_redirected_to_https(production):
    response = production.request("GET", "/accounts/login/?next=/tasks/")

    assert response.status == 301
    port = production.port
    assert response.headers["Location"] == f"https://127.0.0.1:{port}/accounts/login/?next=/tasks/"


def test_https_pages_carry_the_security_headers_and_secure_cookies(production, settings):
    # The suite hashes with MD5 for speed; the server only knows the real hashers.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    UserFactory(username="alice")
    form = production.request("GET", "/accounts/login/", HTTPS)

    assert form.status == 200
    assert form.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    policy = form.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert form.headers["Referrer-Policy"] == "same-origin"
    assert form.headers["X-Frame-Options"] == "DENY"
    assert form.headers["X-Content-Type-Options"] == "nosniff"
    csrf_cookie = form.cookie("csrftoken")
    assert "; Secure" in csrf_cookie

    token = csrf_cookie.split(";")[0].split("=", 1)[1]
    signed_in = production.request(
        "POST",
        "/accounts/login/",
        {
            **HTTPS,
            "Cookie": f"csrftoken={token}",
            "Origin": f"https://127.0.0.1:{production.port}",
            "Content-Type": "application/x-www-form-urlencoded",
        },
        urlencode({"username": "alice", "password": PASSWORD, "csrfmiddlewaretoken": token}),
    )

    assert signed_in.status == 302, signed_in.text
    session_cookie = signed_in.cookie("sessionid")
    assert "; Secure" in session_cookie and "; HttpOnly" in session_cookie


def test_metrics_are_refused_without_a_token(production):
    response = production.request("GET", "/metrics", HTTPS)

    assert response.status == 403
    assert "chirpsyncer_" not in response.text


def test_a_missing_page_is_the_plain_404(production):
    response = production.request("GET", "/no-such-page/", HTTPS)

    assert response.status == 404
    assert "Page not found" in response.text
    assert "URLconf" not in response.text and "DEBUG" not in response.text


def test_without_the_ssl_redirect_plain_http_is_served(broken_database):
    response = broken_database.request("GET", "/")

    assert response.status == 302
    assert response.headers["Location"] == "/tasks/"


def test_a_server_error_shows_the_plain_page_and_no_secret(broken_database):
    # A signed-in visitor while the database is down: the session lookup fails.
    response = broken_database.request("GET", "/tasks/", {"Cookie": "sessionid=" + "a" * 32})

    assert response.status == 500
    assert "Something went wrong on our side" in response.text
    for leak in ("hunter2", "metrics-token-secret", SECRET_KEY, "Traceback", "OperationalError"):
        assert leak not in response.text
    assert "Content-Security-Policy" in response.headers
    # The error is in the server's log, for the operator.
    wait_until(lambda: "OperationalError" in broken_database.output, 10, "the error logged")


def test_a_non_ascii_bearer_token_over_real_http_is_401(broken_database):
    for value in ("Bearer café".encode(), b"Bearer \xff\xfe", b"", b"Bearer " + b"x" * 6000):
        response = broken_database.request("GET", "/metrics", {"Authorization": value})

        assert response.status == 401, (value, response.text)
