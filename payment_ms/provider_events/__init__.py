"""The one intake of provider events: Stripe's webhooks and the mock provider's own events."""
