"""What the portal tells a partner about events: each type with its JSON Schema and an example body,
and how to verify a delivery's signature (Python and Node)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import msgspec

from shared.contracts import WebhookEnvelope
from shared.models import EVENT_TYPES

FIRES_WHEN = {
    "payment.created": "a payment is created (the payer is sent to the checkout)",
    "payment.processing": "the provider is processing the payment",
    "payment.authorized": "a manual-capture payment is authorized (not captured yet)",
    "payment.captured": "an authorized payment is captured",
    "payment.succeeded": "the payment succeeded: the money is yours",
    "payment.failed": "the payment failed (declined, expired)",
    "payment.canceled": "the payment was canceled before anything was settled",
    "payment.refunded": "a payment was refunded, in part or in full",
}


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    name: str
    fires_when: str
    schema: str
    example: str


def _example(event_type: str) -> dict[str, Any]:
    status = {
        "payment.created": "pending",
        "payment.processing": "processing",
        "payment.authorized": "authorized",
        "payment.failed": "failed",
        "payment.canceled": "canceled",
        "payment.refunded": "partially_refunded",
    }.get(event_type, "succeeded")
    captured = 2500 if status in ("succeeded", "partially_refunded") else 0
    return {
        "type": event_type,
        "timestamp": "2026-12-01T12:00:00Z",
        "data": {
            "id": "0f8fad5b-d9cb-469f-a165-70867728950e",
            "reservation_id": "7c9e6679-7425-40de-944b-e07fc1f90ae7",
            "user_id": "16fd2706-8baf-433b-82eb-8c7fada847da",
            "amount": 2500,
            "currency": "EUR",
            "status": status,
            "provider": "stripe",
            "capture_method": "manual"
            if event_type in ("payment.authorized", "payment.captured")
            else "automatic",
            "captured_amount": captured,
            "refunded_amount": 1000 if status == "partially_refunded" else 0,
            "description": "Hotel night, 1 Dec",
            "created_at": "2026-12-01T11:58:00Z",
            "updated_at": "2026-12-01T12:00:00Z",
        },
    }


def entries() -> list[CatalogEntry]:
    schema = json.dumps(msgspec.json.schema(WebhookEnvelope), indent=2)
    return [
        CatalogEntry(name, FIRES_WHEN.get(name, ""), schema, json.dumps(_example(name), indent=2))
        for name in EVENT_TYPES
    ]


PYTHON = """# pip install standardwebhooks
import os
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

webhook = Webhook(os.environ["PAYGATE_WEBHOOK_SECRET"])  # whsec_..., shown once by the portal

def handle(body: bytes, headers: dict[str, str]):
    try:
        event = webhook.verify(body, headers)  # webhook-id, webhook-timestamp, webhook-signature
    except WebhookVerificationError:
        return 400  # not from paygate, or older than 5 minutes: drop it
    # webhook-id is the event id, the same on every retry: skip the ones you already handled
    print(event["type"], event["data"]["id"], event["data"]["status"])
    return 204
"""

NODE = """// npm install standardwebhooks
import { Webhook } from "standardwebhooks";

const webhook = new Webhook(process.env.PAYGATE_WEBHOOK_SECRET); // whsec_..., shown once by the portal

export function handle(rawBody, headers) {
  let event;
  try {
    event = webhook.verify(rawBody, headers); // the raw bytes, before any JSON parsing
  } catch (err) {
    return 400; // not from paygate, or older than 5 minutes: drop it
  }
  // webhook-id is the event id, the same on every retry: skip the ones you already handled
  console.log(event.type, event.data.id, event.data.status);
  return 204;
}
"""

PYTHON_BY_HAND = """import base64, hashlib, hmac, os, time

def verify(body: bytes, headers: dict[str, str]) -> bool:
    secret = base64.b64decode(os.environ["PAYGATE_WEBHOOK_SECRET"].removeprefix("whsec_"))
    msg_id, timestamp = headers["webhook-id"], headers["webhook-timestamp"]
    if abs(time.time() - int(timestamp)) > 300:
        return False
    signed = f"{msg_id}.{timestamp}.".encode() + body
    expected = base64.b64encode(hmac.new(secret, signed, hashlib.sha256).digest()).decode()
    # during a rotation several signatures are sent, space-separated: any one may match
    return any(hmac.compare_digest(expected, sig.split(",", 1)[1])
               for sig in headers["webhook-signature"].split() if sig.startswith("v1,"))
"""


def snippets() -> dict[str, str]:
    return {"Python": PYTHON, "Node": NODE, "Python, without a library": PYTHON_BY_HAND}
