"""Gateway test fixtures: accounts, reservations and checkouts (tests/fixtures/checkout.py), the stack."""

from __future__ import annotations

from tests.fixtures.checkout import (  # noqa: F401 (fixtures and helpers for this package)
    PASSWORD,
    Account,
    Checkouts,
    MakeAccount,
    MakeReservation,
    checkouts,
    login,
    make_account,
    make_reservation,
)
from tests.gateway.stack import shop, shop_port, stack  # noqa: F401 (fixtures for this package)
