"""The documents' patterns against the server's own checks, on the edges a fuzzer rarely draws: what a
pattern allows, the check accepts; what the check refuses, the pattern forbids."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

import pytest

from gateway.partners.urls import partner_url_pattern, validate_partner_url
from gateway.payments.redirects import check_redirect_url, redirect_url_pattern
from shared.contracts.types import CURRENCY_PATTERN, HTTP_URL_PATTERN, WEBHOOK_SECRET_PATTERN
from shared.money import is_known_currency
from shared.pagination import CURSOR_PATTERN, decode_cursor, encode_cursor
from shared.problems import BadRequestError, InvalidInputError
from shared.webhooks import generate_secret, secret_key


def _accepted(check: object, *args: object, **kwargs: object) -> bool:
    try:
        check(*args, **kwargs)  # type: ignore[operator]
    except InvalidInputError:
        return False
    return True


def _well_formed(url: str) -> bool:
    """The body's own ``Url`` type (no whitespace or controls), checked before the rules."""
    return re.search(HTTP_URL_PATTERN, url) is not None


def test_every_cursor_of_the_documented_shape_is_a_position() -> None:
    moment, row = datetime(2026, 11, 22, 10, 0, 0, 123456, tzinfo=UTC), uuid.uuid4()
    cursor = encode_cursor(moment, row)
    assert re.fullmatch(CURSOR_PATTERN, cursor) and decode_cursor(cursor) == (moment, row)
    for edge in ("A" * 32, "_" * 32, "-" * 32, "z" * 32, "0" * 32):
        assert re.fullmatch(CURSOR_PATTERN, edge)
        decode_cursor(edge)  # beyond the calendar: its first or last moment, never an error
    assert decode_cursor("") is None and decode_cursor(None) is None
    for bad in ("0" * 31, "0" * 33, "not-a-cursor", "=" * 32):
        assert not re.fullmatch(CURSOR_PATTERN, bad)
        with pytest.raises(BadRequestError):
            decode_cursor(bad)


@pytest.mark.parametrize("loopback", [False, True])
def test_the_partner_url_pattern_allows_only_what_the_registry_accepts(loopback: bool) -> None:
    pattern = re.compile(partner_url_pattern(allowed_hosts=["hooks.internal"], allow_loopback=loopback))
    urls = [
        "https://hooks.acme.example/paygate",
        "HTTPS://Hooks.Acme.Example:8443/p?q=1",
        "https://a.b.c.example",
        "https://_x.example",
        "http://hooks.acme.example/",  # http only to allowed or loopback hosts
        "http://hooks.internal/in",
        "https://x.localhost/",
        "http://127.0.0.1:9999/hook",
        "https://[::1]/hook",
        "https://hooks.example#frag",
        "https://user@hooks.example/",
        "https://example/",  # no dot: not a public name
        "https://hooks.127/",  # numeric last label: an IPv4 address to a browser
        "https://0x7f.0.0.1/",
        "https://hooks.example:65536/",
        "https://hooks.example/\n",
        "https://-bad.example/",
        "ftp://hooks.example/",
    ]
    for url in urls:
        accepted = _well_formed(url) and _accepted(
            validate_partner_url, url, allowed_hosts=["hooks.internal"], allow_loopback=loopback
        )
        if pattern.match(url):  # what the document allows, the registry accepts
            assert accepted, url
    for url in (
        "https://hooks.acme.example/paygate",
        "HTTPS://Hooks.Acme.Example:8443/p?q=1",
        "https://_x.example",
    ):
        assert pattern.match(url), url  # host names are in the pattern (public IP literals are not)
    assert bool(pattern.match("http://127.0.0.1:9999/hook")) is loopback
    assert pattern.match("http://hooks.internal/in")


@pytest.mark.parametrize("dev", [False, True])
def test_the_redirect_url_pattern_is_the_allowed_origins(dev: bool) -> None:
    origins = ["https://shop.example", "http://shop.example:8080"]
    pattern = re.compile(redirect_url_pattern(origins, allow_dev_hosts=dev))
    urls = [
        "https://shop.example/paid",
        "HTTPS://SHOP.EXAMPLE:443/paid?x=1#y",
        "https://shop.example:444/paid",
        "http://shop.example:8080",
        "http://shop.example/paid",
        "https://evil.example/https://shop.example/",
        "https://shop.example.evil.example/",
        "https://user@shop.example/",
        "http://127.0.0.1:5173/paid",
        "http://localhost/paid",
        "https://127.0.0.1/paid",
        "http://127.0.0.1:99999/paid",
        "https://shop.example/\n",
    ]
    for url in urls:
        accepted = _well_formed(url) and _accepted(
            check_redirect_url, "return_url", url, allowed_origins=origins, allow_dev_hosts=dev
        )
        assert bool(pattern.match(url)) is accepted, url
    assert re.compile(redirect_url_pattern([], allow_dev_hosts=False)).match("https://shop.example/") is None


def test_currency_and_secret_patterns_are_the_server_rules() -> None:
    for code in ("EUR", "JPY", "KWD", "XAU", "XTS", "ABC", "eur", "EURO"):
        assert bool(re.search(CURRENCY_PATTERN, code)) is is_known_currency(code), code
    assert re.search(CURRENCY_PATTERN, "EUR\n") is None
    secret = generate_secret()
    assert re.search(WEBHOOK_SECRET_PATTERN, secret) and secret_key(secret)
    for bad in ("whsec_", "whsec_abc", "sk_" + secret[6:], secret + "\n", "whsec_" + "A" * 21):
        assert re.search(WEBHOOK_SECRET_PATTERN, bad) is None, bad
