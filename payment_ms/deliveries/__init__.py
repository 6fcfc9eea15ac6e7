"""``/api/events`` and ``/api/deliveries``: what the outbox recorded and what the dispatcher sent."""
