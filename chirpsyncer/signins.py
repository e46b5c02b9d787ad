"""Failed and refused sign-ins, in the log and in AuditLog.

django-axes counts failures and refuses a locked-out username and address;
this module records what happened, so "who is guessing passwords?" has an
answer. Its receiver runs after axes' own (axes is installed first), so the
request already says whether axes counted the attempt or refused it unchecked.
The password is never recorded: only the username that was tried.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.contrib.auth.signals import user_login_failed
from django.dispatch import receiver
from django.http import HttpRequest

from chirpsyncer.client_ip import client_ip
from chirpsyncer.models import AuditLog

FAILED = "auth.login_failed"
LOCKED_OUT = "auth.locked_out"
REFUSED = "auth.login_refused"

log = logging.getLogger("chirpsyncer.signins")


@receiver(user_login_failed, dispatch_uid="chirpsyncer.signins.record_failed_sign_in")
def record_failed_sign_in(
    sender: Any, credentials: dict, request: HttpRequest | None = None, **kwargs: Any
) -> None:
    """One row per failed try; a second one when this try started a lockout."""
    if request is None:  # authenticate() from code, not a sign-in page
        return
    username = _printable(str(credentials.get("username") or ""), 150)
    address = client_ip(request)
    failures = getattr(request, "axes_failures_since_start", None)
    locked = bool(getattr(request, "axes_locked_out", False))
    if locked and failures is None:
        log.warning("Sign-in refused for %r from %s: locked out", username, address)
        _record(request, REFUSED, username, {"username": username, "path": request.path})
        return
    log.warning("Failed sign-in for %r from %s (%s in a row)", username, address, failures)
    details = {"username": username, "failures": failures, "path": request.path}
    _record(request, FAILED, username, details)
    if locked:
        minutes = settings.LOGIN_LOCKOUT_MINUTES
        log.warning("Locked out %r from %s for %d min", username, address, minutes)
        _record(request, LOCKED_OUT, username, {**details, "minutes": minutes})


def _record(request: HttpRequest, action: str, username: str, details: dict) -> None:
    AuditLog.objects.create(
        action=action,
        resource_type="user",
        resource_id=username[:100],
        ip_address=client_ip(request),
        user_agent=_printable(request.META.get("HTTP_USER_AGENT", ""), 1000),
        success=False,
        details=details,
    )


def _printable(text: str, limit: int) -> str:
    """Cut to `limit`, without NUL or lone surrogates (PostgreSQL text and JSON refuse both)."""
    cleaned = text[:limit].replace("\x00", "")
    return cleaned.encode("utf-8", "replace").decode("utf-8")
