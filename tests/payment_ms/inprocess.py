"""What the in-process payment_ms (``tests/payment_ms/conftest.py``) is configured with, and Stripe's
objects as its API reference shows them, for the tests that mock api.stripe.com with respx."""

from __future__ import annotations

STRIPE = "https://api.stripe.com"
STRIPE_KEY = "sk_test_paygate_0123456789"
WEBHOOK_SECRET_NEW = "whsec_new_c2VjcmV0LW5ldy0wMTIzNDU2Nzg5"
WEBHOOK_SECRET_OLD = "whsec_old_c2VjcmV0LW9sZC0wMTIzNDU2Nzg5"


def session_object(
    session_id: str,
    payment_id: str,
    *,
    status: str = "open",
    payment_status: str = "unpaid",
    payment_intent: object = None,
    amount: int = 2500,
    currency: str = "eur",
) -> dict[str, object]:
    """A Checkout Session as Stripe's API reference shows it (the fields we read, and some we don't)."""
    return {
        "id": session_id,
        "object": "checkout.session",
        "amount_subtotal": amount,
        "amount_total": amount,
        "cancel_url": "http://127.0.0.1:5173/cancel",
        "client_reference_id": payment_id,
        "created": 1679600215,
        "currency": currency,
        "customer": None,
        "customer_email": "payer@example.com",
        "expires_at": 1679686615,
        "livemode": False,
        "metadata": {"payment_id": payment_id},
        "mode": "payment",
        "payment_intent": payment_intent,
        "payment_method_types": ["card"],
        "payment_status": payment_status,
        "status": status,
        "success_url": "http://127.0.0.1:5173/return",
        "url": f"https://checkout.stripe.com/c/pay/{session_id}" if status == "open" else None,
    }


def completed_session(
    session_id: str, payment_id: str, payment_status: str, intent: dict[str, object]
) -> dict[str, object]:
    """The session once the payer completed it, with its PaymentIntent expanded (``intent``)."""
    return session_object(
        session_id, payment_id, status="complete", payment_status=payment_status, payment_intent=intent
    )


def payment_intent_object(intent_id: str, *, status: str, amount: int = 2500) -> dict[str, object]:
    return {
        "id": intent_id,
        "object": "payment_intent",
        "amount": amount,
        "amount_capturable": amount if status == "requires_capture" else 0,
        "amount_received": amount if status == "succeeded" else 0,
        "capture_method": "manual",
        "currency": "eur",
        "livemode": False,
        "status": status,
    }


def stripe_error(message: str, code: str, *, kind: str = "invalid_request_error") -> dict[str, object]:
    return {"error": {"code": code, "message": message, "type": kind}}
