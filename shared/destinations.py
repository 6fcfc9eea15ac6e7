"""Which network destinations a partner URL may name: one judgement for the gateway's registration check and
the dispatcher's delivery-time check.

Host names are canonicalised the way a WHATWG URL parser (browsers, many HTTP libraries) would read them,
and the forms that parsers disagree on are refused: a host that ends in a number is an IPv4 address to a
browser (``127.1``, ``0177.0.0.1``, ``0x7f.0.0.1``, ``127.0.0.1.`` all mean loopback there), so only the
canonical dotted quad is accepted; percent-encoded hosts are refused.
"""

from __future__ import annotations

import functools
import ipaddress
import re

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052 well-known prefix: the last 32 bits are IPv4
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")  # RFC 8215 local-use: never a public destination
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")  # deprecated ::a.b.c.d (:: and ::1 stay IPv6)
# RFC 2765 IPv4-translated addresses (SIIT) reach an IPv4 host through a translator; Python calls them global.
_IPV4_TRANSLATED = ipaddress.ip_network("::ffff:0:0:0/96")

_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")
_NUMERIC_LABEL = re.compile(r"^(0[xX][0-9a-fA-F]*|[0-9]+)$")


class NonCanonicalHostError(ValueError):
    """A host a URL parser could read as something other than what it looks like."""


def parse_ip(value: str) -> IPAddress | None:
    """A literal address (``[::1]`` brackets and ``%zone`` ignored), else None."""
    try:
        return ipaddress.ip_address(value.split("%", 1)[0].strip("[]"))
    except ValueError:
        return None


@functools.lru_cache(maxsize=4096)
def canonical_host(host: str) -> str:
    """The canonical spelling of a URL's host (lower-case, IDNA, compressed IPv6); raises when ambiguous.
    Cached: the dispatcher checks every delivery's host (4 % of its CPU in ``ipaddress``, issue 16)."""
    if not host or "%" in host or any(c.isspace() or ord(c) < 0x21 for c in host):
        raise NonCanonicalHostError("the host must not be percent-encoded or contain spaces")
    if ":" in host:
        try:
            return ipaddress.IPv6Address(host.strip("[]")).compressed
        except ValueError:
            raise NonCanonicalHostError("the host is not a valid IPv6 address") from None
    labels = host.split(".")
    if _NUMERIC_LABEL.match(labels[-1]) or (
        len(labels) > 1 and labels[-1] == "" and _NUMERIC_LABEL.match(labels[-2])
    ):
        try:
            address = ipaddress.IPv4Address(host)
        except ValueError:
            raise NonCanonicalHostError(
                "a numeric host must be a dotted-quad IPv4 address (e.g. 192.0.2.1)"
            ) from None
        if str(address) != host:
            raise NonCanonicalHostError("a numeric host must be a dotted-quad IPv4 address (e.g. 192.0.2.1)")
        return host
    name = host[:-1] if host.endswith(".") else host
    try:
        ascii_name = name.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise NonCanonicalHostError("the host name is not a valid (IDNA) name") from None
    if len(ascii_name) > 253 or not all(_LABEL.match(label) for label in ascii_name.split(".")):
        raise NonCanonicalHostError("the host name is not a valid DNS name")
    return ascii_name


def reached_address(address: IPAddress) -> IPAddress:
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


def is_public_address(address: IPAddress) -> bool:
    """A unicast, globally routed destination (what it reaches, for IPv6 forms that carry IPv4)."""
    if isinstance(address, ipaddress.IPv6Address) and (
        address in _IPV4_TRANSLATED or address in _NAT64_LOCAL
    ):
        return False
    reached = reached_address(address)
    return reached.is_global and not reached.is_multicast


# --- pieces of the regular expressions the documents give URLs (ECMA-262 and Python ``re`` alike)

PORT_PATTERN = r"(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[0-9]{1,4})"


def any_case(text: str) -> str:
    """``text`` as a case-insensitive regular expression (schemes and host names are)."""
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else re.escape(c) for c in text)
