"""partners.payer_details: whether a partner's webhooks carry the payer's email and name

Off for every existing partner: webhooks become the minimal public payload unless an operator turns
the payer's details on for a partner (``paygate partners payer-details ID on``).
"""

import sqlalchemy as sa

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"


def upgrade() -> None:
    op.add_column(
        "partners", sa.Column("payer_details", sa.Boolean(), server_default=sa.text("false"), nullable=False)
    )


def downgrade() -> None:
    op.drop_column("partners", "payer_details")
