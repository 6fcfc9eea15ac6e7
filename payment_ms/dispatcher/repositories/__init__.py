"""The dispatcher's SQL, on raw asyncpg: it is the hot loop. Every statement is one round trip.

``webhook_deliveries.due_at`` doubles as the lease: claiming pushes it to ``now() + lease`` and names
the worker in ``leased_by``; results are written only while the row is still leased to that worker.
"""

from payment_ms.dispatcher.repositories.deliveries import *
from payment_ms.dispatcher.repositories.upkeep import *
