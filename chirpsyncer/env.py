"""Strict, typed readers for settings taken from the environment.

django-environ does the parsing; these wrappers exist because a typo in a
deployment's environment must stop start-up with a message that names the
variable, not boot with a silently wrong value (environ reads "flase" as False
and an unknown DATABASE_URL scheme as an empty dict).
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import environ
from django.core.exceptions import ImproperlyConfigured

T = TypeVar("T")

env = environ.Env()

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
_DB_ENGINES = {"django.db.backends.sqlite3", "django.db.backends.postgresql"}
_HEADER_NAME = re.compile(r"^[A-Za-z0-9]+([-_][A-Za-z0-9]+)*$")
_TOKEN = re.compile(r"^[\x21-\x7e]+$")  # visible ASCII: what an HTTP header carries intact


# `NAME=value   # comment`: the comment starts at whitespace + "#" in an unquoted value.
_INLINE_COMMENT = re.compile(r"^(\s*(?:export\s+)?[A-Za-z_0-9]+=(?![\"']).*?)\s+#.*$")


def read_env_file(path: Path) -> None:
    """Load `.env` if present; real environment variables win over the file.

    Lines copied from `.env.example` keep their trailing `# comment`; those are
    stripped here because django-environ would keep them in the value (and its
    own `parse_comments` also cuts `abc#def` and quoted values short).
    """
    if path.is_file():
        lines = path.read_text(encoding="utf-8").splitlines()
        text = "\n".join(_INLINE_COMMENT.sub(r"\1", line) for line in lines)
        environ.Env.read_env(io.StringIO(text), overwrite=False)


def _read(name: str, parse: Callable[[str], T], default: T, secret: bool = False) -> T:
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        return parse(raw)
    except (ValueError, TypeError, ImproperlyConfigured) as exc:
        # django-environ raises ImproperlyConfigured itself for unknown URL
        # schemes, without saying which variable held the URL.
        shown = "<hidden>" if secret else repr(raw)
        raise ImproperlyConfigured(f"Setting {name}={shown} is invalid: {exc}") from exc


def env_str(name: str, default: str) -> str:
    return _read(name, str, default)


def env_int(name: str, default: int, minimum: int | None = None, maximum: int | None = None) -> int:
    def parse(raw: str) -> int:
        value = int(raw.strip())
        if minimum is not None and value < minimum:
            raise ValueError(f"must be at least {minimum}")
        if maximum is not None and value > maximum:
            raise ValueError(f"must be at most {maximum}")
        return value

    return _read(name, parse, default)


def env_float(name: str, default: float, minimum: float | None = None) -> float:
    def parse(raw: str) -> float:
        value = float(raw.strip())
        if minimum is not None and value < minimum:
            raise ValueError(f"must be at least {minimum}")
        return value

    return _read(name, parse, default)


def env_bool(name: str, default: bool) -> bool:
    def parse(raw: str) -> bool:
        value = raw.strip().lower()
        if value in _TRUE:
            return True
        if value in _FALSE:
            return False
        raise ValueError("expected one of true/false, yes/no, on/off, 1/0")

    return _read(name, parse, default)


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    """One of `choices`, case-insensitively (returned as written in `choices`)."""

    def parse(raw: str) -> str:
        by_key = {choice.lower(): choice for choice in choices}
        value = by_key.get(raw.strip().lower())
        if value is None:
            raise ValueError(f"expected one of {', '.join(choices)}")
        return value

    return _read(name, parse, default)


def env_list(name: str, default: list[str]) -> list[str]:
    return _read(name, lambda raw: [p.strip() for p in raw.split(",") if p.strip()], default)


def env_database(name: str, default: str) -> dict[str, Any]:
    """Parse a database URL; only SQLite and PostgreSQL are supported."""

    def parse(raw: str) -> dict[str, Any]:
        config = environ.Env.db_url_config(raw)
        if config.get("ENGINE") not in _DB_ENGINES:
            raise ValueError("expected sqlite:///PATH or postgres://USER@HOST:PORT/NAME")
        if not config.get("NAME"):
            raise ValueError("the URL names no database")
        return config

    if not os.environ.get(name, "").strip():  # unset or empty: the default
        return parse(default)
    return _read(name, parse, None)


def env_email(name: str) -> dict[str, Any] | None:
    """Parse EMAIL_URL (smtp://, smtp+tls://, smtp+ssl://, consolemail://, ...)."""

    def parse(raw: str) -> dict[str, Any]:
        config = environ.Env.email_url_config(raw)
        if not config.get("EMAIL_BACKEND"):
            raise ValueError("unknown scheme; expected smtp://, smtp+tls://, consolemail://")
        return config

    return _read(name, parse, None)


def env_admins(name: str) -> list[tuple[str, str]]:
    """ADMINS as `Name <a@example.com>, b@example.com`."""

    def parse(raw: str) -> list[tuple[str, str]]:
        admins = []
        for part in filter(None, (p.strip() for p in raw.split(","))):
            if "<" in part:
                label, _, address = part.partition("<")
                address = address.rstrip(">").strip()
            else:
                label, address = part, part
            if "@" not in address:
                raise ValueError(f"{part!r} is not an email address")
            admins.append((label.strip(), address))
        return admins

    return _read(name, parse, [])


def _meta_key(raw: str) -> str:
    """`X-Forwarded-Proto` or `HTTP_X_FORWARDED_PROTO` -> the request.META key."""
    name = raw.strip()
    if not _HEADER_NAME.match(name):
        raise ValueError("expected a header name such as X-Forwarded-For")
    key = name.upper().replace("-", "_")
    return key if key.startswith("HTTP_") else f"HTTP_{key}"


def env_header(name: str) -> str:
    """An HTTP request header a trusted proxy sets, as its request.META key ("" when unset)."""
    return _read(name, lambda raw: _meta_key(raw) if raw.strip() else "", "")


def env_proxy_ssl_header(name: str) -> tuple[str, str] | None:
    """SECURE_PROXY_SSL_HEADER as `HEADER,value`, e.g. `X-Forwarded-Proto,https`."""

    def parse(raw: str) -> tuple[str, str] | None:
        if not raw.strip():
            return None
        header, comma, value = raw.partition(",")
        if not comma or not value.strip() or "," in value:
            raise ValueError("expected HEADER,value such as X-Forwarded-Proto,https")
        return _meta_key(header), value.strip()

    return _read(name, parse, None)


def env_token(name: str) -> str:
    """A shared secret sent in a header: visible ASCII only, so it survives HTTP intact."""

    def parse(raw: str) -> str:
        if raw and not _TOKEN.match(raw):
            raise ValueError("use visible ASCII characters only (no spaces)")
        return raw

    return _read(name, parse, "", secret=True)


BROKER_SCHEMES = ("redis", "rediss", "amqp", "amqps", "pyamqp")


def env_broker_url(name: str) -> str:
    """A Celery broker URL (Redis or RabbitMQ), or "" when unset; it may hold a password."""

    def parse(raw: str) -> str:
        value = raw.strip()
        scheme = value.split("://", 1)[0].lower() if "://" in value else ""
        if value and scheme not in BROKER_SCHEMES:
            raise ValueError(f"expected a URL starting with one of {', '.join(BROKER_SCHEMES)}://")
        return value

    return _read(name, parse, "", secret=True)
