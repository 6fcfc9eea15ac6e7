"""Money as a payer reads it: ``¥120,000``, ``€25.00``, ``25,00 €``, in the payer's locale.

A small subset of CLDR (the number symbols and currency pattern of a few locales, the common currency
symbols) rather than a locale library: pages that show one amount need no more. Minor units become major
units through the ISO 4217 exponent with integer arithmetic only, never a float.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.money import CURRENCY_EXPONENTS

NBSP = "\u00a0"
NNBSP = "\u202f"


@dataclass(frozen=True, slots=True)
class LocaleNumbers:
    decimal: str
    group: str
    symbol_first: bool  # ¤ before the number
    space: str  # between symbol and number ("" or a no-break space)


# CLDR's standard currency format of each locale (symbols and pattern), as of CLDR 46.
LOCALES: dict[str, LocaleNumbers] = {
    "en": LocaleNumbers(".", ",", True, ""),
    "ja": LocaleNumbers(".", ",", True, ""),
    "de": LocaleNumbers(",", ".", False, NBSP),
    "fr": LocaleNumbers(",", NNBSP, False, NBSP),
    "es": LocaleNumbers(",", ".", False, NBSP),
    "it": LocaleNumbers(",", ".", False, NBSP),
    "nl": LocaleNumbers(",", ".", True, NBSP),
    "pt": LocaleNumbers(",", ".", True, NBSP),
}
DEFAULT_LOCALE = "en"

# Narrow-enough symbols that are unambiguous to an English reader (CLDR "en"); others show the code.
SYMBOLS: dict[str, str] = {
    "AUD": "A$",
    "BRL": "R$",
    "CAD": "CA$",
    "CNY": "CN¥",
    "EUR": "€",
    "GBP": "£",
    "HKD": "HK$",
    "ILS": "₪",
    "INR": "₹",
    "JPY": "¥",
    "KRW": "₩",
    "MXN": "MX$",
    "NZD": "NZ$",
    "TWD": "NT$",
    "USD": "$",
    "VND": "₫",
}
# Where a locale spells a symbol its own way (CLDR): Japanese uses the full-width yen sign.
LOCAL_SYMBOLS: dict[tuple[str, str], str] = {("ja", "JPY"): "￥", ("ja", "CNY"): "元"}


def negotiate_locale(accept_language: str | None) -> str:
    """The supported locale the ``Accept-Language`` header prefers most (RFC 9110 q-values), else ``en``."""
    ranked: list[tuple[float, int, str]] = []
    for position, item in enumerate((accept_language or "").split(",")[:20]):
        tag, _, params = item.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        language = tag.strip().lower().split("-")[0]
        if quality > 0 and language in LOCALES:
            ranked.append((-quality, position, language))
    return min(ranked)[2] if ranked else DEFAULT_LOCALE


def _grouped(digits: str, separator: str) -> str:
    head = len(digits) % 3 or 3
    parts = [digits[:head]] + [digits[i : i + 3] for i in range(head, len(digits), 3)]
    return separator.join(parts)


def format_money(amount: int, currency: str, locale: str = DEFAULT_LOCALE) -> str:
    """``format_money(120000, "JPY") == "¥120,000"``, ``format_money(2500, "EUR", "de") == "25,00 €"``."""
    numbers = LOCALES.get(locale, LOCALES[DEFAULT_LOCALE])
    exponent = CURRENCY_EXPONENTS[currency]
    major, minor = divmod(abs(amount), 10**exponent)
    number = _grouped(str(major), numbers.group)
    if exponent:
        number += f"{numbers.decimal}{minor:0{exponent}d}"
    symbol = LOCAL_SYMBOLS.get((locale, currency)) or SYMBOLS.get(currency)
    if symbol is None:  # a code reads badly glued to the number
        symbol, space = currency, NBSP
    else:
        space = numbers.space
    sign = "-" if amount < 0 else ""
    return f"{sign}{symbol}{space}{number}" if numbers.symbol_first else f"{sign}{number}{space}{symbol}"
