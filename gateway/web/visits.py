"""What a console or portal page needs, as ONE dependency: the request, the signed-in session its area's
guard found, a database session, and the CSRF check, rendering and "back with a flash" every page does
the same way (``gateway.payments.dependencies.Caller`` says why one dependency rather than several)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

from litestar import Controller, Request, Response
from litestar.di import NamedDependency, Provide
from litestar.params import QueryParameter
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from gateway.payments.client import PaymentMsClient
from gateway.settings import GatewaySettings
from gateway.web.pages import PAGE_HEADERS, page, webhook_body
from gateway.web.sessions import ConsoleSession, PortalSession, checked_form
from shared.contracts import DeliveryDetail

S = TypeVar("S", ConsoleSession, PortalSession)

# Query parameters of pages: a list's cursor, and the action a redirect after a change names (its flash).
Cursor = Annotated[str | None, QueryParameter(max_length=200)]
Done = Annotated[str | None, QueryParameter(max_length=20)]


@dataclass(frozen=True, slots=True)
class Visit(Generic[S]):
    request: Request[Any, Any, Any]
    session: S
    db: AsyncSession

    @property
    def engine(self) -> AsyncEngine:
        engine: AsyncEngine = self.request.app.state.db_engine
        return engine

    @property
    def settings(self) -> GatewaySettings:
        settings: GatewaySettings = self.request.app.state.settings
        return settings

    @property
    def payment_ms(self) -> PaymentMsClient:
        client: PaymentMsClient = self.request.app.state.payment_ms
        return client

    async def form(self) -> dict[str, str]:
        """The submitted form, refused (403) unless it carries this session's CSRF token."""
        return await checked_form(self.request, self.session.csrf_token)

    def page(self, name: str, status_code: int = 200, **context: Any) -> Template:
        return page(name, status_code, session=self.session, **context)

    @staticmethod
    def back(path: str, done: str) -> Response[Any]:
        """After a change: see ``path`` again, with the flash message its ``done`` names."""
        return Redirect(f"{path}?done={done}", status_code=303, headers=PAGE_HEADERS)


ConsoleVisit = Visit[ConsoleSession]
PortalVisit = Visit[PortalSession]


def visit_provider(state_key: str) -> Provide:
    """The ``visit`` dependency of an area whose guard keeps the session in ``request.state.<state_key>``."""

    def provide_visit(
        request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]
    ) -> Visit[Any]:
        return Visit(request, getattr(request.state, state_key), db_session)

    return Provide(provide_visit, sync_to_thread=False)


class Pages(Controller):
    """The base of the console's and the portal's page controllers: pages, not API operations, so none is
    in the OpenAPI document. Each area adds its session guard and its ``visit`` dependency."""

    include_in_schema = False


async def delivery_page(
    visit: Visit[Any], name: str, delivery: DeliveryDetail, payer_details: bool, **context: Any
) -> Template:
    """A delivery's page in either area: its event, and the body its requests send as that partner gets
    it (``payer_details``: with the payer's name and email)."""
    event = await visit.payment_ms.get_event(delivery.event_id)
    return visit.page(
        name,
        title=f"Delivery {delivery.id}",
        section="Deliveries",
        delivery=delivery,
        event=event,
        request_body=webhook_body(event, payer_details=payer_details),
        **context,
    )
