"""Payments, refunds and idempotency keys: SQLAlchemy Core statements on an ``AsyncConnection``
(callers own the transaction), and the one raw asyncpg statement of the create hot path. payment_ms
reads and writes rows, not ORM objects: an ORM unit of work, and even the Core create (BEGIN, four
statements, COMMIT), cost several times the single statement that now replaces it (BENCHMARKS.md,
"checkout")."""

from __future__ import annotations

from payment_ms.payments.repositories.keys import (
    attach_payment_to_key,
    complete_key,
    delete_expired_keys,
    delete_in_flight_key,
    find_key,
    idempotency_keys,
    insert_key,
    take_over_key,
)
from payment_ms.payments.repositories.lifecycle import (
    add_refund,
    command_key,
    commands,
    lock_by_reference,
    lock_refund,
    refunds,
    update_refund,
)
from payment_ms.payments.repositories.rows import (
    count_by_status,
    daily_stats,
    delete_payment,
    find_by_session,
    get_payment,
    insert_created_payment,
    insert_payment,
    list_payments,
    live_payment_of,
    lock_payment,
    payments,
    update_payment,
)

__all__ = [
    "add_refund",
    "attach_payment_to_key",
    "command_key",
    "commands",
    "complete_key",
    "count_by_status",
    "daily_stats",
    "delete_expired_keys",
    "delete_in_flight_key",
    "delete_payment",
    "find_by_session",
    "find_key",
    "get_payment",
    "idempotency_keys",
    "insert_created_payment",
    "insert_key",
    "insert_payment",
    "list_payments",
    "live_payment_of",
    "lock_by_reference",
    "lock_payment",
    "lock_refund",
    "payments",
    "refunds",
    "take_over_key",
    "update_payment",
    "update_refund",
]
