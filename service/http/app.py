"""The FastAPI application factory: builds the app, its lifespan, its routers and middlewares.

No app object exists at import time; `uvicorn --factory service.http.app:create_app` (or `verity serve`)
calls `create_app()`. The lifespan builds the `Verity` pipeline in a background thread, so the server
listens at once and `/healthz` says "starting" until the models are loaded, the corpus indexed (only
when the store is empty) and the pipeline warmed up. Errors are mapped to the one envelope by `handlers.py`.
"""

from __future__ import annotations

import gc
import logging
import sys
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from fastapi import FastAPI

from index.loaders import load_documents
from service.config import Settings
from service.http.deps import AppState, StrictRequest
from service.http.documents_api import router as documents_router
from service.http.handlers import install_error_handlers
from service.http.limits import install_limits
from service.http.observability import configure_logging, install_observability
from service.http.openai_api import router as openai_router
from service.http.openapi import install_openapi
from service.http.routes import router
from service.http.web import router as web_router
from service.slack import http_enabled as slack_http_enabled

if TYPE_CHECKING:  # importing the pipeline takes seconds: `_start` does it, after the server listens
    from service.answering.pipeline import Verity

log = logging.getLogger("verity")


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
        if verity is None and state.verity is not None:  # what this app started: its parse worker
            state.verity.parser.close()

    app = FastAPI(
        title="Verity",
        summary="Answers questions from a news corpus, citing exact sentences, and refuses the rest.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.verity_state = state
    api = [StrictRequest]  # the API's routes refuse query parameters and bodies they do not declare
    app.include_router(router, dependencies=api)
    app.include_router(openai_router, dependencies=api)
    app.include_router(web_router)
    app.include_router(documents_router, dependencies=api)  # writes: POST/DELETE /v1/documents
    install_error_handlers(app)
    install_limits(app, settings)  # body size limit, rate limiter
    install_observability(app, state, dependencies=api)  # request ids, JSON logs, GET /metrics (outermost)
    install_openapi(app, settings)  # /openapi.json as the routes and these settings really behave
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
                from service.answering.pipeline import Verity

                log.info(
                    "loading models and opening the store at %s", settings.chroma_url or settings.data_dir
                )
                verity = Verity(settings)
                if settings.serve_threads:
                    from index.embed import limit_threads

                    # idle pool threads spin after each call: ~30 ms of CPU a question on 2 cores (news)
                    limit_threads(settings.serve_threads)
                # a request's Python work and the model's GIL-free forwards interleave: with Python's
                # default 5 ms a thread back from the model (or the event loop) waits behind a busy one
                sys.setswitchinterval(settings.serve_switch_interval_ms / 1000)
                if settings.serve_parse_worker:
                    from index.analysis import ParseWorker

                    verity.parser.use_worker(ParseWorker(verity.parser.analyzer.model))  # the same model
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
            if verity is not None:
                verity.parser.close()  # its parse worker, if started: no server will use it
            return
    # what start-up built lives as long as the process (models, vocabularies, the corpus's passages and
    # BM25 index: ~870k objects on the news corpus); frozen, the collector stops walking it in every full
    # collection, each a pause of ~0.4 s with the GIL held that stalled every request in flight
    gc.freeze()
    state.error = None
    state.verity = verity
    log.info("ready")
