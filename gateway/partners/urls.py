"""Which partner URLs the registry accepts, stored with their host canonicalised. The dispatcher re-checks
the addresses a name resolves to at delivery time; this is the early, friendly refusal of what can never be
right (``shared.destinations`` is the one judgement of an address both apply)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from shared.destinations import (
    PORT_PATTERN,
    NonCanonicalHostError,
    any_case,
    canonical_host,
    is_public_address,
    parse_ip,
)
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


# --- the document's pattern for a partner URL: what it allows, ``validate_partner_url`` accepts (a public
# IP literal is accepted too, and left out of the pattern: "public" is no regular expression)

_LABEL_RE = r"[a-zA-Z0-9_]([a-zA-Z0-9_-]{0,61}[a-zA-Z0-9_])?"
_TLD_RE = r"[a-zA-Z_]([a-zA-Z0-9_-]{0,22}[a-zA-Z0-9_])?"  # never numeric (no IPv4 reading), <= 253 in all
_NAME_RE = rf"({_LABEL_RE}\.){{1,3}}{_TLD_RE}"
_OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
_PORT_RE = rf"(:{PORT_PATTERN})?"
_PATH_RE = r"([/?][^\x00-\x20\x7f#]*)?(?![\s\S])"


def partner_url_pattern(*, allowed_hosts: list[str], allow_loopback: bool) -> str:
    """https to a public host name, or http(s) to an allowed host (and, in dev/test, to loopback)."""
    localhost = any_case("localhost")
    not_loopback = rf"(?!({_LABEL_RE}\.)*{localhost}([:/?]|$))"
    branches = [f"{any_case('https')}://{not_loopback}{_NAME_RE}"]
    either = any_case("http") + "[sS]?://"
    named = sorted({h.lower().rstrip(".") for h in allowed_hosts if h})
    if named:
        branches.append(either + "(" + "|".join(any_case(h) for h in named) + ")")
    if allow_loopback:
        loopback = rf"({localhost}|({_LABEL_RE}\.){{1,3}}{localhost}|127(\.{_OCTET}){{3}}|\[::1\])"
        branches.append(either + loopback)
    return "^(" + "|".join(branches) + ")" + _PORT_RE + _PATH_RE


def partner_urls_documented(
    *, allowed_hosts: list[str], allow_loopback: bool
) -> Callable[[dict[str, Any]], None]:
    """An OpenAPI finalizer: the partner schemas' ``url`` carries ``partner_url_pattern``."""
    pattern = partner_url_pattern(allowed_hosts=allowed_hosts, allow_loopback=allow_loopback)

    def finalize(document: dict[str, Any]) -> None:
        schemas = document.get("components", {}).get("schemas", {})
        for name in ("PartnerCreate", "PartnerUpdate"):
            url = schemas.get(name, {}).get("properties", {}).get("url")
            for branch in (url or {}).get("anyOf", [url] if url else []):
                if branch.get("type") == "string":
                    branch["pattern"] = pattern
                    branch["description"] = (
                        "Where events are POSTed: https to a public host name (or a public IP address)"
                        + (", http(s) to GATEWAY_PARTNER_ALLOWED_HOSTS" if named_hosts else "")
                        + (", or in dev/test http(s) to loopback" if allow_loopback else "")
                    )

    named_hosts = bool(allowed_hosts)
    return finalize
