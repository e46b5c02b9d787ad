"""The strict environment readers: typos stop start-up, naming the variable."""

import os

import pytest
from django.core.exceptions import ImproperlyConfigured

from chirpsyncer.env import (
    env_admins,
    env_bool,
    env_database,
    env_email,
    env_float,
    env_header,
    env_int,
    env_list,
    env_proxy_ssl_header,
    env_str,
    env_token,
    read_env_file,
)


@pytest.fixture
def clean_env(monkeypatch):
    """Variables the .env tests write, removed again afterwards."""
    for name in ("CS_TEST_A", "CS_TEST_B", "CS_TEST_C", "CS_TEST_D", "CS_TEST_E"):
        monkeypatch.delenv(name, raising=False)
    yield monkeypatch
    for name in ("CS_TEST_A", "CS_TEST_B", "CS_TEST_C", "CS_TEST_D", "CS_TEST_E"):
        os.environ.pop(name, None)


def test_it_reads_the_env_file(tmp_path, clean_env):
    env_file = tmp_path / ".env"
    env_file.write_text("CS_TEST_A=from-file\nexport CS_TEST_B=42\n")

    read_env_file(env_file)

    assert os.environ["CS_TEST_A"] == "from-file"
    assert env_int("CS_TEST_B", 0) == 42


def test_real_environment_wins_over_the_env_file(tmp_path, clean_env):
    clean_env.setenv("CS_TEST_A", "from-environment")
    env_file = tmp_path / ".env"
    env_file.write_text("CS_TEST_A=from-file\n")

    read_env_file(env_file)

    assert os.environ["CS_TEST_A"] == "from-environment"


def test_a_missing_env_file_is_fine(tmp_path, clean_env):
    read_env_file(tmp_path / "does-not-exist")

    assert "CS_TEST_A" not in os.environ


def test_lines_copied_from_env_example_lose_their_trailing_comment(tmp_path, clean_env):
    env_file = tmp_path / ".env"
    env_file.write_text(
        "# CS_TEST_E=commented-out\n"
        "CS_TEST_A=false                       # set false in production\n"
        "CS_TEST_B=abc#def\n"
        'CS_TEST_C="quoted # kept"\n'
        "CS_TEST_D=Ops <ops@example.com>, b@example.com   # who gets mail\n"
    )

    read_env_file(env_file)

    assert env_bool("CS_TEST_A", True) is False
    assert os.environ["CS_TEST_B"] == "abc#def"
    assert os.environ["CS_TEST_C"] == "quoted # kept"
    assert env_admins("CS_TEST_D") == [
        ("Ops", "ops@example.com"),
        ("b@example.com", "b@example.com"),
    ]
    assert "CS_TEST_E" not in os.environ


def test_unset_variables_take_the_default(monkeypatch):
    monkeypatch.delenv("CS_TEST_A", raising=False)

    assert env_str("CS_TEST_A", "d") == "d"
    assert env_int("CS_TEST_A", 7) == 7
    assert env_float("CS_TEST_A", 1.5) == 1.5
    assert env_bool("CS_TEST_A", True) is True
    assert env_list("CS_TEST_A", ["x"]) == ["x"]
    assert env_email("CS_TEST_A") is None
    assert env_admins("CS_TEST_A") == []
    assert env_header("CS_TEST_A") == ""
    assert env_proxy_ssl_header("CS_TEST_A") is None
    assert env_token("CS_TEST_A") == ""


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("1", True), ("TRUE", True), (" yes ", True), ("on", True), ("0", False), ("off", False)],
)
def test_booleans_accept_the_usual_spellings(monkeypatch, raw, expected):
    monkeypatch.setenv("CS_TEST_A", raw)

    assert env_bool("CS_TEST_A", not expected) is expected


@pytest.mark.parametrize(
    ("reader", "raw", "hint"),
    [
        (lambda: env_bool("CS_TEST_A", True), "flase", "expected one of true/false"),
        (lambda: env_int("CS_TEST_A", 1), "abc", "invalid literal"),
        (lambda: env_int("CS_TEST_A", 1, minimum=1), "0", "at least 1"),
        (lambda: env_int("CS_TEST_A", 1, maximum=9), "10", "at most 9"),
        (lambda: env_float("CS_TEST_A", 1.0), "fast", "could not convert"),
        (lambda: env_database("CS_TEST_A", "sqlite:///x"), "nonsense://x", "expected sqlite"),
        (lambda: env_database("CS_TEST_A", "sqlite:///x"), "postgres://h:5432/", "no database"),
        (lambda: env_email("CS_TEST_A"), "carrier-pigeon://x", "carrier-pigeon"),
        (lambda: env_admins("CS_TEST_A"), "Ops <nobody>", "not an email"),
        (lambda: env_header("CS_TEST_A"), "X-Forwarded-For: 1.2.3.4", "header name"),
        (lambda: env_header("CS_TEST_A"), "X Real IP", "header name"),
        (lambda: env_proxy_ssl_header("CS_TEST_A"), "X-Forwarded-Proto", "HEADER,value"),
        (lambda: env_proxy_ssl_header("CS_TEST_A"), "X-Forwarded-Proto,", "HEADER,value"),
        (lambda: env_proxy_ssl_header("CS_TEST_A"), ",https", "header name"),
        (lambda: env_proxy_ssl_header("CS_TEST_A"), "X-Forwarded-Proto,https,on", "HEADER,value"),
        (lambda: env_proxy_ssl_header("CS_TEST_A"), "X-Forwarded/Proto,https", "header name"),
    ],
)
def test_a_bad_value_names_the_variable(monkeypatch, reader, raw, hint):
    monkeypatch.setenv("CS_TEST_A", raw)

    with pytest.raises(ImproperlyConfigured) as excinfo:
        reader()

    assert f"CS_TEST_A={raw!r}" in str(excinfo.value)
    assert hint in str(excinfo.value)


def test_lists_are_split_on_commas(monkeypatch):
    monkeypatch.setenv("CS_TEST_A", "a.example.com, b.example.com,,")

    assert env_list("CS_TEST_A", []) == ["a.example.com", "b.example.com"]


def test_database_urls_map_to_the_two_supported_engines(monkeypatch):
    monkeypatch.setenv("CS_TEST_A", "postgres://u:p@db.example.com:6543/chirp")

    config = env_database("CS_TEST_A", "sqlite:///unused")

    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert (config["HOST"], config["PORT"], config["NAME"]) == ("db.example.com", 6543, "chirp")
    assert (config["USER"], config["PASSWORD"]) == ("u", "p")


def test_the_database_default_is_parsed_too(monkeypatch):
    monkeypatch.delenv("CS_TEST_A", raising=False)

    config = env_database("CS_TEST_A", "sqlite:////tmp/x.sqlite3")

    assert config["ENGINE"] == "django.db.backends.sqlite3"
    assert config["NAME"] == "/tmp/x.sqlite3"


@pytest.mark.parametrize(
    "raw", ["X-Forwarded-Proto,https", "x-forwarded-proto, https", "HTTP_X_FORWARDED_PROTO,https"]
)
def test_the_proxy_ssl_header_is_read_as_django_wants_it(monkeypatch, raw):
    monkeypatch.setenv("CS_TEST_A", raw)

    assert env_proxy_ssl_header("CS_TEST_A") == ("HTTP_X_FORWARDED_PROTO", "https")


@pytest.mark.parametrize("raw", ["X-Real-IP", "x_real_ip", "HTTP_X_REAL_IP"])
def test_a_header_name_becomes_its_request_meta_key(monkeypatch, raw):
    monkeypatch.setenv("CS_TEST_A", raw)

    assert env_header("CS_TEST_A") == "HTTP_X_REAL_IP"


@pytest.mark.parametrize("raw", ["with space", "café", "tab\there", "new\nline"])
def test_a_token_that_http_would_mangle_is_refused_without_showing_it(monkeypatch, raw):
    monkeypatch.setenv("CS_TEST_A", raw)

    with pytest.raises(ImproperlyConfigured) as excinfo:
        env_token("CS_TEST_A")

    assert "CS_TEST_A=<hidden>" in str(excinfo.value)
    assert raw not in str(excinfo.value)


def test_a_visible_ascii_token_is_kept_as_is(monkeypatch):
    monkeypatch.setenv("CS_TEST_A", "Abc-123_~!+/=")

    assert env_token("CS_TEST_A") == "Abc-123_~!+/="
