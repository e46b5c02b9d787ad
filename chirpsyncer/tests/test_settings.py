"""Settings parsing, checked in a fresh interpreter with a controlled environment.

Settings are read once per process, so each case starts `python` with only
PATH plus the variables under test. The developer's own `.env` (which `make
run` writes) is kept out: the child swaps `read_env_file` for one that reads
the file the test names, and reports which path settings asked for.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings

CHILD = """
import json, os, sys
from pathlib import Path
import chirpsyncer.env as env_module

asked_for = []
real_read_env_file = env_module.read_env_file

def read_env_file(path):
    asked_for.append(str(path))
    if os.environ.get("TEST_ENV_FILE"):
        real_read_env_file(Path(os.environ["TEST_ENV_FILE"]))

env_module.read_env_file = read_env_file
import django
django.setup()
from django.conf import settings
values = {name: getattr(settings, name, None) for name in sys.argv[1:]}
values["env_file_asked_for"] = asked_for
print(json.dumps(values, default=str))
"""


# DEBUG is off by default, and then a SECRET_KEY is required: every case gets one
# unless it says otherwise (an empty value counts as unset).
A_SECRET_KEY = "settings-test-key-" + "k" * 40


def run_settings(env: dict[str, str], *names: str) -> subprocess.CompletedProcess:
    child_env = {
        "PATH": os.environ["PATH"],
        "DJANGO_SETTINGS_MODULE": "chirpsyncer.settings",
        "SECRET_KEY": A_SECRET_KEY,
        **env,
    }
    return subprocess.run(
        [sys.executable, "-c", CHILD, *names],
        cwd=settings.BASE_DIR,
        env=child_env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def load(env: dict[str, str], *names: str) -> dict:
    result = run_settings(env, *names)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def failure(env: dict[str, str]) -> str:
    result = run_settings(env, "DEBUG")
    assert result.returncode != 0, result.stdout
    assert "ImproperlyConfigured" in result.stderr
    return result.stderr.strip().splitlines()[-1]


def test_fresh_checkout_uses_a_sqlite_file_tuned_for_concurrent_writers():
    values = load({}, "DATABASES", "BASE_DIR")
    db = values["DATABASES"]["default"]

    assert db["ENGINE"] == "django.db.backends.sqlite3"
    assert db["NAME"] == str(Path(values["BASE_DIR"]) / "db.sqlite3")
    assert db["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    assert db["OPTIONS"]["timeout"] == 20.0
    assert "journal_mode=WAL" in db["OPTIONS"]["init_command"]


def test_fresh_checkout_prints_mail_and_runs_in_utc_with_debug_off():
    values = load({}, "EMAIL_BACKEND", "TIME_ZONE", "DEBUG", "SMTP_ENABLED")

    assert values["EMAIL_BACKEND"] == "django.core.mail.backends.console.EmailBackend"
    assert values["SMTP_ENABLED"] is False
    assert values["TIME_ZONE"] == "UTC"
    assert values["DEBUG"] is False


def test_debug_on_without_a_secret_key_uses_the_development_key():
    values = load({"DEBUG": "true", "SECRET_KEY": ""}, "DEBUG", "SECRET_KEY")

    assert values["DEBUG"] is True
    assert values["SECRET_KEY"].startswith("insecure-development-key")


def test_settings_read_the_env_file_beside_manage_py():
    values = load({}, "BASE_DIR")

    assert values["env_file_asked_for"] == [str(Path(values["BASE_DIR"]) / ".env")]


def test_env_file_values_apply_and_the_real_environment_wins(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text(
        "TIME_ZONE=Europe/Paris\nBACKUP_KEEP=3   # keep three\nSITE_URL=http://file\n"
    )

    values = load(
        {"TEST_ENV_FILE": str(env_file), "SITE_URL": "https://real.example.com/"},
        "TIME_ZONE",
        "BACKUP_KEEP",
        "SITE_URL",
    )

    assert values["TIME_ZONE"] == "Europe/Paris"
    assert values["BACKUP_KEEP"] == 3
    assert values["SITE_URL"] == "https://real.example.com"


def test_sqlite_busy_timeout_is_configurable():
    values = load({"SQLITE_BUSY_TIMEOUT": "5"}, "DATABASES")

    assert values["DATABASES"]["default"]["OPTIONS"]["timeout"] == 5.0


def test_database_url_switches_to_postgresql():
    values = load({"DATABASE_URL": "postgres://chirp:pw@db.internal:5433/chirpdb"}, "DATABASES")
    db = values["DATABASES"]["default"]

    assert db["ENGINE"] == "django.db.backends.postgresql"
    assert (db["NAME"], db["HOST"], db["PORT"], db["USER"]) == (
        "chirpdb",
        "db.internal",
        5433,
        "chirp",
    )
    assert "transaction_mode" not in db.get("OPTIONS", {})
    assert db["CONN_MAX_AGE"] == 60
    assert db["CONN_HEALTH_CHECKS"] is True


def test_email_url_configures_smtp_with_starttls():
    values = load(
        {"EMAIL_URL": "smtp+tls://u:p@h:587"},
        "EMAIL_BACKEND",
        "EMAIL_HOST",
        "EMAIL_PORT",
        "EMAIL_HOST_USER",
        "EMAIL_HOST_PASSWORD",
        "EMAIL_USE_TLS",
        "SMTP_ENABLED",
    )

    assert values["EMAIL_BACKEND"] == "django.core.mail.backends.smtp.EmailBackend"
    assert (values["EMAIL_HOST"], values["EMAIL_PORT"]) == ("h", 587)
    assert (values["EMAIL_HOST_USER"], values["EMAIL_HOST_PASSWORD"]) == ("u", "p")
    assert values["EMAIL_USE_TLS"] is True
    assert values["SMTP_ENABLED"] is True


def test_smtp_port_465_uses_ssl():
    values = load(
        {"SMTP_HOST": "mail.example.com", "SMTP_PORT": "465", "SMTP_USER": "bot"},
        "EMAIL_BACKEND",
        "EMAIL_HOST",
        "EMAIL_PORT",
        "EMAIL_HOST_USER",
        "EMAIL_USE_SSL",
        "EMAIL_USE_TLS",
    )

    assert values["EMAIL_BACKEND"] == "django.core.mail.backends.smtp.EmailBackend"
    assert (values["EMAIL_HOST"], values["EMAIL_PORT"]) == ("mail.example.com", 465)
    assert values["EMAIL_HOST_USER"] == "bot"
    assert (values["EMAIL_USE_SSL"], values["EMAIL_USE_TLS"]) == (True, False)


def test_smtp_port_587_uses_starttls():
    values = load({"SMTP_HOST": "mail.example.com"}, "EMAIL_PORT", "EMAIL_USE_SSL", "EMAIL_USE_TLS")

    assert values["EMAIL_PORT"] == 587
    assert (values["EMAIL_USE_SSL"], values["EMAIL_USE_TLS"]) == (False, True)


def test_smtp_can_be_switched_off_while_configured():
    values = load({"SMTP_HOST": "mail.example.com", "SMTP_ENABLED": "false"}, "EMAIL_BACKEND")

    assert values["EMAIL_BACKEND"] == "django.core.mail.backends.console.EmailBackend"


def test_a_bad_database_url_stops_start_up_naming_it():
    message = failure({"DATABASE_URL": "nonsense://x"})

    assert "DATABASE_URL='nonsense://x' is invalid" in message


def test_a_non_integer_number_stops_start_up_naming_it():
    message = failure({"SCHEDULER_THREADS": "abc"})

    assert "SCHEDULER_THREADS='abc' is invalid" in message


def test_an_unreadable_boolean_stops_start_up_naming_it():
    message = failure({"DEBUG": "maybe"})

    assert "DEBUG='maybe' is invalid" in message


def test_an_unknown_email_scheme_stops_start_up_naming_it():
    message = failure({"EMAIL_URL": "carrier-pigeon://coop"})

    assert "EMAIL_URL='carrier-pigeon://coop' is invalid" in message


def test_smtp_enabled_without_a_server_stops_start_up():
    message = failure({"SMTP_ENABLED": "true"})

    assert "SMTP_ENABLED" in message


def test_production_requires_a_secret_key():
    message = failure({"SECRET_KEY": ""})

    assert "SECRET_KEY must be set when DEBUG is off" in message


def test_production_starts_with_a_secret_key():
    values = load({"SECRET_KEY": "s3cret-for-test"}, "DEBUG", "SECRET_KEY")

    assert values["DEBUG"] is False
    assert values["SECRET_KEY"] == "s3cret-for-test"
