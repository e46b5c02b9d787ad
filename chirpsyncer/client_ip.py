"""The address a request came from, for login throttling and the audit log.

By default that is REMOTE_ADDR, the peer of the TCP connection, which a client
cannot forge. Behind a proxy every request would come from the proxy, so
CLIENT_IP_HEADER names the header the proxy sets (X-Forwarded-For, X-Real-IP).
Only the right-most entry is used: a client can send its own X-Forwarded-For,
but the proxy appends the address it saw, so the last entry is the one it vouches for.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str | None:
    """The client's address as text, or None when the request carries none."""
    header = settings.CLIENT_IP_HEADER
    forwarded = request.META.get(header, "") if header else ""
    if forwarded:
        address = _valid(forwarded.split(",")[-1])
        if address:
            return address
    return _valid(request.META.get("REMOTE_ADDR", ""))


def _valid(text: str) -> str | None:
    """`text` if it is an IPv4 or IPv6 address (what GenericIPAddressField stores), else None."""
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    # A zone ("fe80::1%eth0") is not an address PostgreSQL's inet type accepts.
    return None if getattr(address, "scope_id", None) else str(address)
