"""webhooks partners can rely on: rotations, ordering, health, rate limits, retention, operational events

- ``partners.retired_secrets`` (every secret replaced by a rotation, with its own expiry) replaces
  ``previous_secret``/``previous_secret_expires_at``; the previous secret, if any, moves there.
- ``partners.ordered``, ``max_requests_per_second``, ``disabled_at``.
- ``payment_events.sequence`` (1, 2, 3… per payment; existing events numbered by creation), and
  ``purged_at`` with ``data`` nullable (retention).
- ``webhook_deliveries.held`` and ``throttled_count``; ``endpoint_health``; ``operational_events``.
"""

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"


def upgrade() -> None:
    # --- partners
    op.add_column(
        "partners",
        sa.Column(
            "retired_secrets",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
    )
    op.execute(
        """
        UPDATE partners SET retired_secrets = jsonb_build_array(jsonb_build_object(
            'secret', previous_secret,
            'retired_at', to_jsonb(previous_secret_expires_at - interval '24 hours'),
            'expires_at', to_jsonb(previous_secret_expires_at)))
        WHERE previous_secret IS NOT NULL
        """
    )
    op.drop_constraint(op.f("ck_partners_previous_secret_pair"), "partners", type_="check")
    op.drop_column("partners", "previous_secret_expires_at")
    op.drop_column("partners", "previous_secret")
    op.create_check_constraint(
        op.f("ck_partners_retired_secrets_array"), "partners", "jsonb_typeof(retired_secrets) = 'array'"
    )
    op.add_column("partners", sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column(
        "partners", sa.Column("ordered", sa.Boolean(), server_default=sa.text("false"), nullable=False)
    )
    op.add_column("partners", sa.Column("max_requests_per_second", sa.Integer(), nullable=True))
    op.create_check_constraint(
        op.f("ck_partners_max_requests_per_second"),
        "partners",
        "max_requests_per_second IS NULL OR max_requests_per_second > 0",
    )
    op.create_table(
        "operational_events",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("partner_id", sa.UUID(), nullable=False),
        sa.Column("data", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "type IN ('endpoint.disabled', 'endpoint.enabled', 'endpoint.secret_rotated')",
            name=op.f("ck_operational_events_type"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operational_events")),
    )
    op.create_index(
        "ix_operational_events_unprocessed",
        "operational_events",
        ["created_at"],
        postgresql_where=sa.text("processed_at IS NULL"),
    )

    # --- payment_events
    op.add_column("payment_events", sa.Column("sequence", sa.Integer(), nullable=True))
    op.execute(
        """
        UPDATE payment_events e SET sequence = n.rn
        FROM (SELECT id, row_number() OVER (PARTITION BY payment_id ORDER BY created_at, id) AS rn
              FROM payment_events) n
        WHERE n.id = e.id
        """
    )
    op.alter_column("payment_events", "sequence", nullable=False)
    op.create_check_constraint(op.f("ck_payment_events_sequence"), "payment_events", "sequence > 0")
    op.create_unique_constraint(
        "uq_payment_events_payment_id_sequence", "payment_events", ["payment_id", "sequence"]
    )
    op.add_column("payment_events", sa.Column("purged_at", sa.DateTime(timezone=True), nullable=True))
    op.alter_column("payment_events", "data", nullable=True)
    op.create_check_constraint(
        op.f("ck_payment_events_purged_has_no_data"),
        "payment_events",
        "(data IS NULL) = (purged_at IS NOT NULL)",
    )

    # --- webhook_deliveries, endpoint_health
    op.add_column(
        "webhook_deliveries", sa.Column("throttled_count", sa.Integer(), server_default="0", nullable=False)
    )
    op.add_column("webhook_deliveries", sa.Column("held", sa.String(length=16), nullable=True))
    op.create_check_constraint(
        op.f("ck_webhook_deliveries_throttled_count"),
        "webhook_deliveries",
        "throttled_count >= 0 AND throttled_count <= attempt_count",
    )
    op.create_check_constraint(
        op.f("ck_webhook_deliveries_held"),
        "webhook_deliveries",
        "held IS NULL OR held IN ('ordering', 'disabled')",
    )
    op.create_table(
        "endpoint_health",
        sa.Column("partner_id", sa.UUID(), nullable=False),
        sa.Column("consecutive_failures", sa.Integer(), server_default="0", nullable=False),
        sa.Column("failing_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("consecutive_failures >= 0", name=op.f("ck_endpoint_health_consecutive_failures")),
        sa.PrimaryKeyConstraint("partner_id", name=op.f("pk_endpoint_health")),
    )


def downgrade() -> None:
    op.drop_table("endpoint_health")
    op.drop_constraint(op.f("ck_webhook_deliveries_held"), "webhook_deliveries", type_="check")
    op.drop_constraint(op.f("ck_webhook_deliveries_throttled_count"), "webhook_deliveries", type_="check")
    op.drop_column("webhook_deliveries", "held")
    op.drop_column("webhook_deliveries", "throttled_count")

    # Purged payloads cannot come back: those events get an empty object.
    op.drop_constraint(op.f("ck_payment_events_purged_has_no_data"), "payment_events", type_="check")
    op.execute("UPDATE payment_events SET data = '{}'::jsonb WHERE data IS NULL")
    op.alter_column("payment_events", "data", nullable=False)
    op.drop_column("payment_events", "purged_at")
    op.drop_constraint("uq_payment_events_payment_id_sequence", "payment_events", type_="unique")
    op.drop_constraint(op.f("ck_payment_events_sequence"), "payment_events", type_="check")
    op.drop_column("payment_events", "sequence")

    op.drop_index(
        "ix_operational_events_unprocessed",
        table_name="operational_events",
        postgresql_where=sa.text("processed_at IS NULL"),
    )
    op.drop_table("operational_events")
    op.drop_constraint(op.f("ck_partners_max_requests_per_second"), "partners", type_="check")
    op.drop_column("partners", "max_requests_per_second")
    op.drop_column("partners", "ordered")
    op.drop_column("partners", "disabled_at")
    op.drop_constraint(op.f("ck_partners_retired_secrets_array"), "partners", type_="check")
    op.add_column("partners", sa.Column("previous_secret", sa.String(length=200), nullable=True))
    op.add_column(
        "partners", sa.Column("previous_secret_expires_at", sa.DateTime(timezone=True), nullable=True)
    )
    # The newest retired secret that still signs becomes the previous one again.
    op.execute(
        """
        UPDATE partners SET previous_secret = r->>'secret', previous_secret_expires_at = (r->>'expires_at')::timestamptz
        FROM (SELECT p.id, (SELECT s FROM jsonb_array_elements(p.retired_secrets) s
                            ORDER BY (s->>'expires_at')::timestamptz DESC LIMIT 1) AS r
              FROM partners p) n
        WHERE n.id = partners.id AND n.r IS NOT NULL
        """
    )
    op.create_check_constraint(
        op.f("ck_partners_previous_secret_pair"),
        "partners",
        "(previous_secret IS NULL) = (previous_secret_expires_at IS NULL)",
    )
    op.drop_column("partners", "retired_secrets")
