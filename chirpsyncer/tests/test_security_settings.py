"""Production hardening: secure by default once DEBUG is off, each part settable.

Settings are read in a fresh interpreter (see test_settings), because the
suite's own process runs with the https-only settings turned off.
"""

from datetime import timedelta

from chirpsyncer.tests.isolated import manage
from chirpsyncer.tests.test_settings import failure, load

HARDENING = [
    "DEBUG",
    "SECURE_SSL_REDIRECT",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
    "SECURE_PROXY_SSL_HEADER",
    "SECURE_REFERRER_POLICY",
    "X_FRAME_OPTIONS",
]


def test_with_debug_off_every_https_protection_is_on():
    values = load({}, *HARDENING)

    assert values == {
        "DEBUG": False,
        "SECURE_SSL_REDIRECT": True,
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SECURE_HSTS_SECONDS": 31_536_000,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
        "SECURE_HSTS_PRELOAD": False,
        "SECURE_PROXY_SSL_HEADER": None,
        "SECURE_REFERRER_POLICY": "same-origin",
        "X_FRAME_OPTIONS": "DENY",
        "env_file_asked_for": values["env_file_asked_for"],
    }


def test_with_debug_on_the_site_works_over_plain_http():
    values = load({"DEBUG": "true"}, *HARDENING)

    assert values["SECURE_SSL_REDIRECT"] is False
    assert values["SESSION_COOKIE_SECURE"] is False
    assert values["CSRF_COOKIE_SECURE"] is False
    assert values["SECURE_HSTS_SECONDS"] == 0


def test_each_protection_can_be_set_from_the_environment():
    values = load(
        {
            "SECURE_SSL_REDIRECT": "false",
            "SESSION_COOKIE_SECURE": "no",
            "CSRF_COOKIE_SECURE": "0",
            "SECURE_HSTS_SECONDS": "3600",
            "SECURE_HSTS_INCLUDE_SUBDOMAINS": "off",
            "SECURE_HSTS_PRELOAD": "true",
            "SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto,https",
        },
        *HARDENING,
        "SILENCED_SYSTEM_CHECKS",
    )

    assert values["SECURE_SSL_REDIRECT"] is False
    assert values["SESSION_COOKIE_SECURE"] is False
    assert values["CSRF_COOKIE_SECURE"] is False
    assert values["SECURE_HSTS_SECONDS"] == 3600
    assert values["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is False
    assert values["SECURE_HSTS_PRELOAD"] is True
    assert values["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert "security.W021" not in values["SILENCED_SYSTEM_CHECKS"]


def test_a_malformed_proxy_header_stops_start_up_naming_it():
    message = failure({"SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto"})

    assert "SECURE_PROXY_SSL_HEADER='X-Forwarded-Proto' is invalid" in message


def test_a_negative_hsts_age_stops_start_up_naming_it():
    message = failure({"SECURE_HSTS_SECONDS": "-1"})

    assert "SECURE_HSTS_SECONDS='-1' is invalid" in message


def test_the_login_lockout_lasts_fifteen_minutes_unless_configured():
    assert load({}, "AXES_COOLOFF_TIME")["AXES_COOLOFF_TIME"] == str(timedelta(minutes=15))

    values = load({"LOGIN_LOCKOUT_MINUTES": "60"}, "AXES_COOLOFF_TIME", "AXES_FAILURE_LIMIT")
    assert values["AXES_COOLOFF_TIME"] == str(timedelta(hours=1))
    assert values["AXES_FAILURE_LIMIT"] == 5


def test_a_lockout_of_zero_minutes_or_of_ages_stops_start_up_naming_it():
    message = failure({"LOGIN_LOCKOUT_MINUTES": "0"})
    assert "LOGIN_LOCKOUT_MINUTES='0' is invalid: must be at least 1" in message

    message = failure({"LOGIN_LOCKOUT_MINUTES": "1000000000000"})
    assert "LOGIN_LOCKOUT_MINUTES='1000000000000' is invalid: must be at most 43200" in message


def test_a_metrics_token_with_a_space_stops_start_up_without_printing_it():
    message = failure({"METRICS_TOKEN": "my secret"})

    assert "METRICS_TOKEN=<hidden> is invalid" in message
    assert "my secret" not in message


STRONG_KEY = "Kx8-" + "v3ry-l0ng-and-r4ndom-" * 3  # check --deploy wants 50+ varied characters


def deploy_check(**variables: str):
    """`check --deploy --fail-level WARNING` with a strong key, a host name and `variables`."""
    return manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        SECRET_KEY=STRONG_KEY,
        ALLOWED_HOSTS="scheduler.example.com",
        **variables,
    )


def test_the_deploy_check_passes_with_only_a_secret_key_and_allowed_hosts():
    result = deploy_check()

    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


def test_the_deploy_check_fails_when_a_protection_is_switched_off():
    result = deploy_check(SECURE_SSL_REDIRECT="false", SESSION_COOKIE_SECURE="false")

    assert result.returncode != 0
    assert "security.W008" in result.stderr and "security.W012" in result.stderr
