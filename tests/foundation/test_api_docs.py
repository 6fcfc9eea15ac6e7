"""Both services serve their own docs: OpenAPI 3.1 as JSON and YAML, and a docs UI whose files come
from a pinned package inside the service, so /schema renders with the network unplugged."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import yaml
from litestar.testing import TestClient
from openapi_spec_validator import validate

from shared.events import CATALOG
from shared.openapi_finalize import _schemas_in
from shared.settings import get_paygate_settings
from tests.fixtures.browser import CHROMIUM, chromium
from tests.fixtures.services import RunningService

METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture(params=["gateway", "payment_ms"])
def service(request: pytest.FixtureRequest) -> RunningService:
    return request.getfixturevalue(request.param)  # type: ignore[no-any-return]


async def _document(http: httpx.AsyncClient, service: RunningService) -> dict[str, Any]:
    response = await http.get(f"{service.url}/schema/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/vnd.oai.openapi+json")
    document: dict[str, Any] = response.json()
    return document


async def test_documents_are_valid_openapi_31_in_json_and_yaml(
    service: RunningService, http: httpx.AsyncClient
) -> None:
    document = await _document(http, service)
    assert document["openapi"].startswith("3.1")
    validate(document)
    as_yaml = await http.get(f"{service.url}/schema/openapi.yaml")
    assert as_yaml.status_code == 200 and yaml.safe_load(as_yaml.text) == document
    assert "Idempotency-Key" in document["info"]["description"]
    assert set(document["webhooks"]) == set(CATALOG)
    for name, item in document["webhooks"].items():
        assert item["post"]["description"] == CATALOG[name].fires_when
        assert {p["name"] for p in item["post"]["parameters"]} == {
            "webhook-id",
            "webhook-timestamp",
            "webhook-signature",
        }


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's Chromium (/usr/bin/chromium)")
async def test_docs_ui_renders_every_operation_with_the_network_unplugged(
    service: RunningService, http: httpx.AsyncClient
) -> None:
    from playwright.async_api import Route

    document = await _document(http, service)
    operations = [op for item in document["paths"].values() for m, op in item.items() if m in METHODS]
    blocked: list[str] = []
    loaded: list[str] = []

    async def only_localhost(route: Route) -> None:
        url = route.request.url
        if urlsplit(url).hostname in {"127.0.0.1", "localhost"}:
            loaded.append(url)
            await route.continue_()
        else:
            blocked.append(url)
            await route.abort()

    async with chromium() as browser:
        page = await browser.new_page()
        await page.route("**/*", only_localhost)
        await page.goto(f"{service.url}/schema")
        blocks = page.locator(".opblock-summary")
        await page.wait_for_function(
            "n => document.querySelectorAll('.opblock-summary').length >= n", arg=len(operations)
        )
        shown = await blocks.count()
        text = await page.locator("#swagger-container").inner_text()
    assert blocked == [], "the docs page asked another host for something"
    assert any(u.endswith("/schema/assets/swagger-ui-bundle.js") for u in loaded)
    assert shown >= len(operations)
    assert document["info"]["title"] in text
    for name in CATALOG:
        assert name in text, f"webhook {name} not shown"


def test_docs_can_be_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """PAYGATE_API_DOCS=false (production, say): no /schema, no document, no assets on either service."""
    from gateway.app import create_app as gateway_app
    from gateway.settings import GatewaySettings
    from payment_ms.app import create_app as payment_ms_app
    from payment_ms.settings import PaymentSettings

    monkeypatch.setenv("PAYGATE_API_DOCS", "false")
    get_paygate_settings.cache_clear()
    try:
        # each app takes the settings it runs with, built here from this environment
        for app in (gateway_app(GatewaySettings()), payment_ms_app(PaymentSettings())):
            client = TestClient(app)  # no lifespan: these routes need no database
            for path in (
                "/schema",
                "/schema/openapi.json",
                "/schema/openapi.yaml",
                "/schema/assets/swagger-ui.css",
            ):
                assert client.get(path).status_code == 404, path
    finally:
        get_paygate_settings.cache_clear()


def _media(document: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for section in ("paths", "webhooks"):
        for path, item in document.get(section, {}).items():
            for method, op in item.items():
                if method not in METHODS:
                    continue
                for media in op.get("requestBody", {}).get("content", {}).values():
                    found.append((f"{method} {path} request", media))
                for code, response in op["responses"].items():
                    for media in response.get("content", {}).values():
                        found.append((f"{method} {path} {code}", media))
    return found


async def test_every_request_and_response_has_an_example_that_fits_its_schema(
    service: RunningService, http: httpx.AsyncClient
) -> None:
    from jsonschema import Draft202012Validator

    document = await _document(http, service)
    media = _media(document)
    assert len(media) > 30
    for where, entry in media:
        assert "example" in entry, f"{where}: no example"
        schema = {**entry["schema"], "components": document["components"]}
        validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
        errors = [e.message for e in validator.iter_errors(entry["example"])]
        assert not errors, f"{where}: {errors}"


async def test_documents_keep_constraints_bounds_and_strictness(
    service: RunningService, http: httpx.AsyncClient
) -> None:
    document = await _document(http, service)
    schemas = document["components"]["schemas"]
    refund = schemas["RefundCreate"]["properties"]["amount"]["anyOf"][0]
    assert refund["minimum"] == 1 and refund["maximum"] == get_paygate_settings().max_amount
    bodies = {
        entry["schema"]["$ref"].rsplit("/", 1)[-1]
        for path, item in document["paths"].items()
        for method, op in item.items()
        if method in METHODS
        for entry in op.get("requestBody", {}).get("content", {}).values()
        if "$ref" in entry.get("schema", {})
    }
    assert "RefundCreate" in bodies
    for name in bodies - {"WebhookEnvelope"}:  # every body we take refuses unknown fields, and says so
        assert schemas[name].get("additionalProperties") is False, name
    # but an event receiver tolerates fields added to events later (Standard Webhooks)
    assert "additionalProperties" not in schemas.get("WebhookEnvelope", {})

    for node in (n for n in _schemas_in(document) if n.get("type") == "integer"):
        assert ("minimum" in node or "exclusiveMinimum" in node) and "maximum" in node, node


async def test_payment_ms_documents_its_security_bodies_and_errors(
    payment_ms: RunningService, http: httpx.AsyncClient
) -> None:
    document = await _document(http, payment_ms)
    assert "ServiceToken" in document["components"]["securitySchemes"]
    operations = {
        op["operationId"]: op
        for path, item in document["paths"].items()
        if path.startswith("/api/") and "stripe" not in path
        for method, op in item.items()
        if method in METHODS
    }
    assert len(operations) >= 12
    for op_id, op in operations.items():
        assert op["security"] == [{"ServiceToken": []}], op_id
        for code in ("400", "401"):
            assert set(op["responses"][code]["content"]) == {"application/problem+json"}, (op_id, code)
    for op_id, body in (
        ("createPayment", "PaymentCreate"),
        ("refundPayment", "RefundCreate"),
        ("confirmCashPayment", "CashConfirmation"),
    ):
        ref = operations[op_id]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        assert ref.endswith("/" + body)
    for op_id in ("verifyPayment", "cancelPayment", "capturePayment", "refundPayment", "confirmCashPayment"):
        assert {"404", "409", "422"} <= set(operations[op_id]["responses"]), op_id
        key = next(p for p in operations[op_id]["parameters"] if p["name"] == "Idempotency-Key")
        assert key["required"] is False, op_id
    key = next(p for p in operations["createPayment"]["parameters"] if p["name"] == "Idempotency-Key")
    assert key["required"] is True
    stripe = document["paths"]["/api/providers/stripe/webhook"]["post"]
    assert "Stripe-Signature" in {p["name"] for p in stripe["parameters"]}


async def test_gateway_links_the_checkout_flow_and_lists_never_404(
    gateway: RunningService, http: httpx.AsyncClient
) -> None:
    document = await _document(http, gateway)
    by_id = {
        op["operationId"]: op for item in document["paths"].values() for m, op in item.items() if m in METHODS
    }
    links = by_id["checkout"]["responses"]["201"]["links"]
    assert {link["operationId"] for link in links.values()} == {
        "getMyPayment",
        "verifyMyPayment",
        "cancelMyPayment",
    }
    assert set(by_id["getMyPayment"]["responses"]["200"]["links"]) == {"verifyPayment", "cancelPayment"}
    for op_id in ("adminListPayments", "adminDailyStats", "adminListEvents", "adminListDeliveries"):
        assert "404" not in by_id[op_id]["responses"], op_id


def _concrete(path: str, item: dict[str, Any]) -> str:
    """``path`` with each parameter filled by a value of its documented type."""
    for op in (op for m, op in item.items() if m in METHODS):
        for parameter in op.get("parameters", []):
            if parameter["in"] == "path":
                uuidish = "uuid" in str(parameter["schema"])
                path = path.replace(f"{{{parameter['name']}}}", str(uuid.uuid4()) if uuidish else "x1")
    return path


async def test_options_answers_every_documented_method_without_authentication(
    service: RunningService, http: httpx.AsyncClient
) -> None:
    """Anonymous OPTIONS on every documented path: 204 and an Allow of exactly the document's methods."""
    document = await _document(http, service)
    assert len(document["paths"]) > 10
    for path, item in document["paths"].items():
        response = await http.options(f"{service.url}{_concrete(path, item)}")
        assert response.status_code == 204, (path, response.text)
        documented = {m.upper() for m in item if m in METHODS} | {"OPTIONS"}
        assert set(response.headers["allow"].split(", ")) == documented, path
    if "/admin/partners" in document["paths"]:  # the gateway: GET and POST come from two controllers
        admin_partners = await http.options(f"{service.url}/admin/partners")
        assert admin_partners.headers["allow"] == "GET, OPTIONS, POST"


def test_a_cors_preflight_on_a_guarded_route_needs_no_token(monkeypatch: pytest.MonkeyPatch) -> None:
    from gateway.app import create_app as gateway_app
    from gateway.settings import get_gateway_settings

    monkeypatch.setenv("GATEWAY_CORS_ORIGINS", '["http://127.0.0.1:5173"]')
    get_gateway_settings.cache_clear()
    try:
        client = TestClient(gateway_app())  # no lifespan: a preflight touches no database
    finally:
        get_gateway_settings.cache_clear()
    preflight = client.options(
        "/admin/partners",
        headers={"Origin": "http://127.0.0.1:5173", "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "http://127.0.0.1:5173"
    assert "POST" in preflight.headers["access-control-allow-methods"]


async def test_gateway_declares_its_signed_receivers_and_every_retry_after(
    gateway: RunningService, service: RunningService, http: httpx.AsyncClient
) -> None:
    document = await _document(http, gateway)
    stripe = document["paths"]["/payment-gateway/webhooks/stripe"]["post"]
    assert "Stripe-Signature" in {p["name"] for p in stripe["parameters"] if p["in"] == "header"}
    internal = (await http.get(f"{gateway.internal_url}/schema/openapi.json")).json()
    validate(internal)
    events_in = internal["paths"]["/internal/payment-events"]["post"]
    assert events_in["security"] == [{"WebhookSignature": []}]
    assert internal["components"]["securitySchemes"]["WebhookSignature"]["name"] == "webhook-signature"
    headers = {p["name"]: p for p in events_in["parameters"] if p["in"] == "header"}
    assert {"webhook-id", "webhook-timestamp", "webhook-signature"} <= set(headers)
    assert all(headers[name]["required"] for name in ("webhook-id", "webhook-timestamp", "webhook-signature"))
    body = events_in["requestBody"]["content"]["application/json"]
    assert body["schema"]["$ref"].endswith("/WebhookEnvelope")

    unavailable = 0
    for op in (
        op
        for item in (await _document(http, service))["paths"].values()
        for m, op in item.items()
        if m in METHODS
    ):
        for status in ("429", "503"):
            if status in op["responses"]:
                unavailable += 1
                header = op["responses"][status]["headers"]["Retry-After"]
                assert header["schema"]["type"] == "integer", op["operationId"]
    assert unavailable > 5
