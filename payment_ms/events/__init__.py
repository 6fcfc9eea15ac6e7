"""The outbox: one ``payment_events`` row per state change, written in the transaction of the change."""
