"""The HTTP API's routes: a thin adapter that turns requests into `Verity` calls and back.

Routes are plain `def`s: the pipeline is CPU-bound and synchronous, so FastAPI runs them in its
threadpool and the event loop stays free for health checks. Errors are raised as `VerityError`s and
mapped to JSON by the one handler in `handlers.py`.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from fastapi import APIRouter
from fastapi.responses import JSONResponse, StreamingResponse

from service.http import sse
from service.http.auth import ReaderAuth
from service.http.deps import StateDep, VerityDep
from service.http.limits import RateLimit
from service.http.observability import MetricsDep
from service.http.schemas import DocumentOut, DocumentSummary, ErrorEnvelope, Health
from service.schemas import AskRequest, AskResponse, VerifyRequest, VerifyResponse

if TYPE_CHECKING:
    from index.store import StoredDocument

log = logging.getLogger("verity")

# Other errors (422, 401/403, 429, 503, …) are derived from each route's dependencies in `openapi.py`.
_NO_DOCUMENT: dict[int | str, dict[str, object]] = {
    404: {"model": ErrorEnvelope, "description": "No such document (`not_found`)"},
}

_ASK_STREAM = {
    "description": 'The answer (a refusal too); with `"stream": true`, server-sent events instead.',
    "content": sse.content(
        ["short_answer", "sentence", "done", "error"],
        "JSON: `short_answer` is the response's `short_answer` (first, when the answer has one); "
        "`sentence` is `{index, text, citations}` for each verified sentence; `done` the full "
        "response (as without `stream`); `error` `{error: {code, message}}` if the answer fails after the "
        "stream began",
    ),
}

router = APIRouter()


@router.post(
    "/v1/ask",
    response_model=AskResponse,
    responses={200: _ASK_STREAM},
    tags=["answering"],
    dependencies=[ReaderAuth, RateLimit],
)
def ask(request: AskRequest, verity: VerityDep, metrics: MetricsDep) -> AskResponse | StreamingResponse:
    """Answer a question from the corpus, citing exact sentences, or refuse (still a 200).

    With `"stream": true` the answer comes as server-sent events, each sentence once it is verified.
    """
    if not request.stream:
        response = verity.ask(request.question, request.history, request.as_of)
        metrics.record_answer(response)
        return response
    events = verity.ask_stream(request.question, request.history, request.as_of)
    events = sse.started(metrics.observe_events(events))
    chunks = (sse.encode_json(event.data, event.event) for event in events)
    return sse.response(sse.guarded(chunks, lambda error: sse.encode_json(error, "error")))


@router.post(
    "/v1/verify",
    response_model=VerifyResponse,
    tags=["answering"],
    dependencies=[ReaderAuth, RateLimit],
)
def verify(request: VerifyRequest, verity: VerityDep, metrics: MetricsDep) -> VerifyResponse:
    """Check a claim against the corpus: supported, refuted or not_enough_info, with evidence."""
    response = verity.verify(request.claim)
    metrics.record_verdict(response.verdict)
    return response


@router.get(
    "/v1/documents",
    response_model=list[DocumentSummary],
    tags=["corpus"],
    dependencies=[ReaderAuth],
)
def list_documents(verity: VerityDep) -> list[DocumentSummary]:
    return [_summary(stored) for stored in verity.documents()]


@router.get(
    "/v1/documents/{document_id}",
    response_model=DocumentOut,
    responses=_NO_DOCUMENT,
    tags=["corpus"],
    dependencies=[ReaderAuth],
)
def get_document(document_id: str, verity: VerityDep) -> DocumentOut:
    """The cleaned text that citations' `start`/`end` index into."""
    stored = verity.document(document_id)
    doc = stored.document
    return DocumentOut(
        id=doc.id,
        title=doc.title,
        text=doc.text,
        author=doc.author,
        url=doc.url,
        published=doc.published,
        source=doc.source,
        passages=stored.passages,
    )


@router.get(
    "/healthz",
    response_model=Health,
    response_model_exclude_none=True,
    responses={503: {"model": Health, "description": "Starting, or the store is unavailable"}},
    tags=["operations"],
)
def healthz(state: StateDep) -> Health | JSONResponse:
    """200 once the corpus is indexed and the models are warm; 503 while starting or when the store fails."""
    verity = state.verity
    if verity is None:
        if state.error is not None:
            return _unhealthy(Health(status="unavailable", detail=f"startup failed: {state.error}"))
        return _unhealthy(Health(status="starting"))
    try:
        verity.store.heartbeat()
        documents = int(verity.store.documents.count())
        passages = verity.store.count()
    except Exception as exc:  # noqa: BLE001 - any store failure means "unavailable", not a 500
        log.warning("health check: store unavailable: %s", exc)
        return _unhealthy(Health(status="unavailable", detail=f"store unavailable: {exc}"))
    if verity.outdated:
        detail = (
            f"{verity.outdated} documents were indexed by an older version of Verity: "
            "rerun `verity index` to rewrite the index"
        )
        return _unhealthy(Health(status="outdated", documents=documents, passages=passages, detail=detail))
    return Health(status="ok", documents=documents, passages=passages)


def _unhealthy(health: Health) -> JSONResponse:
    return JSONResponse(health.model_dump(exclude_none=True), status_code=503)


def _summary(stored: StoredDocument) -> DocumentSummary:
    doc = stored.document
    return DocumentSummary(
        id=doc.id,
        title=doc.title,
        author=doc.author,
        published=doc.published,
        url=doc.url,
        passages=stored.passages,
    )
