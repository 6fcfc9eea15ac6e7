"""reservations keep room on each page for their updates (fillfactor 80)

A reservation is updated a few times in its life (checkout claim, its payment, paid). On full pages
every update moved the row and wrote new entries in every index; with free space on the page the
update is HOT (heap-only): measured in the bench's checkout scenario (BENCHMARKS.md). Applies to
pages written from now on; ``VACUUM FULL reservations`` repacks existing ones (it locks the table).
"""

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"


def upgrade() -> None:
    op.execute("ALTER TABLE reservations SET (fillfactor = 80)")


def downgrade() -> None:
    op.execute("ALTER TABLE reservations RESET (fillfactor)")
