"""Parameters and documented errors the payment controllers share."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from litestar.params import HeaderParameter, PathParameter

from gateway.openapi import ADMIN, INPUT, UPSTREAM, USER

PaymentId = Annotated[UUID, PathParameter(description="Payment id")]
RequiredKey = Annotated[str, HeaderParameter(name="Idempotency-Key", min_length=1, max_length=255)]
OptionalKey = Annotated[str | None, HeaderParameter(name="Idempotency-Key", min_length=1, max_length=255)]

USER_ERRORS = (*INPUT, *USER, 404, *UPSTREAM)
ADMIN_ERRORS = (*INPUT, *ADMIN, 404, *UPSTREAM)
LIST_ERRORS = (*INPUT, *ADMIN, *UPSTREAM)  # a list is never a 404
COMMAND_ERRORS = (409, 422)
USER_COMMAND_ERRORS = (*USER_ERRORS, *COMMAND_ERRORS)  # 409: the payment's state or the key in use
ADMIN_COMMAND_ERRORS = (*ADMIN_ERRORS, *COMMAND_ERRORS)
