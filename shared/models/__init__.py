"""SQLAlchemy 2 models of the one shared database.

Ownership (each service writes only its own tables, they talk over HTTP):
- gateway: ``users``, ``login_throttles``, ``reservations``, ``partners``, ``operational_events`` (the
  outbox of ``endpoint.*`` events), ``web_sessions``, ``portal_links``, ``partner_api_tokens``
- payment_ms: ``payments``, ``refunds``, ``idempotency_keys``, ``payment_events`` (the outbox),
  ``provider_events``, ``payment_commands``, ``webhook_deliveries``, ``delivery_attempts``,
  ``endpoint_health``

Money is ``BIGINT`` minor units plus an ISO 4217 code; the database enforces it, not only Python.
Columns that point across the ownership line carry no foreign key on purpose: a service must be able to keep
its history when the other side deletes, and neither service's writes may wait on the other's rows. They are:
- ``payments.reservation_id`` and ``payments.user_id`` (payment_ms → the gateway's reservations and users);
- ``reservations.payment_id`` (the gateway → payment_ms's payments);
- ``webhook_deliveries.partner_id`` (payment_ms → the gateway's partners).
Within one service's tables the references are real foreign keys, ``idempotency_keys.payment_id`` included.

Every state column is checked against its vocabulary and every counter and amount against its range, except
values that come from outside (``payments.provider_status`` and ``provider_events.type`` are the provider's
words; ``webhook_deliveries.last_status_code`` and ``delivery_attempts.status_code`` are what a partner's
server answered, whatever that was).

One module per owner (``gateway``, ``payments``, ``deliveries``) over ``base``; import from
``shared.models``.
"""

from shared.contracts import DISPUTE_STATUSES, EVENT_TYPES, REFUND_STATUSES
from shared.models.base import *
from shared.models.deliveries import *
from shared.models.gateway import *
from shared.models.payments import *
