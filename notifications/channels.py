"""Talk to chat and webhook services through Apprise, without leaking their URLs.

Apprise knows 100+ services (Slack, Discord, Teams, Telegram, ntfy, generic
JSON webhooks...) by URL scheme; this module only checks a URL, shows it
masked, and sends one message with a deadline. A channel URL is a secret (it
carries tokens and passwords), and Apprise itself logs URLs and request paths
at DEBUG (and some unreadable URLs whole at ERROR). So every call into
Apprise runs inside `_hiding(...)`: a filter on Apprise's and urllib3's
loggers replaces the URL's secret parts with `****` in every record made
meanwhile, including those from Apprise's worker threads (they inherit the
context). Error texts returned from here are scrubbed the same way.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit, urlunsplit

import apprise
from apprise import AppriseResultStatus, NotifyFormat, NotifyType, PrivacyMode
from apprise.manager_plugins import NotificationManager
from apprise.plugins.base import NotifyBase
from django.core.exceptions import ValidationError

logger = logging.getLogger(__name__)

MAX_URL_LENGTH = 2048

# Services that act on this machine rather than over the network (desktop
# pop-ups, the local syslog, a USB light): a form should not reach them.
LOCAL_SCHEMES = frozenset(
    {"syslog", "dbus", "kde", "qt", "glib", "gnome", "macosx", "windows", "blink1"}
)

# Loggers that write request URLs and paths (Apprise's own, and urllib3's
# "POST /path" lines).
LEAKY_LOGGERS = ("apprise", "urllib3.connectionpool")

N_MGR = NotificationManager()  # Apprise's registry of schemes (a shared singleton)
# How messages sign themselves where a service shows the sender (Slack's footer...).
ASSET = apprise.AppriseAsset(app_id="ChirpSyncer Scheduler", app_desc="ChirpSyncer Scheduler")

REDACTED = "****"
_SEPARATORS = re.compile(r"[/:@?&=#,;+\s]+")
# Parts of a URL shorter than this are not worth hiding (and would redact
# ordinary words such as "api" from every log line).
_MIN_SECRET_LENGTH = 4


@dataclass(frozen=True)
class Answer:
    """What the service answered: accepted or not, and in words (secrets masked)."""

    ok: bool
    text: str
    timed_out: bool = False


# --- Keeping the URL out of logs and messages ------------------------------------------

_hidden: ContextVar[tuple[str, ...]] = ContextVar("channel_secrets", default=())


class HideSecrets(logging.Filter):
    """Masks the secret parts of the URL being used in the current context."""

    def filter(self, record: logging.LogRecord) -> bool:
        secrets = _hidden.get()
        if secrets:
            record.msg, record.args = scrub(record.getMessage(), secrets), None
            if record.exc_info and not record.exc_text:
                trace = logging.Formatter().formatException(record.exc_info)
                record.exc_text = scrub(trace, secrets)
        return True


_FILTER = HideSecrets()
for _name in LEAKY_LOGGERS:
    logging.getLogger(_name).addFilter(_FILTER)


def secret_parts(url: str) -> tuple[str, ...]:
    """The pieces of `url` that its masked form does not show, longest first.

    Both the raw and the percent-decoded spelling of each piece, since
    Apprise logs decoded values.
    """
    shown = masked_url(url).lower()
    return tuple(p for p in _parts(url) if p.lower() not in shown)


def _parts(url: str) -> tuple[str, ...]:
    """Every piece of `url` worth hiding (all of them, before knowing what is shown)."""
    password = _password(url)
    pieces = {url, unquote(url), password}
    for text in (url, unquote(url)):
        pieces.update(_SEPARATORS.split(text))
    # A password is hidden from three characters on; other parts from four.
    kept = (p for p in pieces if len(p) >= _MIN_SECRET_LENGTH or (p == password and len(p) >= 3))
    return tuple(sorted(kept, key=len, reverse=True))


def _password(url: str) -> str:
    try:
        return unquote(urlsplit(url).password or "")
    except ValueError:  # e.g. a port that is not a number
        return ""


def scrub(text: str, secrets: tuple[str, ...]) -> str:
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    return text


@contextmanager
def _hiding(secrets: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
    token = _hidden.set(secrets)
    try:
        yield secrets
    finally:
        _hidden.reset(token)


def _secrets_hidden(url: str):
    """Hide what the masked URL does not show, in logs made in this context."""
    return _hiding(secret_parts(url))


# --- Reading and showing a URL -------------------------------------------------------------


def _plugin(url: str) -> NotifyBase | None:
    try:
        return apprise.Apprise.instantiate(url, asset=ASSET)
    except Exception:  # noqa: BLE001 - a URL Apprise chokes on is simply not a channel URL
        logger.warning("Apprise could not read a channel URL", exc_info=False)
        return None


def scheme_of(url: str) -> str:
    return url.partition("://")[0].strip().lower() if "://" in url else ""


def check_url(url: str) -> None:
    """Raise ValidationError unless `url` is one Apprise URL of a network service."""
    if not isinstance(url, str) or not url.strip():
        raise ValidationError("Enter an Apprise URL, e.g. slack://TokenA/TokenB/TokenC.")
    if len(url) > MAX_URL_LENGTH:
        raise ValidationError(
            f"The URL is too long ({len(url)} characters; at most {MAX_URL_LENGTH})."
        )
    try:
        url.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError("The URL contains characters that are not valid text.") from None
    if any(ch.isspace() or ord(ch) < 32 for ch in url.strip()):
        raise ValidationError("Enter one URL, without spaces (one channel per service).")
    scheme = scheme_of(url)
    if scheme in LOCAL_SCHEMES:
        raise ValidationError(
            f"{scheme}:// notifies this server itself, not a service: not allowed."
        )
    with _hiding(_parts(url)):
        plugin = _plugin(url.strip())
    if plugin is None:
        raise ValidationError(_unreadable(scheme))


def _unreadable(scheme: str) -> str:
    if not scheme:
        return (
            "This is not a URL: it should start with a service's scheme, e.g. slack:// or json://."
        )
    if scheme not in N_MGR:
        return (
            f"Apprise does not know the scheme {scheme}://. "
            "See https://github.com/caronc/apprise/wiki for the services it supports."
        )
    if not N_MGR[scheme].enabled:
        return f"{scheme}:// needs a Python package this server does not have installed."
    return f"This {scheme}:// URL is incomplete or malformed (check it against Apprise's wiki)."


def masked_url(url: str) -> str:
    """The URL as Apprise's privacy mode shows it, minus options, long path parts shortened.

    Apprise masks passwords and tokens it knows about; the path of a generic
    webhook and its header options (`?+X-Token=...`) it shows whole, so
    those are shortened or dropped here too.
    """
    with _hiding(_parts(url)):  # Apprise logs the URL while reading it
        plugin = _plugin(url)
    if plugin is None:
        return f"{scheme_of(url) or 'invalid'}://{REDACTED}"
    parts = urlsplit(plugin.url(privacy=True))
    path = "/".join(_shorten(segment) for segment in parts.path.split("/"))
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def _shorten(segment: str) -> str:
    segment = unquote(segment)  # shown to people: "#ops", not "%23ops"
    if len(segment) <= 8 or "..." in segment:
        return segment
    return NotifyBase.pprint(segment, privacy=True, mode=PrivacyMode.Outer)


# --- Sending ---------------------------------------------------------------------------------

NOTIFY_TYPES = {
    "failure": NotifyType.FAILURE,
    "success": NotifyType.SUCCESS,
    "info": NotifyType.INFO,
}


def send(url: str, title: str, body: str, *, tone: str = "info", timeout: float) -> Answer:
    """Post one message to the service at `url`; gives up after `timeout` seconds.

    Never raises: every problem comes back as a failed Answer whose text says
    what Apprise (or the service through it) reported.
    """
    with _secrets_hidden(url) as secrets:
        try:
            return _send(url, title, body, tone, timeout, secrets)
        except Exception as exc:  # noqa: BLE001 - reported on the delivery row instead
            return Answer(False, scrub(f"{type(exc).__name__}: {exc}", secrets))


def _send(
    url: str, title: str, body: str, tone: str, timeout: float, secrets: tuple[str, ...]
) -> Answer:
    plugin = _plugin(url)
    if plugin is None:
        return Answer(False, "Apprise can no longer read this channel's URL; edit the channel.")
    # Bound the request itself too, so a thread Apprise stops waiting for ends soon after.
    plugin.socket_connect_timeout = min(plugin.socket_connect_timeout, timeout + 1)
    plugin.socket_read_timeout = min(plugin.socket_read_timeout, timeout + 1)
    sender = apprise.Apprise(asset=ASSET)
    sender.add(plugin)
    result = sender.notify(
        body=body,
        title=title,
        notify_type=NOTIFY_TYPES.get(tone, NotifyType.INFO),
        body_format=NotifyFormat.TEXT,
        timeout=timeout,
        log_level=logging.INFO,
    )
    said = _what_it_said(result)
    if result.status == AppriseResultStatus.SUCCESS:
        return Answer(True, scrub(said or f"{plugin.service_name} accepted the message.", secrets))
    if result.status == AppriseResultStatus.TIMEOUT:
        text = f"Timed out after {timeout:g} s: {plugin.service_name} did not answer in time."
        return Answer(False, text, timed_out=True)
    return Answer(False, scrub(said or f"{plugin.service_name} refused the message.", secrets))


def _what_it_said(result: apprise.AppriseResult) -> str:
    """The service's own log lines (not Apprise's "Notifying 1 service(s)."), once each."""
    lines = [entry.message.strip() for service in result for entry in service.logs()]
    return " ".join(dict.fromkeys(line for line in lines if line))
