"""What every table shares: the naming convention, the vocabularies the check constraints hold
columns to, and the declarative base."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    MetaData,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

USER_ROLES = ("user", "admin")
RESERVATION_STATUSES = ("payable", "pending", "paid", "refunded")
PAYMENT_STATUSES = (
    "pending",
    "processing",
    "authorized",
    "succeeded",
    "failed",
    "canceled",
    "partially_refunded",
    "refunded",
)
# A reservation has at most one payment in these at a time (``uq_payments_live_reservation_id``).
LIVE_PAYMENT_STATUSES = ("pending", "processing", "authorized")
PAYMENT_PROVIDERS = ("mock", "stripe", "cash")
CAPTURE_METHODS = ("automatic", "manual")
PAYMENT_COMMANDS = ("capture", "refund", "cancel")
WEB_SESSION_KINDS = ("console", "portal")
DELIVERY_STATUSES = ("pending", "succeeded", "failed", "canceled")
# Why a pending delivery is not due: an earlier event of its payment to an ordered partner is not
# finished yet, or its partner is disabled (re-enabling resumes it).
DELIVERY_HOLDS = ("ordering", "disabled")
OPERATIONAL_EVENT_TYPES = ("endpoint.disabled", "endpoint.enabled", "endpoint.secret_rotated")
IDEMPOTENCY_STATES = ("in_flight", "completed")


def _in(column: str, values: tuple[str, ...]) -> str:
    quoted = ", ".join(f"'{v}'" for v in values)
    return f"{column} IN ({quoted})"


def _array(values: tuple[str, ...]) -> str:
    quoted = ", ".join(f"'{v}'" for v in values)
    return f"ARRAY[{quoted}]::varchar[]"


CURRENCY_CHECK = "currency ~ '^[A-Z]{3}$'"


def _amount_checks(statuses: tuple[str, ...]) -> tuple[CheckConstraint, ...]:
    """What a row holding money owed has to satisfy (reservations, payments): an amount above zero in
    minor units, an ISO 4217 currency code, a status among ``statuses``."""
    return (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint(CURRENCY_CHECK, name="currency"),
        CheckConstraint(_in("status", statuses), name="status"),
    )


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        dict[str, Any]: JSONB,
        datetime: DateTime(timezone=True),
        uuid.UUID: UUID(as_uuid=True),
    }


def _uuid_pk() -> Mapped[uuid.UUID]:
    return mapped_column(primary_key=True, default=uuid.uuid4, server_default=text("gen_random_uuid()"))


def _created_at() -> Mapped[datetime]:
    return mapped_column(server_default=func.now())


# The dispatcher's queue tables are vacuumed after 1 % of their rows changed (revision 0013).
QUEUE_AUTOVACUUM = {
    "autovacuum_vacuum_scale_factor": "0.01",
    "autovacuum_vacuum_threshold": "1000",
    "autovacuum_analyze_scale_factor": "0.02",
}
