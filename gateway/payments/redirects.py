"""``return_url``/``cancel_url`` must be on an allowed origin: the checkout page redirects the payer
there, so anything else would make paygate an open redirector."""

from __future__ import annotations

import functools
from urllib.parse import urlsplit

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
