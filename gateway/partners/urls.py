"""Which partner URLs the registry accepts. The dispatcher re-checks the addresses a name resolves
to at delivery time; this is the early, friendly refusal of what can never be right."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from shared.problems import InvalidInputError


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def is_loopback_host(host: str) -> bool:
    address = _ip(host)
    return host == "localhost" or host.endswith(".localhost") or (address is not None and address.is_loopback)


def validate_partner_url(url: str, *, allowed_hosts: list[str], allow_loopback: bool) -> str:
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        _ = parts.port  # raises on a malformed port
    except ValueError:
        raise InvalidInputError("url is not a valid URL") from None
    if parts.scheme not in ("https", "http") or not host:
        raise InvalidInputError("url must be an absolute https URL")
    if parts.username or parts.password:
        raise InvalidInputError("url must not carry credentials")
    if parts.fragment:
        raise InvalidInputError("url must not have a fragment")
    if host in {h.lower() for h in allowed_hosts}:
        return url
    if allow_loopback and is_loopback_host(host):
        return url
    if parts.scheme != "https":
        raise InvalidInputError("url must use https")
    address = _ip(host)
    if (
        is_loopback_host(host)
        or (address is not None and not address.is_global)
        or (address is None and "." not in host)
    ):
        raise InvalidInputError("url must point at a public host")
    return url
