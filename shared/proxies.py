"""Whom a process believes about the client's address.

The gateway sends the client's address as X-Real-IP; a process believes it only from a peer listed
in its TRUSTED_PROXIES (the gateway's own connection, a load balancer). The one rule for the audit
log, the gateway's login limits and the address the gateway passes on to the services.
"""

from __future__ import annotations

from functools import lru_cache
from ipaddress import ip_address, ip_network


def trusted_proxies(spec: str | None) -> tuple:
    return tuple(ip_network(p.strip(), strict=False) for p in (spec or "").split(",") if p.strip())


def _is_trusted(host: str | None, trusted: tuple) -> bool:
    if not host:
        return False
    try:
        address = ip_address(host)
    except ValueError:
        return False
    return any(address in net for net in trusted)


# Memoised for the peer, a connection's own address: every request asks, a service's peers are the
# gateway's few connections, and parsing the address and testing each network cost a few
# microseconds each time. Not for X-Forwarded-For's hops, which are whatever a client wrote.
@lru_cache(maxsize=4096)
def _peer_trusted(peer: str | None, trusted: tuple) -> bool:
    return _is_trusted(peer, trusted)


def client_address(scope: dict, trusted: tuple) -> str | None:
    """The client's address: the peer's, unless the peer is a trusted proxy (the gateway, a load
    balancer), whose X-Real-IP, else the nearest untrusted hop of X-Forwarded-For, is believed."""
    client = scope.get("client")
    peer = client[0] if client else None
    if not _peer_trusted(peer, trusted):
        return peer
    real = forwarded = None
    for k, v in scope.get("headers", ()):
        if k == b"x-real-ip":
            real = v.decode("latin-1").strip()
        elif k == b"x-forwarded-for":
            forwarded = v.decode("latin-1")
    if real:
        return real[:64]
    if forwarded:
        for hop in reversed([h.strip() for h in forwarded.split(",")]):
            if hop and not _is_trusted(hop, trusted):
                return hop[:64]
    return peer


def request_client(scope: dict) -> str | None:
    """The client's address as this process believes it, under its TRUSTED_PROXIES: the one rule for
    the audit log, the gateway's login limits and the address it passes on to the services."""
    return client_address(scope, scope["app"].state.trusted_proxies)
