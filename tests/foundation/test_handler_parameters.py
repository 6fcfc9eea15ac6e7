"""Every handler says what each parameter is (a dependency, a path, query or header parameter, the
body): Litestar 2 still infers them and warns; Litestar 3 will not infer them at all."""

from __future__ import annotations

import warnings

from litestar.exceptions import LitestarDeprecationWarning

from gateway.app import create_app as create_gateway
from gateway.settings import GatewaySettings
from payment_ms.app import create_app as create_payment_ms
from payment_ms.settings import PaymentSettings


def test_no_handler_leaves_a_parameter_to_inference() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", LitestarDeprecationWarning)
        create_gateway(GatewaySettings(internal_events_url="off"))
        create_payment_ms(PaymentSettings())
    assert [str(w.message) for w in caught if issubclass(w.category, LitestarDeprecationWarning)] == []
