"""The gateway documents every endpoint: OpenAPI JSON plus an interactive UI at /schema."""

from __future__ import annotations

import httpx

from tests.fixtures.services import RunningService

METHODS = {"get", "post", "put", "patch", "delete"}


async def test_schema_and_ui(gateway: RunningService, http: httpx.AsyncClient) -> None:
    schema = (await http.get(f"{gateway.url}/schema/openapi.json")).json()
    operations = [op for item in schema["paths"].values() for method, op in item.items() if method in METHODS]
    ids = [op.get("operationId") for op in operations]
    assert len(operations) >= 30 and None not in ids and len(set(ids)) == len(ids)
    for path in (
        "/auth/login",
        "/payment-gateway/reservations/checkout",
        "/payment-gateway/{payment_id}/verify",
        "/admin/partners/{partner_id}/rotate-secret",
        "/internal/partners",
    ):
        assert path in schema["paths"], path
    checkout = schema["paths"]["/payment-gateway/reservations/checkout"]["post"]
    assert "Idempotency-Key" in {p["name"] for p in checkout["parameters"]}
    ref = checkout["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    assert set(schema["components"]["schemas"][ref]["properties"]) == {
        "reservation_id",
        "return_url",
        "cancel_url",
    }
    assert {"BearerToken", "ServiceToken"} <= set(schema["components"]["securitySchemes"])
    ui = await http.get(f"{gateway.url}/schema")
    assert ui.status_code == 200 and "text/html" in ui.headers["content-type"]
