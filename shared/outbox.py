"""The outbox: payment events are rows of ``payment_events``, announced on one ``NOTIFY`` channel.

payment_ms writes them (in the transaction of the change); the dispatcher ``LISTEN``s and fans them
out to partners. The channel is named here only."""

from __future__ import annotations

NOTIFY_CHANNEL = "payment_events"
