"""Which partner URLs the registry accepts, stored with their host canonicalised. The dispatcher re-checks
the addresses a name resolves to at delivery time; this is the early, friendly refusal of what can never be
right (``shared.destinations`` is the one judgement of an address both apply)."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from shared.destinations import NonCanonicalHostError, canonical_host, is_public_address, parse_ip
from shared.problems import InvalidInputError


def is_loopback_host(host: str) -> bool:
    address = parse_ip(host)
    return host == "localhost" or host.endswith(".localhost") or (address is not None and address.is_loopback)


def validate_partner_url(url: str, *, allowed_hosts: list[str], allow_loopback: bool) -> str:
    """``url`` as it will be stored (canonical host), or InvalidInputError."""
    try:
        parts = urlsplit(url)
        port = parts.port  # raises on a malformed port
    except ValueError:
        raise InvalidInputError("url is not a valid URL") from None
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise InvalidInputError("url must be an absolute https URL")
    if parts.username or parts.password or "@" in parts.netloc:
        raise InvalidInputError("url must not carry credentials")
    if parts.fragment:
        raise InvalidInputError("url must not have a fragment")
    try:
        host = canonical_host(parts.hostname)
    except NonCanonicalHostError as exc:
        raise InvalidInputError(f"url: {exc}") from None
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc += f":{port}"
    url = urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))
    if host in {h.lower().rstrip(".") for h in allowed_hosts}:
        return url
    if allow_loopback and is_loopback_host(host):
        return url
    if parts.scheme != "https":
        raise InvalidInputError("url must use https")
    address = parse_ip(host)
    if (
        is_loopback_host(host)
        or (address is not None and not is_public_address(address))
        or (address is None and "." not in host)
    ):
        raise InvalidInputError("url must point at a public host")
    return url
