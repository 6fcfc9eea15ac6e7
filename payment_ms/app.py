"""The internal payment service."""

from __future__ import annotations

from litestar import Litestar

from shared.health import HealthController
from shared.lifespan import database_lifespan
from shared.problems import EXCEPTION_HANDLERS
from shared.settings import get_paygate_settings


def create_app() -> Litestar:
    paygate = get_paygate_settings()
    return Litestar(
        route_handlers=[HealthController],
        lifespan=[database_lifespan(paygate)],
        exception_handlers=EXCEPTION_HANDLERS,
        debug=False,
    )
