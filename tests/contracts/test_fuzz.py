"""schemathesis against both running services (real HTTP), with every check it has (its defaults: all
enabled, positive and negative data), as a user, an admin, the service and anonymous: every answer
must match the document, and no input is a 500.

The schemas are the services' own documents, as the running services serve them. Bounded: a few
generated examples per operation (plus the examples and coverage phases), a fixed seed, no shrinking."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from typing import Any, TypeVar

import httpx
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, seed, settings
from litestar import Litestar
from litestar.testing import TestClient
from schemathesis import Case
from schemathesis.schemas import BaseSchema

from gateway.app import create_app as create_gateway
from payment_ms.app import create_app as create_payment_ms
from tests.fixtures.services import TEST_SERVICE_TOKEN, RunningService

Test = TypeVar("Test", bound=Callable[..., None])
ROLES = ("user", "admin", "service", "anonymous")
# Bounded and reproducible: a few generated examples per operation, no shrinking, no example database.
FUZZ = settings(
    max_examples=3,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)


def _document(app: Litestar) -> dict[str, Any]:
    logging.disable(logging.INFO)  # the app's access lines while it renders its document
    try:
        document: dict[str, Any] = TestClient(app).get("/schema/openapi.json").json()
    finally:
        logging.disable(logging.NOTSET)
    return document


# Built here at collection (schemathesis' lazy loader needs pytest < 9); the first test checks that the
# running services serve exactly these (their settings decide parts: providers, redirect origins).
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


class Callers:
    """Who sends each generated request: the service's own caller every time (admin on the gateway,
    the service token on payment_ms: past the guards, where the input is judged), and every other
    request once more as one of the other roles in turn (refusals, and credentials of the wrong kind).
    Every role reaches every operation; a quarter of the requests of sending each as all four."""

    def __init__(self, primary: str) -> None:
        self.primary = primary
        self.others = [role for role in ROLES if role != primary]
        self.sent: Counter[str] = Counter()
        self.session = requests.Session()  # keep-alive: the run is thousands of small requests

    def call(self, case: Case, service: RunningService, tokens: dict[str, str]) -> None:
        n = self.sent[case.operation.label]
        self.sent[case.operation.label] += 1
        roles = [self.primary] + ([self.others[(n // 2) % len(self.others)]] if n % 2 else [])
        for role in roles:
            case.call_and_validate(base_url=service.url, session=self.session, headers=_headers(role, tokens))


GATEWAY_CALLERS = Callers("admin")
PAYMENT_MS_CALLERS = Callers("service")


def test_running_services_serve_these_documents(gateway: RunningService, payment_ms: RunningService) -> None:
    for service, document in ((gateway, GATEWAY_DOCUMENT), (payment_ms, PAYMENT_MS_DOCUMENT)):
        assert httpx.get(f"{service.url}/schema/openapi.json").json() == document


def fuzzed(api: BaseSchema) -> Callable[[Test], Test]:
    """A test of every operation of ``api`` (schemathesis), bounded by ``FUZZ`` and seeded."""

    def apply(test: Test) -> Test:
        return api.parametrize()(FUZZ(seed(13)(test)))

    return apply


@fuzzed(gateway_api)
def test_gateway_matches_its_document(
    case: Case, gateway: RunningService, role_tokens: dict[str, str]
) -> None:
    GATEWAY_CALLERS.call(case, gateway, role_tokens)


@fuzzed(payment_ms_api)
def test_payment_ms_matches_its_document(
    case: Case, payment_ms: RunningService, role_tokens: dict[str, str]
) -> None:
    PAYMENT_MS_CALLERS.call(case, payment_ms, role_tokens)
