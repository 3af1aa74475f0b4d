"""Client IP allow-list: CIDRs from configuration, the client address taken past a configured number of proxies."""

from __future__ import annotations

import functools
import ipaddress

from smvm.errors import ConfigurationError

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@functools.lru_cache(maxsize=8)
def parse_networks(cidrs: tuple[str, ...]) -> tuple[Network, ...]:
    """:raises ConfigurationError: on an entry of ``SMVM_ALLOWED_CLIENT_CIDRS`` that is not a CIDR or address."""
    try:
        return tuple(ipaddress.ip_network(cidr, strict=False) for cidr in cidrs)
    except ValueError as exc:
        raise ConfigurationError(f"SMVM_ALLOWED_CLIENT_CIDRS: {exc}") from None


def client_address(remote_addr: str | None, forwarded_for: str | None, trusted_proxies: int) -> str | None:
    """The caller's address.

    Each trusted proxy appends the address it received from, so with N trusted proxies the client is the N-th entry
    from the right of ``X-Forwarded-For``; anything further left was written by the client and can be forged.
    Fewer entries than trusted proxies means the request bypassed a proxy: use the socket address.
    """
    if trusted_proxies <= 0 or not forwarded_for:
        return remote_addr
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    if len(hops) < trusted_proxies:
        return remote_addr
    return hops[-trusted_proxies]


def is_allowed(address: str | None, cidrs: tuple[str, ...]) -> bool:
    """Everyone when no CIDR is configured; otherwise only addresses inside one (an unparsable address is refused)."""
    if not cidrs:
        return True
    try:
        ip = ipaddress.ip_address((address or "").strip())
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in network for network in parse_networks(cidrs))
