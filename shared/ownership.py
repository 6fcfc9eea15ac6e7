"""Which service writes which table: "each service writes only its own tables", as data.

``paygate db roles`` (and ``paygate migrate upgrade``) grant each service's database role exactly this:
read and write on its own tables (and their sequences), read on the tables listed in ``READS`` (none
today: the services share nothing through SQL, they talk over HTTP), nothing on the other's tables.
A table that is in no list is granted to nobody; ``tests/foundation/test_db_roles.py`` fails until it
is placed.
"""

from __future__ import annotations

GATEWAY = "gateway"
PAYMENT_MS = "payment-ms"  # the payment service and its webhook dispatcher

OWNED: dict[str, tuple[str, ...]] = {
    GATEWAY: (
        "users",
        "login_throttles",
        "reservations",
        "partners",
        "web_sessions",
        "portal_links",
        "partner_api_tokens",
        "operational_events",
    ),
    PAYMENT_MS: (
        "payments",
        "refunds",
        "payment_commands",
        "idempotency_keys",
        "payment_events",
        "provider_events",
        "webhook_deliveries",
        "delivery_attempts",
        "endpoint_health",
        "delivery_rollups",
    ),
}
READS: dict[str, tuple[str, ...]] = {GATEWAY: (), PAYMENT_MS: ()}
# Only the migrations (the owner) touch these.
OWNER_ONLY: tuple[str, ...] = ("alembic_version",)


def owner_of(table: str) -> str | None:
    return next((service for service, tables in OWNED.items() if table in tables), None)
