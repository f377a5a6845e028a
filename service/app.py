"""The FastAPI application factory: builds the app, its lifespan and its error mapping.

No app object exists at import time; `uvicorn --factory service.app:create_app` (or `verity serve`)
calls `create_app()`. The lifespan builds the `Verity` pipeline in a background thread, so the server
listens at once and `/healthz` says "starting" until the models are loaded, the corpus indexed (only
when the store is empty) and the pipeline warmed up. Every error leaves as `{"error": {code, message}}`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from index.loaders import load_documents
from service.config import Settings
from service.deps import AppState
from service.documents_api import ITEM_TAGS
from service.documents_api import router as documents_router
from service.errors import VerityError
from service.limits import install_limits
from service.observability import configure_logging, install_observability
from service.openai_api import router as openai_router
from service.routes import router
from service.slack import http_enabled as slack_http_enabled
from service.web import router as web_router

if TYPE_CHECKING:  # importing the pipeline takes seconds: `_start` does it, after the server listens
    from service.pipeline import Verity

log = logging.getLogger("verity")

_HTTP_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


def create_app(settings: Settings | None = None, verity: Verity | None = None) -> FastAPI:
    """A new app. Pass `verity` (already built) to skip model loading, as the tests do."""
    settings = settings or Settings()
    if not logging.getLogger().handlers:  # a worker process of `verity serve --workers N`, or bare uvicorn
        configure_logging(settings.log_level, settings.log_format)
    state = AppState()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        thread = threading.Thread(
            target=_start, args=(settings, verity, state), name="verity-startup", daemon=True
        )
        thread.start()
        yield
        thread.join(timeout=0.1)  # a startup still running cannot be interrupted; it is a daemon thread

    app = FastAPI(
        title="Verity",
        summary="Answers questions from a news corpus, citing exact sentences, and refuses the rest.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.verity_state = state
    app.include_router(router)
    app.include_router(openai_router)
    app.include_router(web_router)
    app.include_router(documents_router)  # writes: POST /v1/documents, DELETE /v1/documents/{id}
    app.add_exception_handler(VerityError, _verity_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _internal_error)
    install_limits(app, settings)  # body size limit, rate limiter
    install_observability(app, state)  # request ids, JSON access log, GET /metrics (outermost middleware)
    if slack_http_enabled(settings):  # POST /slack/events exists only when Slack is configured
        from service.slack.http import mount_slack

        mount_slack(app, settings, state)
    return app


def _start(settings: Settings, verity: Verity | None, state: AppState) -> None:
    """Build (unless given), index the corpus if the store is empty, warm up, then mark ready.

    A store that cannot be reached yet (a Chroma server still starting) is retried with backoff, so the
    service comes up by itself once it is there; any other failure is final and shown by /healthz.
    """
    from index.store import UNAVAILABLE

    delay = 1.0
    while True:
        try:
            if verity is None:
                from service.pipeline import Verity

                if settings.serve_threads:
                    import torch

                    torch.set_num_threads(settings.serve_threads)

                log.info(
                    "loading models and opening the store at %s", settings.chroma_url or settings.data_dir
                )
                verity = Verity(settings)
            if verity.store.count() == 0:
                log.info("the store is empty: indexing %s", settings.corpus_dir)
                summary = verity.index(load_documents(settings.corpus_dir), prune=False, progress=False)
                log.info("indexed: %s", summary)
            verity.warm_up()
            break
        except UNAVAILABLE as exc:
            state.error = f"the vector store is unavailable, retrying: {exc}"
            log.warning("store unavailable at start, retrying in %.0fs: %s", delay, exc)
            time.sleep(delay)
            delay = min(delay * 2, 30.0)
        except Exception as exc:
            log.exception("Verity failed to start")
            state.error = str(exc) or type(exc).__name__
            return
    state.error = None
    state.verity = verity
    log.info("ready")


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
