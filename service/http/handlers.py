"""The one error mapping of the HTTP API: every error leaves as `{"error": {"code", "message"}}`.

The exception tree lives in `service/errors.py` (each error carries its status and code); this module
turns it, FastAPI's validation errors and Starlette's HTTP errors into that envelope, so routes, the
Slack mount and the middlewares never build an error body of their own.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any

import fastapi.routing
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute, Match

from service.errors import VerityError

log = logging.getLogger("verity")

_HTTP_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


def install_error_handlers(app: FastAPI) -> None:
    """Map every error `app` can raise to the one envelope."""
    app.add_exception_handler(VerityError, _verity_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _internal_error)


def error_response(
    status: int, code: str, message: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """An error response in the one shape of the API."""
    extra = dict(headers) if headers else None
    return JSONResponse(envelope(code, message), status_code=status, headers=extra)


def envelope(code: str, message: str) -> dict[str, dict[str, str]]:
    """The one error shape of the API, `{"error": {"code", "message"}}` (`ErrorEnvelope` in the OpenAPI
    document): responses, the body-size middleware and the `error` events of streams all send it."""
    return {"error": {"code": code, "message": message}}


async def _verity_error(request: Request, exc: VerityError) -> JSONResponse:
    return error_response(exc.status, exc.code, exc.message, headers=exc.headers)


async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    cause = exc.__cause__  # FastAPI's "error parsing the body" hides why; say it
    if isinstance(cause, UnicodeDecodeError):
        message = f"request body is not valid JSON: it is not UTF-8 (invalid byte at position {cause.start})"
        return error_response(422, "invalid_json", message)
    if isinstance(cause, RecursionError):
        return error_response(422, "invalid_json", "request body is not valid JSON: it is nested too deeply")
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    headers = exc.headers
    if exc.status_code == 405:
        headers = {**(headers or {}), "Allow": ", ".join(allowed_methods(request))}
        message = f"{request.method} is not allowed here; allowed: {headers['Allow']}"
        return error_response(405, code, message, headers=headers)
    return error_response(exc.status_code, code, str(exc.detail), headers=headers)


def allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at the request's path (Starlette's 405 names only the first
    route's, though `/v1/documents` has a GET and a POST route)."""
    unfold = getattr(fastapi.routing, "iter_route_contexts", None)
    methods: set[str] = set()
    for route in unfold(request.app.routes) if unfold else request.app.routes:
        original = getattr(route, "original_route", route)
        if isinstance(original, BaseRoute) and original.matches(request.scope)[0] != Match.NONE:
            methods |= set(getattr(original, "methods", None) or ())
    return sorted(methods)


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors: Sequence[Any] = exc.errors()
    for error in errors:
        if error.get("type") == "json_invalid":
            reason = (error.get("ctx") or {}).get("error", "malformed JSON")
            where = error.get("loc", ("body", "?"))[-1]
            message = f"request body is not valid JSON ({reason}: character {where})"
            return error_response(422, "invalid_json", message)
    if _body_not_json(request, errors):
        return error_response(
            415, "unsupported_media_type", "the request body must be JSON (Content-Type: application/json)"
        )
    if any(tuple(e.get("loc", ())) == ("body",) and e.get("type") == "missing" for e in errors):
        return error_response(422, "invalid_request", "a JSON request body is required")
    fields = "; ".join(f"{_location(e.get('loc', ()))}: {_message(e)}" for e in errors)
    return error_response(422, "invalid_request", f"invalid request: {fields}")


def _body_not_json(request: Request, errors: Sequence[Any]) -> bool:
    """A body sent with a non-JSON content type reaches validation as raw bytes."""
    content_type = request.headers.get("content-type", "")
    is_json = content_type.split(";")[0].strip().lower().endswith(("/json", "+json"))
    return not is_json and any(
        tuple(e.get("loc", ())) == ("body",) and e.get("type") != "missing" for e in errors
    )


# What pydantic adds to an error's location inside a union (`constrained-str`, `list[ChatTextPart]`, our
# own `user-message` tags): not part of the request, so not shown.
_UNION_MEMBER = re.compile(r"^(?:[a-z]+(?:-[a-z]+)+|\w+\[.*\])$")


def _location(loc: Sequence[Any]) -> str:
    from service.http.documents_api import ITEM_TAGS  # at call time: that module imports this one's peers

    parts = [
        str(p) for p in loc if p not in ITEM_TAGS and not (isinstance(p, str) and _UNION_MEMBER.match(p))
    ]
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:] or [parts[0]]
    return ".".join(parts) or "request"


def _message(error: dict[str, Any]) -> str:
    message = str(error.get("msg", "invalid value"))
    return message.removeprefix("Value error, ")


async def _internal_error(request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, "internal_error", "an internal error occurred; it has been logged")
