"""Stripe's webhooks: the same state changes as verify, for payers who never come back."""
