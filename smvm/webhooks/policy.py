"""SSRF policy for callback URLs: https only, no private or metadata addresses, and the checked address is the one used."""

from __future__ import annotations

import dataclasses
import ipaddress
import re
import socket
from collections.abc import Callable
from urllib.parse import urlsplit

from smvm.config import Settings
from smvm.webhooks.errors import DestinationRejectedError, DestinationUnresolvedError

Resolver = Callable[[str, int], list[str]]

_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_METADATA = {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}


@dataclasses.dataclass(frozen=True)
class Destination:
    """A URL that passed the policy, with the address to connect to (resolved once, to defeat DNS rebinding)."""

    url: str
    scheme: str
    host: str
    port: int
    address: str
    path: str

    @property
    def key(self) -> str:
        """The circuit breaker's unit: one destination host (and port)."""
        return f"{self.host}:{self.port}"


def _resolve(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [info[4][0] for info in infos]


def address_allowed(address: str) -> bool:
    """Public unicast only: no loopback, RFC 1918, link-local (cloud metadata), CGNAT, ULA, multicast or reserved."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        # ::ffff:127.0.0.1 reaches loopback on dual-stack hosts; judge the IPv4 address it maps to.
        ip = ip.ipv4_mapped
    if ip in _METADATA or (isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT):
        return False
    return not (
        ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_reserved
        or ip.is_unspecified or not ip.is_global
    )


def default_port(scheme: str) -> int:
    return 443 if scheme == "https" else 80


def destination_key(url: str) -> str:
    """``host:port``, lower-case: what the breaker, the held listing and the dead-letter filters group by."""
    parts = urlsplit(url)
    return f"{(parts.hostname or '').lower()}:{parts.port or default_port(parts.scheme)}"


def _parse(url: str, settings: Settings) -> tuple[str, str, int, str]:
    """Scheme, host, port and path of ``url``, or the rule it breaks; no network involved."""
    parts = urlsplit(url)
    allowed_schemes = ("https", "http") if settings.callback_allow_http else ("https",)
    if parts.scheme not in allowed_schemes:
        raise DestinationRejectedError(f"callback URL scheme must be {' or '.join(allowed_schemes)}", details={"url": url})
    if parts.username or parts.password:
        raise DestinationRejectedError("callback URL must not carry credentials", details={"url": url})
    host = (parts.hostname or "").lower()
    if not host:
        raise DestinationRejectedError("callback URL has no host", details={"url": url})
    try:
        port = parts.port or default_port(parts.scheme)
    except ValueError as exc:
        raise DestinationRejectedError("callback URL has an invalid port", details={"url": url}) from exc
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return parts.scheme, host, port, path


def _literal_address(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host.strip("[]").split("%", 1)[0]))
    except ValueError:
        return None


def check_callback_url(url: str, settings: Settings) -> None:
    """What can be known about ``url`` without the network, for intake: scheme, credentials, host, port, and an
    address written in the URL itself (``https://10.0.0.5/``, ``https://localhost/``).

    A name is resolved only at delivery (:func:`check_destination`), where the address connected to is the one
    checked: intake must not depend on DNS, and a check at intake could not stop a name that changes later.

    :raises DestinationRejectedError: naming the rule it broke.
    """
    _, host, _, _ = _parse(url, settings)
    if host in settings.callback_allowed_hosts:
        return
    name = host.rstrip(".")  # "localhost." is the same name, fully qualified
    # RFC 6761 special-use names answer without a lookup: "localhost" is always loopback, "invalid" never resolves.
    if name == "localhost" or name.endswith(".localhost"):
        raise DestinationRejectedError(f"callback host {host!r} is a loopback name", details={"url": url})
    if name == "invalid" or name.endswith(".invalid"):
        raise DestinationRejectedError(f"callback host {host!r} does not resolve", details={"url": url})
    address = _literal_address(host)
    if address is not None and not address_allowed(address):
        raise DestinationRejectedError(
            f"callback host {host!r} is a non-public address", details={"url": url, "address": address}
        )


def check_destination(
    url: str, settings: Settings, resolver: Resolver = _resolve, *, trusted: bool = False
) -> Destination:
    """Validate ``url`` at send time: the checks of :func:`check_callback_url`, then resolve its host once and
    check every address (the first is the one connected to, which defeats DNS rebinding).

    ``trusted`` is for operator-configured URLs (the TractionBuild base URL), which may be internal addresses.

    :raises DestinationUnresolvedError: the host does not resolve (now: a later attempt may succeed).
    :raises DestinationRejectedError: naming the rule it broke.
    """
    scheme, host, port, path = _parse(url, settings)
    if not trusted:
        check_callback_url(url, settings)  # what needs no lookup: refused for good, whatever DNS says
    try:
        addresses = resolver(host, port)
    except OSError as exc:
        raise DestinationUnresolvedError(f"callback host {host!r} does not resolve", details={"url": url}) from exc
    if not addresses:
        raise DestinationUnresolvedError(f"callback host {host!r} does not resolve", details={"url": url})
    if not trusted and host not in settings.callback_allowed_hosts:
        # Every address must pass: a name that also resolves to an internal address is refused outright.
        blocked = [address for address in addresses if not address_allowed(address)]
        if blocked:
            raise DestinationRejectedError(
                f"callback host {host!r} resolves to a non-public address", details={"url": url, "address": blocked[0]}
            )
    return Destination(url=url, scheme=scheme, host=host, port=port, address=addresses[0], path=path)


def callback_url_pattern(settings: Settings) -> tuple[str, str]:
    """What :func:`check_callback_url` accepts, as a JSON Schema pattern and in words, for the OpenAPI document.

    The pattern leaves out literal addresses, private or not (a public one is accepted, as the words say), so a
    client generating URLs from the document never sends one intake refuses.
    """
    schemes = "[Hh][Tt][Tt][Pp][Ss]?" if settings.callback_allow_http else "[Hh][Tt][Tt][Pp][Ss]"
    end = r"(?:[:/?#]|$)"
    refused = (
        r"[^/?#]*@"  # credentials
        r"|\["  # IPv6 literal
        r"|[0-9.]+" + end +  # IPv4 literal
        r"|(?:[^/?#:]*\.)?(?:localhost|invalid)\.?" + end +  # RFC 6761 names
        r"|[^/?#]*:(?:[0-9]{6,}|6553[6-9]|655[4-9][0-9]|65[6-9][0-9]{2}|6[6-9][0-9]{3}|[7-9][0-9]{4})" + end  # port
    )
    allowed = "|".join(re.escape(host) for host in settings.callback_allowed_hosts)
    host_rule = f"(?:(?=(?:{allowed}){end})|(?!{refused}))" if allowed else f"(?!{refused})"
    words = ("Callbacks go to " + ("http:// or https://" if settings.callback_allow_http else "https://") +
             " URLs without credentials; a literal address must be public (no loopback, private, link-local, metadata"
             " or IPv4-mapped address), and localhost and .invalid names are refused"
             + (f", except {', '.join(settings.callback_allowed_hosts)}" if allowed else "") +
             ". The host's addresses are checked again when each callback is sent.")
    return f"^{schemes}://{host_rule}", words
