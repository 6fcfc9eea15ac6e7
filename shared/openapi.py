"""Each service's OpenAPI document and docs UI, served by the service itself.

- ``/schema``: Swagger UI, whose files come from the pinned ``swagger-ui-py`` package and are served
  from ``/schema/assets``: the page loads nothing from another host, so it works offline.
- ``/schema/openapi.json`` and ``/schema/openapi.yaml`` (``.yml`` too): the document.
- ``PAYGATE_API_DOCS=false`` removes all of it (e.g. in production).

Litestar builds the document from the handlers; the finalizers (``shared.openapi_finalize``) then add
what Litestar cannot know or loses (the event catalog as OpenAPI 3.1 ``webhooks``, msgspec's exact
schemas, integer bounds, examples, links) once, before any of the renderers sees it.
"""

from __future__ import annotations

import copy
import importlib.util
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import msgspec
from litestar import Request, get
from litestar.exceptions import NotFoundException
from litestar.openapi.config import OpenAPIConfig
from litestar.openapi.plugins import (
    JsonRenderPlugin,
    OpenAPIRenderPlugin,
    SwaggerRenderPlugin,
    YamlRenderPlugin,
)
from litestar.openapi.spec import Components, Reference, SecurityRequirement, SecurityScheme
from litestar.params import FromPath
from litestar.response import File
from litestar.types import ControllerRouterHandler

from shared import events
from shared.openapi_finalize import REF_TEMPLATE, examples, integer_bounds, plain_parameters, struct_schemas
from shared.settings import PaygateSettings

SCHEMA_PATH = "/schema"
ASSETS_PATH = f"{SCHEMA_PATH}/assets"
# The Swagger UI files the page needs (the package ships the editor too: not served).
ASSET_FILES = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui-standalone-preset.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "favicon-32x32.png": "image/png",
}

Finalizer = Callable[[dict[str, Any]], None]


def swagger_ui_dir() -> Path:
    """The static files of the pinned ``swagger-ui-py`` (found without importing the package)."""
    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("swagger-ui-py is not installed (a dependency of paygate)")
    return Path(next(iter(spec.submodule_search_locations))) / "static"


class _Finalized:
    """A render plugin mixin: every renderer shows the finalized document (built once, then cached)."""

    finalizers: Sequence[Finalizer] = ()
    _cache: dict[int, dict[str, Any]]

    def render(self, request: Request, openapi_schema: dict[str, Any]) -> bytes:
        key = id(openapi_schema)  # Litestar builds the document once and hands the same dict each time
        done = self._cache.get(key)
        if done is None:
            done = copy.deepcopy(openapi_schema)
            for finalize in self.finalizers:
                finalize(done)
            self._cache.clear()
            self._cache[key] = done
        return super().render(request, done)  # type: ignore[misc]


def _renderers(finalizers: Sequence[Finalizer]) -> list[OpenAPIRenderPlugin]:
    cache: dict[int, dict[str, Any]] = {}
    attrs = {"finalizers": tuple(finalizers), "_cache": cache}
    swagger = type("SwaggerUI", (_Finalized, SwaggerRenderPlugin), attrs)
    json_ = type("OpenAPIJson", (_Finalized, JsonRenderPlugin), attrs)
    yaml = type("OpenAPIYaml", (_Finalized, YamlRenderPlugin), attrs)
    return [
        swagger(
            js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
            css_url=f"{ASSETS_PATH}/swagger-ui.css",
            standalone_preset_js_url=f"{ASSETS_PATH}/swagger-ui-standalone-preset.js",
            favicon=f"<link rel='icon' type='image/png' href='{ASSETS_PATH}/favicon-32x32.png'>",
            path="/",
        ),
        json_(),
        yaml(),
    ]


# The Standard Webhooks headers of every signed event: the catalog's webhooks and the gateway's receiver.
STANDARD_WEBHOOK_HEADERS = [
    {
        "name": name,
        "in": "header",
        "required": True,
        "description": text,
        "schema": {"type": "string", **extra},
        "example": example,
    }
    for name, text, extra, example in (
        (
            "webhook-id",
            "The event id: the same on every retry of this event (deduplicate on it).",
            {"format": "uuid"},
            events.CATALOG_EXAMPLE_ID,
        ),
        ("webhook-timestamp", "Unix seconds of this attempt.", {"pattern": "^[0-9]+$"}, "1795000000"),
        (
            "webhook-signature",
            "Space-separated `v1,<base64 HMAC-SHA256>` signatures of `{id}.{timestamp}.{body}`, one per"
            " secret that signs right now (two during a rotation).",
            {"pattern": "^v1,[A-Za-z0-9+/=]+( v1,[A-Za-z0-9+/=]+)*$"},
            "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=",
        ),
    )
]


def webhooks_section(document: dict[str, Any]) -> None:
    """The event catalog as the document's ``webhooks`` (OpenAPI 3.1), with its schemas as components."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    hooks: dict[str, Any] = {}
    for name, definition in events.CATALOG.items():
        body, defs = events.body_schema(name, ref_template="#/components/schemas/{name}")
        schemas.update(defs)
        hooks[name] = {
            "post": {
                "operationId": "event_" + name.replace(".", "_"),
                "summary": name,
                "description": definition.fires_when,
                "tags": ["webhooks"],
                "parameters": STANDARD_WEBHOOK_HEADERS,
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": body, "example": events.example_body(name)}},
                },
                "responses": {
                    "2XX": {
                        "description": "Received: any 2xx. Anything else, or no answer in time, is retried."
                    },
                    "410": {"description": "Gone: the partner's endpoint is disabled until re-enabled."},
                },
            }
        }
    document["webhooks"] = hooks


def api_docs(
    settings: PaygateSettings,
    *,
    title: str,
    description: str,
    security_schemes: dict[str, SecurityScheme | Reference],
    security: list[SecurityRequirement] | None = None,
    finalizers: Sequence[Finalizer] = (),
) -> tuple[OpenAPIConfig | None, list[ControllerRouterHandler]]:
    """The OpenAPI config and the docs' asset route, or ``(None, [])`` with ``PAYGATE_API_DOCS`` off."""
    if not settings.api_docs:
        return None, []
    assets = swagger_ui_dir()
    config = OpenAPIConfig(
        title=title,
        version="0.1.0",
        description=description,
        path=SCHEMA_PATH,
        render_plugins=_renderers(
            [
                struct_schemas,
                *finalizers,
                webhooks_section,
                retry_after,
                plain_parameters,
                integer_bounds,
                examples,
            ]
        ),
        components=Components(security_schemes=security_schemes),
        security=security,
    )

    @get(f"{ASSETS_PATH}/{{name:str}}", include_in_schema=False, sync_to_thread=False)
    def docs_asset(name: FromPath[str]) -> File:
        """One of the docs UI's files; cached for a day (the package version pins their content)."""
        media_type = ASSET_FILES.get(name)
        if media_type is None:
            raise NotFoundException()
        return File(
            assets / name,
            media_type=media_type,
            content_disposition_type="inline",
            headers={"Cache-Control": "max-age=86400", "X-Content-Type-Options": "nosniff"},
        )

    return config, [docs_asset]


def signed_event_receiver(operation_id: str) -> Finalizer:
    """The operation takes a signed event, as partners do: the Standard Webhooks headers (required)
    and the envelope as its body (unknown fields tolerated: events grow fields)."""

    def finalize(document: dict[str, Any]) -> None:
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        _, defs = msgspec.json.schema_components([events.WebhookEnvelope], ref_template=REF_TEMPLATE)
        schemas.update(defs)
        for item in document.get("paths", {}).values():
            op = item.get("post", {})
            if op.get("operationId") == operation_id:
                op["parameters"] = [*op.get("parameters", []), *STANDARD_WEBHOOK_HEADERS]
                body = {"$ref": REF_TEMPLATE.format(name="WebhookEnvelope")}
                example = events.example_body("payment.succeeded")
                media = {"schema": body, "example": example}
                op["requestBody"] = {"required": True, "content": {"application/json": media}}

    return finalize


def retry_after(document: dict[str, Any]) -> None:
    """Every 429 and 503 says when to come back (``Retry-After``, seconds)."""
    header = {
        "description": "Seconds to wait before retrying",
        "schema": {"type": "integer", "minimum": 1, "maximum": 86400},
        "example": 5,
    }
    for item in document.get("paths", {}).values():
        for method, op in item.items():
            if method in {"get", "post", "put", "patch", "delete"}:
                for status in ("429", "503"):
                    if status in op.get("responses", {}):
                        op["responses"][status].setdefault("headers", {})["Retry-After"] = header


def amount_limit(maximum: int, schemas: Sequence[str]) -> Finalizer:
    """``PAYGATE_MAX_AMOUNT`` as the ``maximum`` of the ``amount`` of the given request schemas."""

    def finalize(document: dict[str, Any]) -> None:
        components = document.get("components", {}).get("schemas", {})
        for name in schemas:
            amount = components.get(name, {}).get("properties", {}).get("amount")
            if amount is None:
                continue
            for branch in amount.get("anyOf", amount.get("oneOf", [amount])):
                if branch.get("type") == "integer":
                    branch["maximum"] = maximum
                    branch.pop("exclusiveMinimum", None)
                    branch["minimum"] = 1
            amount["description"] = (
                f"Integer minor units (cents, yen…), 1 to {maximum} "
                "(PAYGATE_MAX_AMOUNT, the same in both services)"
            )

    return finalize
