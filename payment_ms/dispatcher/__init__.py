"""The webhook dispatcher: outbox events → signed, retried deliveries to partners.

Run it with ``python -m payment_ms.dispatcher``; operators replay with the functions exported here.
"""

from payment_ms.dispatcher.replay import replay_delivery, replay_partner_deliveries

__all__ = ["replay_delivery", "replay_partner_deliveries"]
