"""The dispatcher's SQL, on raw asyncpg: it is the hot loop. Every statement is one round trip.

``webhook_deliveries.due_at`` doubles as the lease: claiming pushes it to ``now() + lease`` and names
the worker in ``leased_by``; results are written only while the row is still leased to that worker.
"""

from __future__ import annotations

from payment_ms.dispatcher.repositories.deliveries import (
    HELD_UNTIL,
    Connection,
    Record,
    cancel,
    claim_deliveries,
    claim_events,
    hold,
    hold_partner,
    insert_deliveries,
    insert_ordered_deliveries,
    mark_fanned_out,
    postpone_fan_out,
    record_attempts,
    release,
    release_all,
    release_next_in_order,
    release_unblocked,
    resume_partner,
)
from payment_ms.dispatcher.repositories.upkeep import (
    advisory_unlock,
    expired_holds,
    forget_health,
    health_failed,
    held_stats,
    purge_expired,
    queue_stats,
    seconds_until_due,
    stuck_payments,
    try_advisory_lock,
)

__all__ = [
    "HELD_UNTIL",
    "Connection",
    "Record",
    "advisory_unlock",
    "cancel",
    "claim_deliveries",
    "claim_events",
    "expired_holds",
    "forget_health",
    "health_failed",
    "held_stats",
    "hold",
    "hold_partner",
    "insert_deliveries",
    "insert_ordered_deliveries",
    "mark_fanned_out",
    "postpone_fan_out",
    "purge_expired",
    "queue_stats",
    "record_attempts",
    "release",
    "release_all",
    "release_next_in_order",
    "release_unblocked",
    "resume_partner",
    "seconds_until_due",
    "stuck_payments",
    "try_advisory_lock",
]
