"""ISO 4217: which codes are money, and how many minor units each has (JPY 0, EUR 2, KWD 3).

Codes without a minor unit (gold, SDRs, test codes: XAU, XDR, XTS…) are not payable currencies.
"""

from __future__ import annotations

from iso4217 import Currency

from shared.problems import InvalidInputError

CURRENCY_EXPONENTS: dict[str, int] = {
    currency.code: currency.exponent for currency in Currency if currency.exponent is not None
}


def is_known_currency(code: str) -> bool:
    return code in CURRENCY_EXPONENTS


def check_amount(amount: int, maximum: int) -> None:
    """Both services refuse amounts above ``PAYGATE_MAX_AMOUNT`` the same way (422, field ``amount``)."""
    if amount > maximum:
        raise InvalidInputError(
            f"amount exceeds the maximum of {maximum} minor units", extra={"field": "amount"}
        )


def format_minor_units(amount: int, currency: str) -> str:
    """``format_minor_units(2500, "EUR") == "25.00 EUR"``: display only, exact (no floats)."""
    exponent = CURRENCY_EXPONENTS[currency]
    if exponent == 0:
        return f"{amount} {currency}"
    sign = "-" if amount < 0 else ""
    major, minor = divmod(abs(amount), 10**exponent)
    return f"{sign}{major}.{minor:0{exponent}d} {currency}"
