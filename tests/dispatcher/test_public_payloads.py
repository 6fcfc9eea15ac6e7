"""What partners receive is the catalog's public shape, generated per event type from ``shared.events``:
no checkout or redirect URLs, no metadata, no operator names, and the payer's details only for a
partner registered to receive them. Every body validates against its type's JSON Schema."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from sqlalchemy.ext.asyncio import AsyncEngine
from standardwebhooks import Webhook

from shared.contracts import PublicPayment
from shared.events import CATALOG, PAYER_FIELDS, body_schema, example_body
from tests.dispatcher.conftest import Receiver, add_event, add_partner

PRIVATE = {
    "checkout_url": "http://127.0.0.1:8001/checkout/mock/secret-session",
    "return_url": "http://localhost:3000/paid",
    "cancel_url": "http://localhost:3000/cancelled",
    "metadata": {"checkout_key": "3b1f0c9e5d", "mock_behavior": "approve"},
    "confirmed_by": "desk clerk Anna",
}
PAYER = {"payer_email": "payer@example.com", "payer_name": "Pat Payer"}
PUBLIC_FIELDS = set(PublicPayment.__struct_fields__)


def validator(event_type: str) -> Draft202012Validator:
    schema, defs = body_schema(event_type)
    return Draft202012Validator({**schema, "$defs": defs}, format_checker=Draft202012Validator.FORMAT_CHECKER)


@pytest.mark.parametrize("event_type", sorted(CATALOG))
def test_catalog_example_validates_against_its_schema(event_type: str) -> None:
    example = example_body(event_type)
    validator(event_type).validate(example)
    assert example["data"]["status"] in json.dumps(CATALOG[event_type].fires_when)
    assert not set(example["data"]) & set(PAYER_FIELDS), "examples show the default, minimal payload"


async def test_partner_payloads_are_the_public_shape_with_payer_details_only_when_registered(
    db_engine: AsyncEngine, receiver: Receiver, dispatch: Callable[..., Any]
) -> None:
    types = tuple(CATALOG)
    _, minimal_secret = await add_partner(db_engine, receiver.url("minimal"), types)
    _, payer_secret = await add_partner(db_engine, receiver.url("payer"), types, payer_details=True)
    async with dispatch():
        sent = {}
        for event_type in types:
            payment_id, event_id = await add_event(db_engine, event_type, **PRIVATE, **PAYER)
            sent[str(event_id)] = (event_type, str(payment_id))
        minimal = await receiver.wait_count("minimal", len(types))
        with_payer = await receiver.wait_count("payer", len(types))

    for got, secret, payer_details in [
        *((r, minimal_secret, False) for r in minimal),
        *((r, payer_secret, True) for r in with_payer),
    ]:
        body = Webhook(secret).verify(got.body, got.headers)
        event_type, payment_id = sent[got.msg_id]
        assert body["type"] == event_type and body["data"]["id"] == payment_id
        validator(event_type).validate(body)
        data = body["data"]
        assert set(data) <= PUBLIC_FIELDS, f"outside the public shape: {set(data) - PUBLIC_FIELDS}"
        assert not set(data) & set(PRIVATE)
        for value in (*PRIVATE.values(), "checkout_key"):
            assert json.dumps(value).strip('"{}') not in got.body.decode()
        if payer_details:
            assert {k: data[k] for k in PAYER_FIELDS} == PAYER
        else:
            assert not set(data) & set(PAYER_FIELDS)
            assert PAYER["payer_email"] not in got.body.decode()
