"""Start-up checks for mistakes that would silently lose mail."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, Warning, register

MAX_CHANNEL_TIMEOUT_SECONDS = 300


@register()
def check_email_settings(app_configs: Any = None, **kwargs: Any) -> list[Warning]:
    """Links in mail need an absolute SITE_URL; SMTP mail needs a real sender."""
    problems = []
    if not settings.SITE_URL.startswith(("http://", "https://")):
        problems.append(
            Warning(
                f"SITE_URL={settings.SITE_URL!r} is not an http(s) URL; links in emails break.",
                id="notifications.W001",
            )
        )
    if settings.SMTP_ENABLED and settings.DEFAULT_FROM_EMAIL.endswith("@localhost"):
        problems.append(
            Warning(
                "SMTP is enabled but SMTP_FROM is a @localhost address; "
                "most mail servers reject or junk such mail.",
                hint="Set SMTP_FROM to an address of your domain.",
                id="notifications.W002",
            )
        )
    return problems


@register()
def check_channel_timeout(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """A post's timeout bounds how long a process waits for posts at exit."""
    timeout = settings.NOTIFY_CHANNEL_TIMEOUT_SECONDS
    if 0 < timeout <= MAX_CHANNEL_TIMEOUT_SECONDS:
        return []
    return [
        Error(
            f"NOTIFY_CHANNEL_TIMEOUT_SECONDS={timeout!r} is out of range.",
            hint=f"Use 1 to {MAX_CHANNEL_TIMEOUT_SECONDS} seconds (default 10).",
            id="notifications.E001",
        )
    ]
