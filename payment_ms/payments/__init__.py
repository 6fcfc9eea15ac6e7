"""Payments: the API, the state machine, idempotency."""
