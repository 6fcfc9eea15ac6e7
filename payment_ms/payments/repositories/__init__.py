"""Payments, refunds and idempotency keys: SQLAlchemy Core statements on an ``AsyncConnection``
(callers own the transaction), and the one raw asyncpg statement of the create hot path. payment_ms
reads and writes rows, not ORM objects: an ORM unit of work, and even the Core create (BEGIN, four
statements, COMMIT), cost several times the single statement that now replaces it (BENCHMARKS.md,
"checkout")."""

from payment_ms.payments.repositories.keys import *
from payment_ms.payments.repositories.lifecycle import *
from payment_ms.payments.repositories.rows import *
