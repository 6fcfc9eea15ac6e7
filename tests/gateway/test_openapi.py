"""The gateway documents every endpoint: OpenAPI JSON plus an interactive UI at /schema."""

from __future__ import annotations

import json
from typing import Any

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
    ):
        assert path in schema["paths"], path
    checkout = schema["paths"]["/payment-gateway/reservations/checkout"]["post"]
    assert "Idempotency-Key" in {p["name"] for p in checkout["parameters"]}
    ref = checkout["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    assert set(schema["components"]["schemas"][ref]["properties"]) == {
        "reservation_id",
        "return_url",
        "cancel_url",
        "capture_method",
    }
    # the service token's routes are on the internal listener (tests/gateway/test_internal_listener.py)
    assert set(schema["components"]["securitySchemes"]) == {"BearerToken", "PartnerToken"}
    ui = await http.get(f"{gateway.url}/schema")
    assert ui.status_code == 200 and "text/html" in ui.headers["content-type"]


def _ref(response: dict[str, Any], media_type: str = "application/json") -> str:
    schema = response["content"][media_type]["schema"]
    assert "$ref" in schema, schema
    return str(schema["$ref"]).rsplit("/", 1)[-1]


async def test_passthroughs_document_their_real_answers_and_problems(
    gateway: RunningService, http: httpx.AsyncClient
) -> None:
    schema = (await http.get(f"{gateway.url}/schema/openapi.json")).json()
    paths = schema["paths"]
    relayed = {
        ("/payment-gateway/{payment_id}", "get", "200"): "Payment",
        ("/payment-gateway/{payment_id}/verify", "post", "200"): "Payment",
        ("/payment-gateway/{payment_id}/cancel", "post", "200"): "Payment",
        ("/admin/payments", "get", "200"): "PaymentList",
        ("/admin/payments/stats/daily", "get", "200"): "DailyPaymentStats",
        ("/admin/payments/{payment_id}", "get", "200"): "Payment",
        ("/admin/payments/{payment_id}/refunds", "post", "201"): "Payment",
        ("/admin/payments/{payment_id}/capture", "post", "200"): "Payment",
        ("/admin/payments/{payment_id}/confirm-cash", "post", "200"): "Payment",
        ("/admin/events", "get", "200"): "EventList",
        ("/admin/deliveries", "get", "200"): "DeliveryList",
        ("/admin/deliveries/{delivery_id}", "get", "200"): "DeliveryDetail",
        ("/admin/deliveries/{delivery_id}/replay", "post", "202"): "Delivery",
        ("/admin/partners/{partner_id}/deliveries/replay", "post", "202"): "ReplayCount",
    }
    for (path, method, status), name in relayed.items():
        responses = paths[path][method]["responses"]
        assert _ref(responses[status]) == name, (path, method)
        assert name in schema["components"]["schemas"]
        is_list = path in {
            "/admin/payments",
            "/admin/payments/stats/daily",
            "/admin/events",
            "/admin/deliveries",
        }
        errors = {"401", "503", "504"} | ({"403"} if path.startswith("/admin") else set())
        errors |= set() if is_list else {"404"}  # a list is never a 404
        assert errors <= set(responses), (path, method, sorted(responses))
        for code in errors | {"400"}:
            assert _ref(responses[code], "application/problem+json") == "Problem", (path, code)
    assert set(schema["components"]["schemas"]["Payment"]["properties"]) >= {"id", "amount", "currency"}
    checkout = paths["/payment-gateway/reservations/checkout"]["post"]["responses"]
    assert {"409", "422", "503", "504"} <= set(checkout)
    assert _ref(paths["/payment-gateway/health/check"]["get"]["responses"]["503"], "application/problem+json")
    stripe = paths["/payment-gateway/webhooks/stripe"]["post"]["responses"]
    assert _ref(stripe["200"]) == "StripeWebhookReceipt"
    assert set(schema["components"]["schemas"]["StripeWebhookReceipt"]["properties"]) == {
        "received",
        "duplicate",
    }


# Operations that take no input and no credentials: no client error to document (a degraded
# dependency is their only error, a 503 problem, checked below).
NO_CLIENT_ERRORS = {"health", "ready", "healthCheck"}

# What the services and guards behind these handlers really raise (shared/problems.py maps them).
EXPECTED_ERRORS = {
    "login": {"400", "401", "404", "429", "503"},
    "me": {"401", "503"},
    "listMyReservations": {"400", "401", "503"},
    "getMyReservation": {"400", "401", "404", "503"},
    "createReservation": {"400", "401", "403", "404", "422", "503"},
    "listReservations": {"400", "401", "403", "503"},
    "getReservation": {"400", "401", "403", "404", "503"},
    "createPartner": {"400", "401", "403", "409", "422", "503"},
    "listPartners": {"400", "401", "403", "503"},
    "getPartner": {"400", "401", "403", "404", "503"},
    "updatePartner": {"400", "401", "403", "404", "409", "422", "503"},
    "deletePartner": {"400", "401", "403", "404", "503"},
    "rotatePartnerSecret": {"400", "401", "403", "404", "503"},
    "stripeWebhook": {"400", "401", "502", "503", "504"},
    "ready": {"503"},
    "healthCheck": {"503"},
    "health": set(),
}


async def test_every_operation_documents_its_errors_as_problems(
    gateway: RunningService, http: httpx.AsyncClient
) -> None:
    """Every error any gateway operation documents is problem+json (a ``Problem``), every operation
    that takes input or credentials documents at least one 4xx, and no success is an opaque string."""
    paths = (await http.get(f"{gateway.url}/schema/openapi.json")).json()["paths"]
    seen: set[str] = set()
    wrong: list[tuple[str, ...]] = []
    for path, item in paths.items():
        for method, op in item.items():
            if method not in METHODS:
                continue
            name = op["operationId"]
            seen.add(name)
            responses = op["responses"]
            errors = {status for status in responses if status[0] in "45"}
            for status in sorted(errors):
                content = responses[status].get("content", {})
                schema = content.get("application/problem+json", {}).get("schema", {})
                if set(content) != {"application/problem+json"} or not schema.get("$ref", "").endswith(
                    "/Problem"
                ):
                    wrong.append((name, status, "not only a Problem as problem+json", *sorted(content)))
            if name not in NO_CLIENT_ERRORS and not any(status.startswith("4") for status in errors):
                wrong.append((name, "no 4xx documented"))
            if "security" in op and "401" not in errors:
                wrong.append((name, "guarded but no 401"))
            if path.startswith("/admin") and "403" not in errors:
                wrong.append((name, "admin only but no 403"))
            if name in EXPECTED_ERRORS and errors != EXPECTED_ERRORS[name]:
                wrong.append((name, "documents", *sorted(errors), "expected", *sorted(EXPECTED_ERRORS[name])))
            for status, response in responses.items():
                for media_type, content in response.get("content", {}).items():
                    if status.startswith("2") and content["schema"] == {"type": "string"}:
                        wrong.append((name, status, "an opaque string", media_type))
    assert not wrong, "\n".join(" ".join(entry) for entry in wrong)
    assert set(EXPECTED_ERRORS) <= seen, sorted(set(EXPECTED_ERRORS) - seen)


async def test_admin_filters_are_typed_query_parameters(
    gateway: RunningService, http: httpx.AsyncClient
) -> None:
    paths = (await http.get(f"{gateway.url}/schema/openapi.json")).json()["paths"]

    def query(path: str) -> dict[str, dict[str, Any]]:
        params = paths[path]["get"]["parameters"]
        return {p["name"]: p["schema"] for p in params if p["in"] == "query"}

    payments = query("/admin/payments")
    assert set(payments) == {
        "status",
        "provider",
        "user_id",
        "reservation_id",
        "created_from",
        "created_to",
        "amount_min",
        "amount_max",
        "cursor",
        "limit",
    }
    assert "minimum" in json.dumps(payments["amount_min"])
    assert "succeeded" in json.dumps(payments["status"]) and "stripe" in json.dumps(payments["provider"])
    assert payments["limit"]["maximum"] == 200 and payments["limit"]["minimum"] == 1
    assert "uuid" in json.dumps(payments["user_id"]) and "date-time" in json.dumps(payments["created_from"])
    assert set(query("/admin/payments/stats/daily")) == {"to", "days"}
    assert set(query("/admin/events")) >= {"payment_id", "type", "created_from", "created_to", "limit"}
    deliveries = query("/admin/deliveries")
    assert set(deliveries) >= {"status", "partner_id", "event_id", "payment_id", "cursor", "limit"}
    assert "failed" in json.dumps(deliveries["status"])
    assert "filters" not in paths["/admin/payments"]["get"]["summary"]


async def test_me_declares_its_bearer_token(gateway: RunningService, http: httpx.AsyncClient) -> None:
    paths = (await http.get(f"{gateway.url}/schema/openapi.json")).json()["paths"]
    assert paths["/me"]["get"]["security"] == [{"BearerToken": []}]
