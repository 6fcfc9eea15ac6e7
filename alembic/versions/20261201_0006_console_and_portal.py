"""operator console and partner portal: browser sessions, portal links, partner API tokens

- ``web_sessions``: signed-in browsers of the console (an admin user) and of the portal (one partner);
  only the SHA-256 of the cookie's token is stored.
- ``portal_links``: short-lived, single-use links into the portal (SHA-256 of the token).
- ``partner_api_tokens``: the partners' bearer tokens for ``GET /partner/v1/events`` (SHA-256).
- ``ix_delivery_attempts_started_at``: partner health and deliveries per minute read recent attempts.
"""

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"


def _uuid(name: str, *, nullable: bool) -> sa.Column[Any]:
    return sa.Column(name, postgresql.UUID(as_uuid=True), nullable=nullable)


def _moment(name: str, *, nullable: bool = True) -> sa.Column[Any]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _created_at() -> sa.Column[Any]:
    return sa.Column(
        "created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
    )


def _cascade(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    """``<table>.<column>`` references ``<target>.id``; the row goes with its owner."""
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=f"fk_{table}_{column}_{target}", ondelete="CASCADE"
    )


def _token_table(name: str, *items: Any) -> None:
    """A table of hashed bearer tokens: an id, its partner, the token's SHA-256, when it was made."""
    op.create_table(
        name,
        sa.Column(
            "id", postgresql.UUID(as_uuid=True), server_default=sa.text("gen_random_uuid()"), nullable=False
        ),
        _uuid("partner_id", nullable=False),
        *items,
        _cascade(name, "partner_id", "partners"),
        sa.PrimaryKeyConstraint("id", name=f"pk_{name}"),
        sa.UniqueConstraint("token_hash", name=f"uq_{name}_token_hash"),
    )
    op.create_index(f"ix_{name}_partner_id_created_at", name, ["partner_id", "created_at"])


def upgrade() -> None:
    _token_table(
        "portal_links",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("issued_by", sa.String(length=320), nullable=False),
        _created_at(),
        _moment("expires_at", nullable=False),
        _moment("used_at"),
        _moment("revoked_at"),
    )
    op.create_table(
        "web_sessions",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        _uuid("user_id", nullable=True),
        _uuid("partner_id", nullable=True),
        _uuid("portal_link_id", nullable=True),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        _created_at(),
        _moment("expires_at", nullable=False),
        _moment("revoked_at"),
        sa.CheckConstraint("kind IN ('console', 'portal')", name="kind"),
        sa.CheckConstraint(
            "(kind = 'console' AND user_id IS NOT NULL AND partner_id IS NULL)"
            " OR (kind = 'portal' AND partner_id IS NOT NULL AND user_id IS NULL)",
            name="owner",
        ),
        _cascade("web_sessions", "user_id", "users"),
        _cascade("web_sessions", "partner_id", "partners"),
        _cascade("web_sessions", "portal_link_id", "portal_links"),
        sa.PrimaryKeyConstraint("token_hash", name="pk_web_sessions"),
    )
    op.create_index("ix_web_sessions_expires_at", "web_sessions", ["expires_at"])
    op.create_index("ix_web_sessions_partner_id", "web_sessions", ["partner_id"])
    _token_table(
        "partner_api_tokens",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        _created_at(),
        _moment("last_used_at"),
        _moment("revoked_at"),
        sa.CheckConstraint("length(name) BETWEEN 1 AND 100", name="name_length"),
    )
    op.create_index("ix_delivery_attempts_started_at", "delivery_attempts", ["started_at"])


def downgrade() -> None:
    op.drop_index("ix_delivery_attempts_started_at", table_name="delivery_attempts")
    op.drop_table("partner_api_tokens")
    op.drop_table("web_sessions")
    op.drop_table("portal_links")
