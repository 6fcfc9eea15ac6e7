"""schemathesis against both running services (real HTTP), with every check it has, as a user, an
admin, the service and anonymous: every answer must match the document, and no input is a 500.

The schemas are the services' own documents, built in this process at collection (the test first
checks the running service serves the same). Bounded: a few examples per operation, a fixed seed."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import schemathesis
from hypothesis import HealthCheck, seed, settings
from litestar import Litestar
from litestar.testing import TestClient
from schemathesis import Case

from gateway.app import create_app as create_gateway
from payment_ms.app import create_app as create_payment_ms
from tests.fixtures.services import TEST_SERVICE_TOKEN, RunningService

ROLES = ("user", "admin", "service", "anonymous")
FUZZ = settings(max_examples=3, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))


def _document(app: Litestar) -> dict[str, Any]:
    logging.disable(logging.INFO)  # the app's access lines while it renders its document
    try:
        document: dict[str, Any] = TestClient(app).get("/schema/openapi.json").json()
    finally:
        logging.disable(logging.NOTSET)
    return document


GATEWAY_DOCUMENT = _document(create_gateway())
PAYMENT_MS_DOCUMENT = _document(create_payment_ms())
gateway_api = schemathesis.openapi.from_dict(GATEWAY_DOCUMENT)
payment_ms_api = schemathesis.openapi.from_dict(PAYMENT_MS_DOCUMENT)


def _headers(role: str, tokens: dict[str, str]) -> dict[str, str]:
    if role == "service":
        return {"X-Service-Token": TEST_SERVICE_TOKEN}
    if role in tokens:
        return {"Authorization": f"Bearer {tokens[role]}"}
    return {}


def _call_as_everyone(case: Case, service: RunningService, tokens: dict[str, str]) -> None:
    for role in ROLES:  # every generated request once as each caller
        case.call_and_validate(base_url=service.url, headers=_headers(role, tokens))


def test_running_services_serve_these_documents(gateway: RunningService, payment_ms: RunningService) -> None:
    for service, document in ((gateway, GATEWAY_DOCUMENT), (payment_ms, PAYMENT_MS_DOCUMENT)):
        assert httpx.get(f"{service.url}/schema/openapi.json").json() == document


@gateway_api.parametrize()
@FUZZ
@seed(13)
def test_gateway_matches_its_document(
    case: Case, gateway: RunningService, role_tokens: dict[str, str]
) -> None:
    _call_as_everyone(case, gateway, role_tokens)


@payment_ms_api.parametrize()
@FUZZ
@seed(13)
def test_payment_ms_matches_its_document(
    case: Case, payment_ms: RunningService, role_tokens: dict[str, str]
) -> None:
    _call_as_everyone(case, payment_ms, role_tokens)
