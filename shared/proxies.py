"""The client's address behind trusted reverse proxies (``PAYGATE_TRUSTED_PROXIES``).

Without trusted proxies the client is the socket peer, whatever the request's headers say. When the
peer is a trusted proxy, the client is the right-most hop of ``X-Forwarded-For`` (or RFC 7239
``Forwarded``, per ``PAYGATE_PROXY_HEADER``) that is not itself a trusted proxy: every hop to the right
of it was appended by a proxy the operator trusts, every hop to its left may have been written by the
client. ``ClientAddressMiddleware`` puts that address into the ASGI scope's ``client``, so the login
throttle, the access log and anything else that reads ``request.client`` see the same client.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from typing import Final

from litestar.types import ASGIApp, Receive, Scope, Send

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

X_FORWARDED_FOR: Final = "x-forwarded-for"
FORWARDED: Final = "forwarded"
PROXY_HEADERS = (X_FORWARDED_FOR, FORWARDED)


def parse_networks(values: Iterable[str]) -> tuple[IPNetwork, ...]:
    """CIDRs (``10.0.0.0/8``) or single addresses; raises ``ValueError`` naming a bad entry."""
    networks = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError:
            raise ValueError(f"{value!r} is not an IP address or CIDR (e.g. 10.0.0.0/8)") from None
    return tuple(networks)


def _address(text: str) -> IPAddress | None:
    """One hop as written by a proxy: ``1.2.3.4``, ``1.2.3.4:5678``, ``[2001:db8::1]:80``, ``2001:db8::1``."""
    text = text.strip().strip('"')
    if text.startswith("["):
        text = text[1 : text.find("]")] if "]" in text else ""
    elif text.count(":") == 1:  # IPv4 with a port (an IPv6 address has several colons)
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    mapped = getattr(address, "ipv4_mapped", None)
    return mapped or address


def _forwarded_for(values: Sequence[str]) -> list[str]:
    """The ``for=`` parameter of every element of RFC 7239 ``Forwarded`` headers, in order."""
    hops = []
    for value in values:
        for element in value.split(","):
            for pair in element.split(";"):
                name, _, token = pair.partition("=")
                if name.strip().lower() == "for":
                    hops.append(token)
    return hops


def _hops(headers: Iterable[tuple[bytes, bytes]], header: str) -> list[str]:
    name = header.encode()
    values = [value.decode("latin-1") for key, value in headers if key == name]
    if header == FORWARDED:
        return _forwarded_for(values)
    return [hop for value in values for hop in value.split(",")]


def _trusted(address: IPAddress, networks: Sequence[IPNetwork]) -> bool:
    return any(address.version == network.version and address in network for network in networks)


def client_address(
    peer: str | None,
    headers: Iterable[tuple[bytes, bytes]],
    networks: Sequence[IPNetwork],
    header: str = X_FORWARDED_FOR,
) -> str | None:
    """The client's address: the peer itself unless it is a trusted proxy (see the module docstring).

    A hop that is not an address (``unknown``, an obfuscated RFC 7239 identifier) ends the walk: the
    nearest proxy's peer is the best that is known then."""
    peer_address = _address(peer) if peer else None
    if peer_address is None or not _trusted(peer_address, networks):
        return peer
    nearest = peer_address
    for hop in reversed(_hops(headers, header)):
        address = _address(hop)
        if address is None:
            break
        nearest = address
        if not _trusted(address, networks):
            break
    return str(nearest)


class ClientAddressMiddleware:
    """Pure ASGI: rewrites ``scope["client"]`` to the forwarded client when the peer is trusted."""

    def __init__(self, app: ASGIApp, *, networks: Sequence[IPNetwork], header: str = X_FORWARDED_FOR) -> None:
        self.app = app
        self.networks = tuple(networks)
        self.header = header

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            peer = scope.get("client")
            host = peer[0] if peer else None
            client = client_address(host, scope["headers"], self.networks, self.header)
            if client is not None and client != host:
                scope["client"] = (client, 0)
        await self.app(scope, receive, send)
