"""The list filters of payment_ms's API, declared once: payment_ms's controllers and the gateway's
admin controllers read them from the query string with ``query_dependency`` (so both validate the
same types and bounds and document the same parameters), and the gateway's client sends them back
with ``to_params``."""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated, Any, TypeVar
from uuid import UUID

import msgspec
from litestar import Request
from litestar.di import Provide
from litestar.params import QueryParameter

from shared.contracts import BIGINT_MAX, DeliveryStatus, EventType, PaymentStatus, ProviderName
from shared.pagination import CURSOR_LENGTH, CURSOR_PATTERN
from shared.problems import BadRequestError

MAX_PAGE = 200

CreatedFrom = Annotated[datetime | None, QueryParameter(description="Inclusive lower bound on created_at")]
CreatedTo = Annotated[datetime | None, QueryParameter(description="Exclusive upper bound on created_at")]
Cursor = Annotated[
    str | None,
    QueryParameter(
        max_length=CURSOR_LENGTH,
        pattern=CURSOR_PATTERN,
        description="next_cursor of the previous page (opaque; empty or absent: the first page)",
    ),
]
Limit = Annotated[int, QueryParameter(ge=1, le=MAX_PAGE, description="Page size")]
AmountBound = Annotated[
    int | None, QueryParameter(ge=1, le=BIGINT_MAX, description="Amount bound, inclusive (minor units)")
]


class Query(msgspec.Struct, kw_only=True, frozen=True):
    """A set of query parameters; a field's ``name=`` is its name in the query string."""

    def to_params(self) -> list[tuple[str, str]]:
        """The filters that are set, as the query string carries them."""
        params = []
        for field in msgspec.structs.fields(self):
            value = getattr(self, field.name)
            if value is None:
                continue
            for item in value if isinstance(value, list | tuple) else (value,):  # a list: repeated
                text = item.isoformat() if isinstance(item, date | datetime) else str(item)
                params.append((field.encode_name, text))
        return params

    def as_kwargs(self) -> dict[str, Any]:
        return msgspec.structs.asdict(self)


class PaymentFilter(Query, frozen=True):
    status: PaymentStatus | None = None
    provider: ProviderName | None = None
    user_id: UUID | None = None
    reservation_id: UUID | None = None
    created_from: CreatedFrom = None
    created_to: CreatedTo = None
    # a filter on the scan in created_at order, never an order of its own
    amount_min: AmountBound = None
    amount_max: AmountBound = None
    cursor: Cursor = None
    limit: Limit = 50


MAX_STATS_DAYS = 366
DEFAULT_STATS_DAYS = 30


class StatsPeriod(Query, frozen=True):
    """The ``days`` UTC days that end with ``to``: every combination is a window (none too long, none
    reversed), so whatever the document allows is answered."""

    day_to: Annotated[
        date | None, QueryParameter(name="to", description="Last UTC day, inclusive (default: today)")
    ] = msgspec.field(default=None, name="to")
    days: Annotated[
        int,
        QueryParameter(
            ge=1, le=MAX_STATS_DAYS, description="How many days, ending with `to` (never before 0001-01-01)"
        ),
    ] = DEFAULT_STATS_DAYS


class EventFilter(Query, frozen=True):
    payment_id: UUID | None = None
    event_type: Annotated[EventType | None, QueryParameter(name="type")] = msgspec.field(
        default=None, name="type"
    )
    created_from: CreatedFrom = None
    created_to: CreatedTo = None
    cursor: Cursor = None
    limit: Limit = 50


class DeliveryFilter(Query, frozen=True):
    status: DeliveryStatus | None = None
    partner_id: UUID | None = None
    event_id: UUID | None = None
    payment_id: Annotated[
        UUID | None, QueryParameter(description="The deliveries of one payment's events")
    ] = None
    created_from: CreatedFrom = None
    created_to: CreatedTo = None
    cursor: Cursor = None
    limit: Limit = 50


class FeedQuery(Query, frozen=True):
    """A partner's pull feed: its event types, from its registration on, oldest first after ``after``;
    events younger than ``settle_seconds`` are held back (see ``payment_ms.deliveries.services``)."""

    types: Annotated[list[EventType], QueryParameter(name="type", min_items=1, max_items=16)] = msgspec.field(
        name="type"
    )
    created_from: CreatedFrom = None
    settle_seconds: Annotated[float, QueryParameter(ge=0, le=60, description="Hold back the newest")] = 2.0
    after: Cursor = None
    limit: Limit = 50


class HealthQuery(Query, frozen=True):
    since: Annotated[datetime | None, QueryParameter(description="Default: 24 hours ago")] = None
    partner_id: Annotated[list[UUID] | None, QueryParameter(max_items=500)] = None


QueryT = TypeVar("QueryT", bound=Query)


def _from_query(hint: Any) -> Any:
    """``hint`` marked as a query parameter (Litestar 3 no longer infers it)."""
    extras = getattr(hint, "__metadata__", ())
    if any(isinstance(extra, QueryParameter) for extra in extras):
        return hint
    return Annotated[hint, QueryParameter()]


def _is_datetime(hint: Any) -> bool:
    return hint is datetime or any(_is_datetime(arg) for arg in typing.get_args(hint))


def refuse_bare_numbers(request: Request[Any, Any, Any], names: list[str]) -> None:
    """Litestar converts query values leniently: ``created_from=12345`` would be a Unix timestamp.
    The documents say ``format: date-time``, so only an RFC 3339 string is one (a 400 otherwise)."""
    for name in names:
        for raw in request.query_params.getall(name, []):
            try:
                msgspec.convert(raw, datetime, strict=True)
            except msgspec.ValidationError:
                raise BadRequestError(f"{name} must be an RFC 3339 date-time, got {raw[:40]!r}.") from None


def query_dependency(cls: type[QueryT]) -> Provide:
    """A Litestar dependency that reads ``cls``'s fields from the query string (each with its type,
    bounds and description, documented in OpenAPI) and answers the struct."""
    hints = typing.get_type_hints(cls, include_extras=True)
    datetimes = [
        field.encode_name for field in msgspec.structs.fields(cls) if _is_datetime(hints[field.name])
    ]
    parameters = [
        inspect.Parameter(
            field.name,
            inspect.Parameter.KEYWORD_ONLY,
            default=inspect.Parameter.empty if field.required else field.default,
            annotation=_from_query(hints[field.name]),
        )
        for field in msgspec.structs.fields(cls)
    ]

    def provide(request: Request[Any, Any, Any], **values: Any) -> QueryT:
        refuse_bare_numbers(request, datetimes)
        return cls(**values)

    request = inspect.Parameter("request", inspect.Parameter.KEYWORD_ONLY, annotation=Request[Any, Any, Any])
    provide.__signature__ = inspect.Signature([request, *parameters], return_annotation=cls)  # type: ignore[attr-defined]
    provide.__annotations__ = {
        "request": Request[Any, Any, Any],
        **{p.name: p.annotation for p in parameters},
        "return": cls,
    }
    provide.__name__ = f"provide_{cls.__name__}"
    return Provide(typing.cast(Callable[..., QueryT], provide), sync_to_thread=False)
