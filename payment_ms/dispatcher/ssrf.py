"""Where the dispatcher may send: https to public addresses, unless the operator allow-lists a host.

The address is checked after resolution (``GuardedResolver``), so a partner cannot point a public name
at an internal address; literal IPs in URLs never reach a resolver and are checked by ``check_url``.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver
from yarl import URL

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class BlockedDestinationError(OSError):
    """Raised for a destination the policy forbids (an ``OSError``, so aiohttp reports a connect error)."""


def _ip(value: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(value.split("%", 1)[0].strip("[]"))
    except ValueError:
        return None


_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052 well-known prefix: the last 32 bits are IPv4
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")  # RFC 8215 local-use: never a public destination
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")  # deprecated ::a.b.c.d (:: and ::1 stay IPv6)


def _unmapped(address: IPAddress) -> IPAddress:
    """The IPv4 address an IPv6 address carries and reaches (mapped, NAT64, 6to4, IPv4-compatible).

    Python calls ``64:ff9b::10.0.0.1`` or ``2002:0a00:0001::`` global, yet a NAT64 gateway or 6to4
    relay delivers to the private IPv4 address inside, so that is the address that is judged.
    """
    if not isinstance(address, ipaddress.IPv6Address):
        return address
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFF_FFFF)
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _IPV4_COMPATIBLE and int(address) > 1:
        return ipaddress.IPv4Address(int(address) & 0xFFFF_FFFF)
    return address


class UrlPolicy:
    def __init__(self, allowed_hosts: Iterable[str], *, allow_loopback: bool) -> None:
        self.allow_loopback = allow_loopback
        self.hostnames: set[str] = set()
        self.networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        for entry in allowed_hosts:
            try:
                self.networks.append(ipaddress.ip_network(entry.strip(), strict=False))
            except ValueError:
                self.hostnames.add(entry.strip().lower().rstrip("."))

    def host_allowed(self, host: str) -> bool:
        address = _ip(host)
        if address is not None:
            return any(_unmapped(address) in net for net in self.networks)
        return host.lower().rstrip(".") in self.hostnames

    def _loopback_host(self, host: str) -> bool:
        address = _ip(host)
        return host.lower() == "localhost" if address is None else _unmapped(address).is_loopback

    def check_url(self, url: URL) -> None:
        host = url.host or ""
        if not host or url.scheme not in ("http", "https"):
            raise BlockedDestinationError("only http(s) URLs with a host are allowed")
        if self.host_allowed(host):
            return
        if url.scheme == "http" and not (self.allow_loopback and self._loopback_host(host)):
            raise BlockedDestinationError("https is required")
        address = _ip(host)
        if address is not None:
            self.check_address(host, str(address))

    def check_address(self, host: str, address: str) -> None:
        if self.host_allowed(host):
            return
        ip = _ip(address)
        if ip is None:
            raise BlockedDestinationError("unparseable address")
        ip = _unmapped(ip)
        if any(ip in net for net in self.networks):
            return
        if ip.is_loopback and self.allow_loopback:
            return
        if not ip.is_global or ip in _NAT64_LOCAL:
            raise BlockedDestinationError(f"{host} resolves to a non-public address")


class GuardedResolver(AbstractResolver):
    """Resolves with aiohttp's default resolver and drops every address the policy forbids."""

    def __init__(self, policy: UrlPolicy, inner: AbstractResolver | None = None) -> None:
        self.policy = policy
        self.inner = inner or DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self.inner.resolve(host, port, family)
        allowed = []
        last_error: BlockedDestinationError | None = None
        for result in results:
            try:
                self.policy.check_address(host, result["host"])
            except BlockedDestinationError as exc:
                last_error = exc
                continue
            allowed.append(result)
        if not allowed:
            raise last_error or BlockedDestinationError(f"{host} did not resolve")
        return allowed

    async def close(self) -> None:
        await self.inner.close()
