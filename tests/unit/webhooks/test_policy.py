from __future__ import annotations

import pytest

from smvm.config import Settings
from smvm.webhooks import policy
from smvm.webhooks.errors import DestinationRejectedError
from smvm.webhooks.policy import check_callback_url, check_destination

pytestmark = pytest.mark.unit

STRICT = Settings()


def _resolver(address: str):
    return lambda host, port: [address]


@pytest.mark.parametrize(
    "url, address",
    [
        ("http://hooks.example.com/x", "93.184.216.34"),  # plain http
        ("https://hooks.example.com/x", "127.0.0.1"),
        ("https://hooks.example.com/x", "10.1.2.3"),
        ("https://hooks.example.com/x", "192.168.0.5"),
        ("https://hooks.example.com/x", "169.254.169.254"),  # cloud metadata
        ("https://hooks.example.com/x", "100.64.0.1"),  # CGNAT
        ("https://hooks.example.com/x", "::1"),
        ("https://hooks.example.com/x", "fd00::1"),
        ("https://hooks.example.com/x", "fe80::1"),
        ("https://hooks.example.com/x", "::ffff:127.0.0.1"),  # IPv4-mapped loopback
        ("https://user:pw@hooks.example.com/x", "93.184.216.34"),
        ("ftp://hooks.example.com/x", "93.184.216.34"),
    ],
)
def test_rejected(url: str, address: str) -> None:
    with pytest.raises(DestinationRejectedError):
        check_destination(url, STRICT, _resolver(address))


def test_public_https_passes_and_pins_the_checked_address() -> None:
    destination = check_destination("https://hooks.example.com:8443/tb?x=1", STRICT, _resolver("93.184.216.34"))
    assert destination.address == "93.184.216.34" and destination.port == 8443
    assert destination.path == "/tb?x=1" and destination.key == "hooks.example.com:8443"


def test_allowed_hosts_and_http_in_development() -> None:
    settings = Settings(callback_allow_http=True, callback_allowed_hosts=("127.0.0.1",))
    assert check_destination("http://127.0.0.1:9000/cb", settings, _resolver("127.0.0.1")).port == 9000


def test_trusted_operator_url_may_be_internal() -> None:
    assert check_destination("https://tb.internal/", STRICT, _resolver("10.0.0.7"), trusted=True).address == "10.0.0.7"


@pytest.fixture
def no_dns(monkeypatch):
    """A machine without outside DNS: any lookup fails loudly, so a passing check proves it made none."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"DNS lookup at intake: {args}")

    monkeypatch.setattr(policy.socket, "getaddrinfo", refuse)


@pytest.mark.parametrize("url", [
    "https://tractionbuild.example.com/api/v1/smvm/callback",  # the README's example: no DNS needed to accept it
    "https://hooks.example.com:8443/tb?x=1",
    "https://93.184.216.34/cb",
    "https://[2606:2800:220:1:248:1893:25c8:1946]/cb",
])
def test_intake_accepts_names_and_public_literals_without_dns(no_dns, url: str) -> None:
    check_callback_url(url, STRICT)


@pytest.mark.parametrize("url", [
    "http://hooks.example.com/x",
    "ftp://hooks.example.com/x",
    "https://user:pw@hooks.example.com/x",
    "https:///x",
    "https://hooks.example.com:99999/x",
    "https://127.0.0.1/cb",
    "https://10.0.0.5/cb",
    "https://169.254.169.254/latest/meta-data",
    "https://[::1]/cb",
    "https://[::ffff:127.0.0.1]/cb",
    "https://[fd00::1]/cb",
    "https://100.64.0.1/cb",
    "https://0.0.0.0/cb",
    "https://localhost/cb",
    "https://api.localhost/cb",
    "https://no-such-host.invalid/cb",
])
def test_intake_refuses_what_it_can_tell_without_dns(no_dns, url: str) -> None:
    with pytest.raises(DestinationRejectedError):
        check_callback_url(url, STRICT)


def test_intake_lets_development_allow_listed_hosts_through(no_dns) -> None:
    settings = Settings(callback_allow_http=True, callback_allowed_hosts=("127.0.0.1", "localhost"))
    check_callback_url("http://127.0.0.1:9000", settings)
    check_callback_url("http://localhost:9000/cb", settings)


def test_delivery_still_resolves_and_refuses_a_name_pointing_inside() -> None:
    with pytest.raises(DestinationRejectedError, match="non-public"):
        check_destination("https://tractionbuild.example.com/cb", STRICT, _resolver("10.0.0.8"))


def _no_answer(host: str, port: int) -> list[str]:
    raise OSError("Temporary failure in name resolution")


def test_a_name_that_does_not_resolve_now_is_a_transient_failure() -> None:
    from smvm.webhooks.errors import DestinationUnresolvedError

    with pytest.raises(DestinationUnresolvedError):
        check_destination("https://tractionbuild.example.com/cb", STRICT, _no_answer)
    # Names that can never work are refused for good at delivery too, before any lookup.
    with pytest.raises(DestinationRejectedError) as refused:
        check_destination("https://hooks.invalid/cb", STRICT, _no_answer)
    assert not isinstance(refused.value, DestinationUnresolvedError)
