"""Finalizers that make a Litestar-built OpenAPI document exact (``shared.openapi`` runs them once).

- ``struct_schemas``: every component that is one of our msgspec Structs gets msgspec's own JSON
  Schema, which keeps what Litestar's rendering loses: constraints on optional fields
  (``RefundCreate.amount``'s ``minimum: 1``), ``additionalProperties: false`` where unknown fields are
  refused (``forbid_unknown_fields``), nested structs.
- ``integer_bounds``: every integer without bounds is bounded by PostgreSQL's BIGINT.
- ``examples``: every request and response media type without an example gets one made from its
  schema (realistic values by field name; the tests validate every example against its schema).
- ``request_bodies``: bodies read by a dependency instead of a ``data`` parameter.
- ``links``: the operations an answer leads to (checkout -> get -> verify -> cancel).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterator, Mapping
from typing import Any

import msgspec

Document = dict[str, Any]
Finalizer = Callable[[Document], None]

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
REF_TEMPLATE = "#/components/schemas/{name}"
_OUR_MODULES = ("shared.", "gateway.", "payment_ms.")


def _all_structs() -> dict[str, type[msgspec.Struct]]:
    """Our msgspec Structs by class name (names used twice are left to Litestar's rendering)."""
    found: dict[str, type[msgspec.Struct]] = {}
    twice: set[str] = set()
    pending = list(msgspec.Struct.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if not cls.__module__.startswith(_OUR_MODULES):
            continue
        if cls.__name__ in found and found[cls.__name__] is not cls:
            twice.add(cls.__name__)
        found[cls.__name__] = cls
    return {name: cls for name, cls in found.items() if name not in twice}


def struct_schemas(document: Document) -> None:
    schemas: dict[str, Any] = document.setdefault("components", {}).setdefault("schemas", {})
    structs = _all_structs()
    wanted = [structs[name] for name in schemas if name in structs]
    if not wanted:
        return
    _, defs = msgspec.json.schema_components(wanted, ref_template=REF_TEMPLATE)
    schemas.update(defs)


def _schemas_in(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _schemas_in(value)
    elif isinstance(node, list):
        for value in node:
            yield from _schemas_in(value)


def plain_parameters(document: Document) -> None:
    """An optional date-time query parameter is a ``date-time`` string, not "a date-time or null":
    the services read those strictly (``shared.queries.refuse_bare_numbers``: ``null`` is a 400).
    Other optional parameters keep their ``null``: Litestar reads ``?status=null`` as not given."""
    for op in _operations(document):
        for parameter in op.get("parameters", []):
            schema = parameter.get("schema", {})
            for union in ("oneOf", "anyOf"):
                branches = schema.get(union) or []
                kept = [b for b in branches if b.get("type") != "null"]
                if len(kept) == 1 < len(branches) and kept[0].get("format") == "date-time":
                    rest = {k: v for k, v in schema.items() if k != union}
                    parameter["schema"] = {**kept[0], **rest}


def integer_bounds(document: Document) -> None:
    for node in _schemas_in(document):
        kind = node.get("type")
        if kind == "integer" or (isinstance(kind, list) and "integer" in kind):
            if "minimum" not in node and "exclusiveMinimum" not in node:
                node["minimum"] = INT64_MIN
            if "maximum" not in node and "exclusiveMaximum" not in node:
                node["maximum"] = INT64_MAX
            node.setdefault("format", "int64")


# --- examples ---------------------------------------------------------------------------------------

EXAMPLE_UUID = "0f8fad5b-d9cb-469f-a165-70867728950e"
EXAMPLE_TIME = "2026-11-22T10:00:00Z"
# Realistic values by property name; anything else is made from its type.
BY_NAME: dict[str, Any] = {
    "email": "user@paygate.dev",
    "payer_email": "payer@example.com",
    "password": "user-password",
    "name": "acme",
    "payer_name": "Pat Payer",
    "currency": "EUR",
    "amount": 2500,
    "description": "Concert ticket, row 4",
    "url": "https://hooks.acme.example/paygate",
    "return_url": "https://shop.example/paid",
    "cancel_url": "https://shop.example/cancelled",
    "checkout_url": "https://checkout.paygate.example/checkout/mock/0f8fad5b",
    "access_token": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxNmZkMjcwNiJ9.c2lnbmF0dXJl",
    "token_type": "bearer",
    "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    "reason": "customer request",
    "confirmed_by": "front desk",
    "day": "2026-11-22",
    "day_from": "2026-11-01",
    "day_to": "2026-11-22",
    "next_cursor": None,
    "cursor": None,
    "type": "https://paygate.dev/problems/not-found",
    "title": "Not found",
    "detail": "No such payment.",
    "fingerprint": "3b1f0c9e",
    "request_id": "4bf92f3577b34da6a3ce929d0e0e4736",
    "failure_reason": None,
}


def _resolve(document: Document, schema: dict[str, Any]) -> dict[str, Any]:
    seen = 0
    while "$ref" in schema and seen < 20:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = document["components"]["schemas"][name]
        seen += 1
    return schema


def _string(schema: Mapping[str, Any]) -> str:
    fmt = schema.get("format")
    if fmt == "uuid":
        return EXAMPLE_UUID
    if fmt == "date-time":
        return EXAMPLE_TIME
    if fmt == "date":
        return "2026-11-22"
    if fmt in ("uri", "url"):
        return "https://shop.example/paid"
    pattern = schema.get("pattern", "")
    if pattern.startswith("^(AED|"):  # CURRENCY_PATTERN
        return "EUR"
    if "tT][pP]" in pattern:
        return "https://shop.example/paid"
    if "@" in pattern:
        return "user@paygate.dev"
    text = "example"
    minimum = int(schema.get("minLength", 0))
    return text + "x" * max(0, minimum - len(text))


def example_of(document: Document, schema: Mapping[str, Any], name: str | None = None, depth: int = 0) -> Any:
    """A value that validates against ``schema`` (``name``: the property it is for)."""
    schema = _resolve(document, dict(schema))
    for key in ("example", "default", "const"):
        if key in schema and schema[key] is not None:
            return schema[key]
    if schema.get("examples"):
        return schema["examples"][0]
    if "enum" in schema:
        return next((v for v in schema["enum"] if v is not None), None)
    for union in ("oneOf", "anyOf"):
        if union in schema:
            branches = [b for b in schema[union] if _resolve(document, b).get("type") != "null"]
            if not branches:
                return None
            if name in BY_NAME and BY_NAME[name] is None:
                return None
            return example_of(document, branches[0], name, depth)
    kind = schema.get("type")
    if isinstance(kind, list):
        kinds = [k for k in kind if k != "null"]
        if not kinds:
            return None
        kind = kinds[0]
    if name in BY_NAME and kind != "object" and kind != "array":
        value = BY_NAME[name]
        if value is not None:
            return value
    if kind == "object" or "properties" in schema:
        if depth > 6:
            return {}
        properties = schema.get("properties", {})
        return {key: example_of(document, sub, key, depth + 1) for key, sub in properties.items()}
    if kind == "array":
        items = schema.get("items", {})
        count = max(1, int(schema.get("minItems", 1)))
        return [example_of(document, items, _singular(name), depth + 1) for _ in range(count)]
    if kind == "integer":
        low = schema.get(
            "minimum", schema.get("exclusiveMinimum", 0) + 1 if "exclusiveMinimum" in schema else 0
        )
        return max(int(low), 1) if schema.get("maximum", 2) >= 1 else int(low)
    if kind == "number":
        return 1
    if kind == "boolean":
        return True
    if kind == "string":
        return _string(schema)
    return None


def _singular(name: str | None) -> str | None:
    if name is None:
        return None
    return {"event_types": "event_type", "secrets": "secret", "items": None}.get(name, name.rstrip("s"))


_STATUS = re.compile(r"^[1-5][0-9][0-9]$")


def examples(document: Document) -> None:
    operations = [
        op
        for section in ("paths", "webhooks")
        for item in document.get(section, {}).values()
        for method, op in item.items()
        if method in {"get", "post", "put", "patch", "delete"}
    ]
    for op in operations:
        for media in op.get("requestBody", {}).get("content", {}).values():
            if "schema" in media and "example" not in media and "examples" not in media:
                media["example"] = example_of(document, media["schema"])
        for code, response in op.get("responses", {}).items():
            for media_type, media in response.get("content", {}).items():
                if "schema" not in media or "example" in media or "examples" in media:
                    continue
                value = example_of(document, media["schema"])
                if (
                    media_type == "application/problem+json"
                    and isinstance(value, dict)
                    and _STATUS.match(code)
                ):
                    value = _problem_example(int(code))
                media["example"] = value


_PROBLEMS = {
    400: ("bad-request", "Bad request", "Malformed JSON."),
    401: ("unauthenticated", "Authentication required", "Invalid or expired token."),
    403: ("forbidden", "Forbidden", "Admins only."),
    404: ("not-found", "Not found", "No such payment."),
    409: ("conflict", "Conflict", "The payment is already settled."),
    413: ("payload-too-large", "Payload too large", "The body is larger than 1048576 bytes."),
    422: ("invalid-input", "Invalid input", "amount exceeds the maximum of 100000000 minor units"),
    429: ("too-many-requests", "Too many requests", "Too many failed logins; retry later."),
    502: ("bad-gateway", "Bad gateway", "The payment service failed."),
    503: ("service-unavailable", "Service unavailable", "The database is unavailable; retry later."),
    504: ("gateway-timeout", "Gateway timeout", "The payment service did not answer in time."),
}


def _problem_example(status: int) -> dict[str, Any]:
    code, title, detail = _PROBLEMS.get(status, ("error", "Error", "Something went wrong."))
    return {
        "type": f"https://paygate.dev/problems/{code}",
        "title": title,
        "status": status,
        "detail": detail,
    }


# --- bodies read by a dependency, and links -----------------------------------------------------------


def request_bodies(bodies: Mapping[str, type[msgspec.Struct]], optional: Collection[str] = ()) -> Finalizer:
    """``{operationId: Struct}``: a JSON body of that shape on each of those operations, required
    unless its operation is in ``optional`` (no body: the struct's defaults)."""

    def finalize(document: Document) -> None:
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        _, defs = msgspec.json.schema_components(list(bodies.values()), ref_template=REF_TEMPLATE)
        schemas.update(defs)
        for op in _operations(document):
            shape = bodies.get(op.get("operationId", ""))
            if shape is not None:
                op["requestBody"] = {
                    "required": op["operationId"] not in optional,
                    "content": {
                        "application/json": {"schema": {"$ref": REF_TEMPLATE.format(name=shape.__name__)}}
                    },
                }

    return finalize


def optional_bodies(operation_ids: Collection[str]) -> Finalizer:
    """Bodies a handler reads as ``data: Struct | None = None`` (absent: the defaults), which Litestar
    documents as required."""

    def finalize(document: Document) -> None:
        for op in _operations(document):
            if op.get("operationId") in operation_ids and "requestBody" in op:
                op["requestBody"]["required"] = False

    return finalize


def _operations(document: Document) -> Iterator[dict[str, Any]]:
    for item in document.get("paths", {}).values():
        for method, op in item.items():
            if method in {"get", "post", "put", "patch", "delete"}:
                yield op


def links(table: Mapping[tuple[str, str], Mapping[str, dict[str, Any]]]) -> Finalizer:
    """``{(operationId, status): {link name: Link object}}``."""

    def finalize(document: Document) -> None:
        for op in _operations(document):
            for (operation_id, status), named in table.items():
                if op.get("operationId") == operation_id and status in op.get("responses", {}):
                    op["responses"][status].setdefault("links", {}).update(named)

    return finalize
