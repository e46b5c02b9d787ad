"""The client address for throttling and audit: REMOTE_ADDR unless a trusted header is named."""

import pytest
from django.test import RequestFactory, override_settings

from chirpsyncer.client_ip import client_ip


def request(**meta):
    return RequestFactory().get("/", **meta)


def test_it_is_the_peer_address_by_default_whatever_the_headers_say():
    assert client_ip(request(REMOTE_ADDR="203.0.113.1", HTTP_X_FORWARDED_FOR="1.2.3.4")) == (
        "203.0.113.1"
    )


@override_settings(CLIENT_IP_HEADER="HTTP_X_FORWARDED_FOR")
@pytest.mark.parametrize(
    ("forwarded", "expected"),
    [
        ("198.51.100.7", "198.51.100.7"),
        ("6.6.6.6, 198.51.100.7", "198.51.100.7"),  # only the entry the proxy appended
        ("2001:db8::1", "2001:db8::1"),
        ("", "203.0.113.1"),  # a request that did not come through the proxy
        ("not-an-address", "203.0.113.1"),
        ("fe80::1%eth0", "203.0.113.1"),
    ],
)
def test_behind_a_proxy_it_is_the_last_address_in_the_trusted_header(forwarded, expected):
    meta = {"REMOTE_ADDR": "203.0.113.1", "HTTP_X_FORWARDED_FOR": forwarded}

    assert client_ip(request(**meta)) == expected


def test_a_request_without_a_usable_address_has_none():
    assert client_ip(request(REMOTE_ADDR="")) is None
    assert client_ip(request(REMOTE_ADDR="unix-socket")) is None
