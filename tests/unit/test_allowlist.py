from __future__ import annotations

import pytest

from smvm.allowlist import client_address, is_allowed

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(("remote", "forwarded", "proxies", "expected"), [
    ("10.0.0.1", None, 0, "10.0.0.1"),
    ("10.0.0.1", "203.0.113.9", 0, "10.0.0.1"),  # no trusted proxy: the header is the client's to forge
    ("10.0.0.1", "6.6.6.6, 203.0.113.9", 1, "203.0.113.9"),
    ("10.0.0.1", "6.6.6.6, 203.0.113.9, 10.0.0.2", 2, "203.0.113.9"),
    ("10.0.0.1", "203.0.113.9", 2, "10.0.0.1"),  # fewer hops than proxies: bypassed a proxy
])
def test_client_address(remote, forwarded, proxies, expected) -> None:
    assert client_address(remote, forwarded, proxies) == expected


@pytest.mark.parametrize(("address", "cidrs", "allowed"), [
    ("203.0.113.9", (), True),
    ("203.0.113.9", ("203.0.113.0/24",), True),
    ("198.51.100.1", ("203.0.113.0/24", "10.0.0.0/8"), False),
    ("::ffff:10.1.2.3", ("10.0.0.0/8",), True),
    ("not-an-ip", ("10.0.0.0/8",), False),
])
def test_is_allowed(address, cidrs, allowed) -> None:
    assert is_allowed(address, cidrs) is allowed
