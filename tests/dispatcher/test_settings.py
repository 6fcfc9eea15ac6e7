"""Dispatcher settings that could never deliver anything are refused when they are read."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from payment_ms.dispatcher.settings import DispatcherSettings
from shared.settings_errors import describe_validation_error


def test_a_lease_no_longer_than_a_request_is_refused_naming_the_setting() -> None:
    with pytest.raises(ValidationError) as refused:
        DispatcherSettings(lease_seconds=10.0, request_timeout_seconds=9.5)
    (line,) = describe_validation_error(refused.value, "DISPATCHER_")
    assert line.startswith("DISPATCHER_REQUEST_TIMEOUT_SECONDS:")
    assert "DISPATCHER_LEASE_SECONDS" in line


def test_a_lease_that_outlasts_a_request_is_accepted() -> None:
    settings = DispatcherSettings(lease_seconds=10.0, request_timeout_seconds=8.5)
    assert (settings.lease_seconds, settings.request_timeout_seconds) == (10.0, 8.5)
