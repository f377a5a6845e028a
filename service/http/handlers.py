"""The one error mapping of the HTTP API: every error leaves as `{"error": {"code", "message"}}`.

The exception tree lives in `service/errors.py` (each error carries its status and code); this module
turns it, FastAPI's validation errors and Starlette's HTTP errors into that envelope, so routes, the
Slack mount and the middlewares never build an error body of their own.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

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
    """The one error shape of the API: `{"error": {"code", "message"}}`."""
    body = {"error": {"code": code, "message": message}}
    return JSONResponse(body, status_code=status, headers=dict(headers) if headers else None)


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
    return error_response(exc.status_code, code, str(exc.detail), headers=exc.headers)


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


def _location(loc: Sequence[Any]) -> str:
    from service.http.documents_api import ITEM_TAGS  # at call time: that module imports this one's peers

    parts = [str(p) for p in loc if p not in ITEM_TAGS]  # which kind of item: not part of the path
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:] or [parts[0]]
    return ".".join(parts) or "request"


def _message(error: dict[str, Any]) -> str:
    message = str(error.get("msg", "invalid value"))
    return message.removeprefix("Value error, ")


async def _internal_error(request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, "internal_error", "an internal error occurred; it has been logged")
