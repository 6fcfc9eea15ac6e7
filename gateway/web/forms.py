"""Reading the console's form fields: amounts typed in major units, times, ids (a bad value is a 422)."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any

from shared.money import CURRENCY_EXPONENTS
from shared.problems import InvalidInputError

_AMOUNT = re.compile(r"^(\d{1,15})(?:[.,](\d+))?$")


def parse_amount(text: str, currency: str) -> int:
    """``"12.50"`` EUR is 1250 minor units, ``"120000"`` JPY is 120000: exact, never a float."""
    exponent = CURRENCY_EXPONENTS.get(currency, 2)
    match = _AMOUNT.match(text.strip().replace(" ", ""))
    if match is None:
        raise InvalidInputError(f"{text!r} is not an amount in {currency}.")
    major, minor = match.group(1), match.group(2) or ""
    if len(minor) > exponent:
        raise InvalidInputError(f"{currency} has {exponent} decimals.")
    amount = int(major) * 10**exponent + int(minor.ljust(exponent, "0") or 0)
    if amount <= 0:
        raise InvalidInputError("The amount must be more than zero.")
    return amount


def parse_time(text: str | None) -> datetime | None:
    """A ``datetime-local`` field (read as UTC) or an ISO 8601 time; empty is None."""
    if not text or not text.strip():
        return None
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInputError(f"{text!r} is not a date and time.") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def parse_uuid(text: str | None, what: str) -> uuid.UUID | None:
    if not text or not text.strip():
        return None
    try:
        return uuid.UUID(text.strip())
    except ValueError:
        raise InvalidInputError(f"{what} must be an id (a UUID).") from None


def one_of(value: str | None, allowed: tuple[str, ...], what: str) -> Any:
    """A select's value: empty is "any", anything else must be one of ``allowed``."""
    if not value:
        return None
    if value not in allowed:
        raise InvalidInputError(f"No such {what}: {value}.")
    return value
