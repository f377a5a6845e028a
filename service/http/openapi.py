"""The OpenAPI document, made to tell the truth about the app it describes.

FastAPI derives paths, parameters and bodies from the routes; what it cannot see is added here, from
each route's own dependencies and the settings the app was built with, so the document follows the
code instead of a list kept by hand:

- every error is the one envelope (`ErrorEnvelope`: `{"error": {"code", "message"}}`), FastAPI's own
  `HTTPValidationError` included;
- each operation lists the errors it can send (a route declares only its own 404s): 422 (bad
  parameters or body), 400/413/415 where it takes a body, 401/403 where it needs an API key, 429 (with
  `Retry-After`) where it is rate-limited and the limit is on, 503 where it needs the pipeline;
- every response carries `X-Request-ID`;
- security is declared where it is enforced: writes always, reads only with `auth_reads`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import fastapi.routing
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from service.config import Settings
from service.http.auth import require_reader, require_writer
from service.http.deps import get_verity
from service.http.limits import rate_limit

ENVELOPE = "ErrorEnvelope"
_ENVELOPE_REF = {"$ref": f"#/components/schemas/{ENVELOPE}"}
_REQUEST_ID = {
    "description": "The request's id: the client's `X-Request-ID` when it is sane (≤ 128 of "
    "`A-Z a-z 0-9 . _ : -`), else a new one; it is on every log line of the request",
    "schema": {"type": "string", "pattern": "^[A-Za-z0-9._:-]{1,128}$"},
}
_REQUEST_ID_REF = {"$ref": "#/components/headers/RequestId"}
_RETRY_AFTER = {
    "description": "Seconds until the client's bucket holds a token again",
    "schema": {"type": "integer", "minimum": 1},
}
_CHALLENGE = {"description": "`Bearer`", "schema": {"type": "string", "const": "Bearer"}}


def install_openapi(app: FastAPI, settings: Settings) -> None:
    """Replace `app.openapi` by the truthful document (built once, on first use)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                summary=app.summary,
                description=app.description,
                routes=app.routes,
            )
            app.openapi_schema = truthful(document, app.routes, settings)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def truthful(document: dict[str, Any], routes: list[Any], settings: Settings) -> dict[str, Any]:
    """`document` (FastAPI's) with the responses, headers and security the routes really have."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    secured = False
    for route in _api_routes(routes):
        calls = set(_calls(route.dependant))
        for method in route.methods:
            operation = document["paths"][route.path_format].get(method.lower())
            if operation is None:
                continue
            needs_key = require_writer in calls or (require_reader in calls and settings.auth_reads)
            if needs_key:
                secured = True
            else:
                operation.pop("security", None)
            responses = operation.setdefault("responses", {})
            for status, description, headers in _errors(route, calls, needs_key, settings):
                declared = route.responses.get(status, {}).get("description")  # the route's own words
                responses[str(status)] = _error_response(declared or description, headers)
            for response in responses.values():
                response.setdefault("headers", {})["X-Request-ID"] = _REQUEST_ID_REF
            operation["responses"] = dict(sorted(responses.items()))
    document["components"]["headers"] = {"RequestId": _REQUEST_ID}
    if not secured:
        document["components"].pop("securitySchemes", None)
    if ENVELOPE not in schemas:
        schemas[ENVELOPE] = _envelope_schema(schemas)
    return document


def _api_routes(routes: list[Any]) -> Iterator[Any]:
    """The routes in the document, as seen with the routers they were included by (FastAPI ≥ 0.16x
    includes routers lazily: `iter_route_contexts` unfolds them; older versions list `APIRoute`s)."""
    unfold = getattr(fastapi.routing, "iter_route_contexts", None)
    for route in unfold(routes) if unfold else routes:
        if isinstance(getattr(route, "original_route", route), APIRoute) and route.include_in_schema:
            yield route


def _errors(
    route: Any, calls: set[Callable[..., Any]], needs_key: bool, settings: Settings
) -> Iterator[tuple[int, str, dict[str, Any]]]:
    has_body = route.body_field is not None
    if has_body:
        yield 400, "The request is malformed (an invalid `Content-Length`)", {}
    if has_body and settings.max_body_bytes > 0:
        yield 413, f"The body is larger than {settings.max_body_bytes:,} bytes (`payload_too_large`)", {}
    if has_body:
        yield 415, "The body is not sent as JSON (`unsupported_media_type`)", {}
    yield 422, _invalid(route), {}
    if needs_key:
        yield (
            401,
            "No API key: send `Authorization: Bearer <key>` (`unauthorized`)",
            {"WWW-Authenticate": _CHALLENGE},
        )
        yield 403, "The API key is not valid, or no keys are configured (`forbidden`)", {}
    if rate_limit in calls and settings.rate_limit_per_minute > 0:
        limit = settings.rate_limit_per_minute
        too_many = f"More than {limit} requests a minute from this client (`rate_limited`)"
        yield 429, too_many, {"Retry-After": _RETRY_AFTER}
    if get_verity in calls:
        unavailable = (
            "Starting, failed to start, or the store is unavailable (`not_ready`, `store_unavailable`)"
        )
        yield 503, unavailable, {}


def _invalid(route: Any) -> str:
    what = "a parameter or the body" if route.body_field is not None else "a parameter"
    return (
        f"Invalid request: {what} breaks the schema (`invalid_request`, `invalid_json`), "
        "or an undeclared query parameter (or a body where none is taken) was sent"
    )


def _error_response(description: str, headers: dict[str, Any]) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": _ENVELOPE_REF}},
    }
    if headers:
        response["headers"] = dict(headers)
    return response


def _envelope_schema(schemas: dict[str, Any]) -> dict[str, Any]:
    from service.http.schemas import ErrorEnvelope

    generated = ErrorEnvelope.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, definition in generated.pop("$defs", {}).items():
        schemas.setdefault(name, definition)
    return generated


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    """Every dependency callable of a route, however deeply nested."""
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from _calls(sub)
