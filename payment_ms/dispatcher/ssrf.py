"""Where the dispatcher may send: https to public addresses, unless the operator allow-lists a host.

Multicast, the IPv4-translated range and every other non-public destination are refused
(``shared.destinations``, the judgement the gateway's registry also applies). The address is checked after
resolution (``GuardedResolver``), so a partner cannot point a public name
at an internal address; literal IPs in URLs never reach a resolver and are checked by ``check_url``.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver
from yarl import URL

from shared.destinations import (
    NonCanonicalHostError,
    canonical_host,
    is_public_address,
    parse_ip,
    reached_address,
)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class BlockedDestinationError(OSError):
    """Raised for a destination the policy forbids (an ``OSError``, so aiohttp reports a connect error)."""


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
        address = parse_ip(host)
        if address is not None:
            return any(reached_address(address) in net for net in self.networks)
        return host.lower().rstrip(".") in self.hostnames

    def _loopback_host(self, host: str) -> bool:
        address = parse_ip(host)
        return host.lower() == "localhost" if address is None else reached_address(address).is_loopback

    def check_url(self, url: URL) -> None:
        host = url.host or ""
        if not host or url.scheme not in ("http", "https"):
            raise BlockedDestinationError("only http(s) URLs with a host are allowed")
        try:
            canonical_host(host)
        except NonCanonicalHostError as exc:  # a row registered before the registry refused these
            raise BlockedDestinationError(str(exc)) from None
        if self.host_allowed(host):
            return
        if url.scheme == "http" and not (self.allow_loopback and self._loopback_host(host)):
            raise BlockedDestinationError("https is required")
        address = parse_ip(host)
        if address is not None:
            self.check_address(host, str(address))

    def check_address(self, host: str, address: str) -> None:
        if self.host_allowed(host):
            return
        ip = parse_ip(address)
        if ip is None:
            raise BlockedDestinationError("unparseable address")
        reached = reached_address(ip)
        if any(reached in net for net in self.networks):
            return
        if reached.is_loopback and self.allow_loopback:
            return
        if not is_public_address(ip):
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
