"""Both services serve their own docs: OpenAPI 3.1 as JSON and YAML, and a docs UI whose files come
from a pinned package inside the service, so /schema renders with the network unplugged."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import yaml
from litestar.testing import TestClient
from openapi_spec_validator import validate

from shared.events import CATALOG
from shared.settings import get_paygate_settings
from tests.fixtures.services import RunningService

CHROMIUM = Path("/usr/bin/chromium")
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
    from playwright.async_api import Route, async_playwright

    from tests.gateway.test_browser import CHROMIUM_ARGS

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

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page()
            await page.route("**/*", only_localhost)
            await page.goto(f"{service.url}/schema")
            blocks = page.locator(".opblock-summary")
            await page.wait_for_function(
                "n => document.querySelectorAll('.opblock-summary').length >= n", arg=len(operations)
            )
            shown = await blocks.count()
            text = await page.locator("#swagger-container").inner_text()
        finally:
            await browser.close()
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
