"""A STATEFUL fake of Stripe's API at the HTTP boundary (behind respx), shaped like Stripe's API
reference: Checkout Sessions, PaymentIntents, Charges, Refunds and Disputes that change state, and
Stripe's documented idempotency (docs.stripe.com/api/idempotent_requests):

- the first answer for an ``Idempotency-Key`` is stored once the endpoint starts executing, errors
  included, and replayed for every later request with that key (``Idempotent-Replayed: true``);
- the same key with other parameters (or another endpoint) is ``400 idempotency_error``;
- the same key while its first request is still executing is ``409 idempotency_key_in_use`` with
  ``Stripe-Should-Retry: true`` (nothing stored).

Events are built as Stripe sends them (``{"id": "evt_…", "object": "event", "type": …, "data":
{"object": …}}``) and signed as Stripe signs them (``Stripe-Signature: t=…,v1=HMAC-SHA256``).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import httpx
import respx

from payment_ms.stripe_webhooks.signature import sign
from tests.payment_ms.inprocess import STRIPE

Obj = dict[str, Any]


def _id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:24]}"


def error(status: int, code: str, message: str, kind: str = "invalid_request_error") -> httpx.Response:
    return httpx.Response(status, json={"error": {"code": code, "message": message, "type": kind}})


@dataclass
class StripeIdempotency:
    """Stripe's HTTP front: outages first, then its documented idempotency around ``_route``."""

    requests: list[httpx.Request] = field(default_factory=list)
    hold: asyncio.Event | None = None  # set: POSTs wait for it (a request still executing)
    outages: list[httpx.Response] = field(default_factory=list)  # answered first, in turn (before anything)
    _stored: dict[str, tuple[str, httpx.Response]] = field(default_factory=dict)
    _in_flight: set[str] = field(default_factory=set)

    def install(self, router: respx.MockRouter) -> None:
        router.route(host="api.stripe.com").mock(side_effect=self.handle)

    # ------------------------------------------------------------------ HTTP: idempotency first

    async def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.outages:
            return self.outages.pop(0)
        key = request.headers.get("idempotency-key")
        if request.method != "POST" or key is None:
            return self._route(request)
        params = sorted(parse_qsl(request.content.decode()))
        fingerprint = f"{request.url.path} {params}"
        if key in self._in_flight:
            return httpx.Response(
                409,
                headers={"Stripe-Should-Retry": "true"},
                json={
                    "error": {
                        "code": "idempotency_key_in_use",
                        "type": "invalid_request_error",
                        "message": "There is currently another in-progress request using this Idempotent Key "
                        "(that probably means you submitted twice, and the other request is still "
                        "going through).",
                    }
                },
            )
        stored = self._stored.get(key)
        if stored is not None:
            if stored[0] != fingerprint:
                return error(
                    400,
                    "idempotency_key_reused",
                    "Keys for idempotent requests can only be used with the same parameters they were "
                    "first used with.",
                    kind="idempotency_error",
                )
            first = stored[1]
            return httpx.Response(
                first.status_code, headers={"Idempotent-Replayed": "true"}, content=first.content
            )
        self._in_flight.add(key)
        try:
            if self.hold is not None:
                await self.hold.wait()
            response = self._route(request)
        finally:
            self._in_flight.discard(key)
        self._stored[key] = (fingerprint, response)
        return response

    def _route(self, request: httpx.Request) -> httpx.Response:
        raise NotImplementedError


@dataclass
class FakeStripe(StripeIdempotency):
    sessions: dict[str, Obj] = field(default_factory=dict)
    intents: dict[str, Obj] = field(default_factory=dict)
    charges: dict[str, Obj] = field(default_factory=dict)
    refunds: dict[str, Obj] = field(default_factory=dict)
    # what a new refund's status is (Stripe answers ``pending`` for some methods)
    refund_status: str = "succeeded"
    balance: int = 10**9  # refunds come out of it: 0 makes Stripe refuse with balance_insufficient

    def _route(self, request: httpx.Request) -> httpx.Response:
        parts = request.url.path.strip("/").split("/")[1:]  # without "v1"
        form = dict(parse_qsl(request.content.decode())) if request.content else {}
        match request.method, parts:
            case "POST", ["checkout", "sessions"]:
                return self._create_session(form)
            case "GET", ["checkout", "sessions", sid]:
                return self._get_session(
                    sid, expand="payment_intent" in request.url.params.get_list("expand[]")
                )
            case "POST", ["checkout", "sessions", sid, "expire"]:
                return self._expire(sid)
            case "POST", ["payment_intents", pid, "capture"]:
                return self._capture(pid, form)
            case "POST", ["payment_intents", pid, "cancel"]:
                return self._cancel_intent(pid)
            case "POST", ["refunds"]:
                return self._refund(form)
            case "GET", ["refunds"]:
                charge = request.url.params.get("charge")
                data = [r for r in self.refunds.values() if r["charge"] == charge]
                return httpx.Response(200, json={"object": "list", "data": data, "has_more": False})
        return error(
            404, "resource_missing", f"Unrecognized request URL ({request.method}: {request.url.path})"
        )

    # ------------------------------------------------------------------ objects

    def _create_session(self, form: dict[str, str]) -> httpx.Response:
        sid = _id("cs_test")
        amount = int(form["line_items[0][price_data][unit_amount]"])
        self.sessions[sid] = {
            "id": sid,
            "object": "checkout.session",
            "amount_total": amount,
            "currency": form["line_items[0][price_data][currency]"],
            "client_reference_id": form.get("client_reference_id"),
            "metadata": {"payment_id": form.get("metadata[payment_id]")},
            "mode": "payment",
            "payment_intent": None,  # created when the payer confirms (API versions since 2022-08-01)
            "payment_status": "unpaid",
            "status": "open",
            "url": f"https://checkout.stripe.com/c/pay/{sid}",
            "_capture_method": form.get("payment_intent_data[capture_method]", "automatic_async"),
        }
        return httpx.Response(200, json=self._public(self.sessions[sid]))

    @staticmethod
    def _public(obj: Obj) -> Obj:
        return {k: v for k, v in obj.items() if not k.startswith("_")}

    def _get_session(self, sid: str, *, expand: bool) -> httpx.Response:
        session = self.sessions.get(sid)
        if session is None:
            return error(404, "resource_missing", f"No such checkout.session: '{sid}'")
        body = self._public(session)
        if expand and session["payment_intent"]:
            body["payment_intent"] = self.intents[session["payment_intent"]]
        return httpx.Response(200, json=body)

    def _expire(self, sid: str) -> httpx.Response:
        session = self.sessions[sid]
        if session["status"] != "open":
            return error(
                400,
                "checkout_session_not_open",
                'Only Checkout Sessions with a status in ["open"] can be expired.',
            )
        session.update(status="expired", url=None)
        return httpx.Response(200, json=self._public(session))

    def _capture(self, pid: str, form: dict[str, str]) -> httpx.Response:
        intent = self.intents[pid]
        if intent["status"] != "requires_capture":
            return error(
                400,
                "payment_intent_unexpected_state",
                f"This PaymentIntent could not be captured because it has a status of {intent['status']}.",
            )
        amount = int(form.get("amount_to_capture", intent["amount_capturable"]))
        if amount > intent["amount_capturable"]:
            return error(400, "amount_too_large", "The amount to capture exceeds the amount capturable.")
        charge = self.charges[intent["latest_charge"]]
        intent.update(status="succeeded", amount_received=amount, amount_capturable=0)
        charge.update(captured=True, amount_captured=amount)
        return httpx.Response(200, json=intent)

    def _cancel_intent(self, pid: str) -> httpx.Response:
        intent = self.intents[pid]
        if intent["status"] in ("succeeded", "canceled"):
            return error(
                400,
                "payment_intent_unexpected_state",
                f"You cannot cancel this PaymentIntent because it has a status of {intent['status']}.",
            )
        intent.update(status="canceled", cancellation_reason="requested_by_customer", amount_capturable=0)
        return httpx.Response(200, json=intent)

    def _refund(self, form: dict[str, str]) -> httpx.Response:
        intent = self.intents[form["payment_intent"]]
        charge = self.charges[intent["latest_charge"]]
        amount = int(form.get("amount", charge["amount_captured"] - charge["amount_refunded"]))
        if amount > charge["amount_captured"] - charge["amount_refunded"]:
            return error(400, "amount_too_large", "Refund amount is greater than the refundable amount.")
        if amount > self.balance:
            return error(
                400,
                "balance_insufficient",
                "You have insufficient available funds in your Stripe account to refund this charge.",
            )
        self.balance -= amount
        metadata = {k[len("metadata[") : -1]: v for k, v in form.items() if k.startswith("metadata[")}
        return httpx.Response(200, json=self.add_refund(charge["id"], amount, self.refund_status, metadata))

    # ------------------------------------------------------------------ what happens at Stripe

    def complete(self, sid: str, *, authorize_only: bool = False) -> Obj:
        """The payer pays on Stripe's page: the session completes, with a PaymentIntent and a Charge."""
        session = self.sessions[sid]
        pid, cid = _id("pi"), _id("ch")
        self.intents[pid] = _completed_intent(pid, cid, session, authorize_only=authorize_only)
        self.charges[cid] = _completed_charge(cid, pid, session, authorize_only=authorize_only)
        session.update(
            status="complete",
            payment_status="unpaid" if authorize_only else "paid",
            payment_intent=pid,
            url=None,
        )
        return self._public(session)

    def add_refund(self, cid: str, amount: int, status: str, metadata: Obj | None = None) -> Obj:
        """A refund (through the API, or made in Stripe's Dashboard)."""
        charge = self.charges[cid]
        rid = _id("re")
        self.refunds[rid] = {
            "id": rid,
            "object": "refund",
            "amount": amount,
            "charge": cid,
            "currency": charge["currency"],
            "metadata": metadata or {},
            "payment_intent": charge["payment_intent"],
            "reason": None,
            "status": status,
        }
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] == charge["amount_captured"]
        return self.refunds[rid]

    def settle_refund(self, rid: str, status: str, failure_reason: str | None = None) -> Obj:
        refund = self.refunds[rid]
        refund["status"] = status
        if status == "failed":
            refund["failure_reason"] = failure_reason or "expired_or_canceled_card"
            self.charges[refund["charge"]]["amount_refunded"] -= refund["amount"]
        return refund

    def dispute(self, pid: str, status: str, dispute_id: str | None = None) -> Obj:
        intent = self.intents[pid]
        return {
            "id": dispute_id or _id("dp"),
            "object": "dispute",
            "amount": intent["amount_received"],
            "charge": intent["latest_charge"],
            "currency": intent["currency"],
            "payment_intent": pid,
            "reason": "fraudulent",
            "status": status,
        }

    def intent_of(self, sid: str) -> str:
        pid: str = self.sessions[sid]["payment_intent"]
        return pid


def _completed_intent(pid: str, cid: str, session: Obj, *, authorize_only: bool) -> Obj:
    return {
        "id": pid,
        "object": "payment_intent",
        "amount": session["amount_total"],
        "amount_capturable": session["amount_total"] if authorize_only else 0,
        "amount_received": 0 if authorize_only else session["amount_total"],
        "capture_method": "manual" if authorize_only else "automatic_async",
        "currency": session["currency"],
        "latest_charge": cid,
        "metadata": dict(session["metadata"]),
        "payment_method_types": ["card"],
        "status": "requires_capture" if authorize_only else "succeeded",
    }


def _completed_charge(cid: str, pid: str, session: Obj, *, authorize_only: bool) -> Obj:
    return {
        "id": cid,
        "object": "charge",
        "amount": session["amount_total"],
        "amount_captured": 0 if authorize_only else session["amount_total"],
        "amount_refunded": 0,
        "captured": not authorize_only,
        "currency": session["currency"],
        "metadata": {},
        "paid": True,
        "payment_intent": pid,
        "refunded": False,
    }


def stripe_event(event_type: str, obj: Obj, event_id: str | None = None) -> bytes:
    return json.dumps(
        {
            "id": event_id or _id("evt"),
            "object": "event",
            "api_version": "2026-09-30.endive",
            "created": int(time.time()),
            "livemode": False,
            "pending_webhooks": 1,
            "type": event_type,
            "data": {"object": obj},
        }
    ).encode()


def signed(payload: bytes, *secrets: str, at: int | None = None) -> dict[str, str]:
    """Stripe-Signature headers for ``payload``: one v1 per secret (a rotation signs with several),
    timestamped now unless ``at`` says otherwise."""
    t = int(time.time()) if at is None else at
    parts = [f"t={t}", *(f"v1={sign(payload, secret, t)}" for secret in secrets)]
    return {"Stripe-Signature": ",".join(parts), "Content-Type": "application/json"}


__all__ = ["STRIPE", "FakeStripe", "signed", "stripe_event"]
