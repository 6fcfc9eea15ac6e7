"""``return_url``/``cancel_url`` must be on an allowed origin: the checkout page redirects the payer
there, so anything else would make paygate an open redirector."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from shared.destinations import PORT_PATTERN, any_case
from shared.problems import InvalidInputError

_DEFAULT_PORTS = {"http": 80, "https": 443}
_DEV_HOSTS = frozenset({"localhost", "127.0.0.1"})


def _origin(url: str) -> tuple[str, str, int] | None:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    host = (parts.hostname or "").lower()
    if parts.scheme not in _DEFAULT_PORTS or not host or parts.username or parts.password:
        return None
    return parts.scheme, host, port or _DEFAULT_PORTS[parts.scheme]


def check_redirect_url(field: str, url: str, *, allowed_origins: list[str], allow_dev_hosts: bool) -> None:
    origin = _origin(url)
    if origin is None:
        raise InvalidInputError(f"{field} must be an absolute http(s) URL")
    if allow_dev_hosts and origin[0] == "http" and origin[1] in _DEV_HOSTS:
        return
    if origin in _origins(tuple(allowed_origins)):
        return
    raise InvalidInputError(f"{field} is not on an allowed origin")


@functools.lru_cache(maxsize=8)
def _origins(allowed: tuple[str, ...]) -> frozenset[tuple[str, str, int]]:
    """The configured origins, parsed once (they are checked twice on every checkout)."""
    return frozenset(origin for url in allowed if (origin := _origin(url)) is not None)


# --- the same rule as the document's pattern on return_url/cancel_url (what it allows is accepted)

_REST = r"([/?#][^\x00-\x20\x7f]*)?(?![\s\S])"


def redirect_url_pattern(allowed_origins: list[str], *, allow_dev_hosts: bool) -> str:
    """A regular expression matching exactly the URLs ``check_redirect_url`` accepts."""
    branches = []
    for allowed in allowed_origins:
        origin = _origin(allowed)
        if origin is None:
            continue
        scheme, host, port = origin
        port_part = f"(:{port})?" if port == _DEFAULT_PORTS[scheme] else f":{port}"
        branches.append(f"{any_case(scheme)}://{any_case(host)}{port_part}")
    if allow_dev_hosts:
        hosts = "|".join(any_case(host) for host in sorted(_DEV_HOSTS))
        branches.append(f"{any_case('http')}://({hosts})(:{PORT_PATTERN})?")
    if not branches:
        return "^(?!)"  # no origin is allowed: no URL is
    return "^(" + "|".join(branches) + ")" + _REST


def redirect_urls_documented(
    allowed_origins: list[str], *, allow_dev_hosts: bool
) -> Callable[[dict[str, Any]], None]:
    """An OpenAPI finalizer: ``CheckoutRequest``'s URLs carry the allowed origins as their pattern."""
    pattern = redirect_url_pattern(allowed_origins, allow_dev_hosts=allow_dev_hosts)
    origins = ", ".join(allowed_origins) or "none configured"
    dev = "; in dev/test also http://localhost and http://127.0.0.1 on any port" if allow_dev_hosts else ""

    base = next((o.rstrip("/") for o in allowed_origins if _origin(o)), None)
    if base is None and allow_dev_hosts:
        base = "http://127.0.0.1:5173"

    def finalize(document: dict[str, Any]) -> None:
        schema = document.get("components", {}).get("schemas", {}).get("CheckoutRequest", {})
        for field, path in (("return_url", "/paid"), ("cancel_url", "/cancelled")):
            prop = schema.get("properties", {}).get(field)
            if prop is not None:
                prop["pattern"] = pattern
                if base is not None:
                    prop["example"] = base + path
                prop["description"] = (
                    "Absolute http(s) URL on an allowed origin "
                    f"(GATEWAY_ALLOWED_REDIRECT_ORIGINS: {origins}{dev})"
                )

    return finalize
