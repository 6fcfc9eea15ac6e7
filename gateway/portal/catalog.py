"""What the portal tells a partner about events: each type with its JSON Schema and an example body,
and how to verify a delivery's signature (Python and Node)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from shared.events import CATALOG, body_schema, example_body


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    name: str
    fires_when: str
    schema: str
    example: str


def entries() -> list[CatalogEntry]:
    """The catalog of ``shared.events``, each body's schema with the schemas it refers to."""
    listed = []
    for name, definition in CATALOG.items():
        schema, defs = body_schema(name)
        listed.append(
            CatalogEntry(
                name,
                definition.fires_when,
                json.dumps({**schema, "$defs": defs}, indent=2),
                json.dumps(example_body(name), indent=2),
            )
        )
    return listed


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
