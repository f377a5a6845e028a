"""What an operator sees: one JSON log line per request with its request id, and Prometheus metrics.

Every request gets a request id — the client's `X-Request-ID` when it is sane (≤ 128 characters of
letters, digits and `._:-`), else a fresh one — echoed in the response's `X-Request-ID` and attached to
every log line written while the request runs (`JsonFormatter` reads it from a context variable, which
FastAPI's threadpool carries into the routes). The access log is the `verity.access` logger: method,
path, route, status, ms, request_id, client.

`GET /metrics` speaks Prometheus's text format from a registry of this app's own (never the global one,
so several apps in one process do not collide): request counts and latency histograms by route
template, answers by status, refusals by reason, verifier verdicts, and the index size, read from the
store at scrape time. Answers and verdicts are recorded by the routes as responses pass through.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request, Response, params
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.http.deps import AppState

if TYPE_CHECKING:
    from service.answering.pipeline import StreamEvent
    from service.schemas import AskResponse

log = logging.getLogger("verity")
access_log = logging.getLogger("verity.access")

REQUEST_ID_HEADER = "X-Request-ID"
request_id_var: ContextVar[str | None] = ContextVar("verity_request_id", default=None)
_SANE_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_ACCESS_FIELDS = ("method", "path", "route", "status", "ms", "client")
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


# -- logs -------------------------------------------------------------------------------------------------
class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id, and the access fields."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None) or request_id_var.get()
        if request_id:
            line["request_id"] = request_id
        for field in _ACCESS_FIELDS:
            if hasattr(record, field):
                line[field] = getattr(record, field)
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def configure_logging(level: str, log_format: str = "json") -> None:
    """Root logging for `verity serve`: JSON lines (or plain text) at `level`."""
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.StreamHandler())
    root.setLevel(level.upper())
    if level.upper() != "DEBUG":  # the Chroma client's every request, logged by httpx at INFO
        logging.getLogger("httpx").setLevel(logging.WARNING)
    if log_format == "json":
        for handler in root.handlers:
            handler.setFormatter(JsonFormatter())


def _stamp_request_ids() -> None:
    """Give every log record the current request id when it is created (once per process), so it
    survives handlers that format later (queues, pytest's capture)."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "stamps_request_id", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        if not hasattr(record, "request_id"):
            record.request_id = request_id_var.get()
        return record

    factory.stamps_request_id = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


def request_id_from(headers: Iterable[tuple[bytes, bytes]]) -> str:
    """The client's request id when it is sane, else a new one."""
    for name, value in headers:
        if name == b"x-request-id":
            given = value.decode("latin-1").strip()
            if _SANE_ID.fullmatch(given):
                return given
            break
    return uuid.uuid4().hex


# -- metrics ----------------------------------------------------------------------------------------------
class _IndexCollector(Collector):
    """Index size and readiness, read from the store when Prometheus scrapes."""

    def __init__(self, state: AppState) -> None:
        self.state = state

    def collect(self) -> Iterator[Metric]:
        verity = self.state.verity
        yield GaugeMetricFamily(
            "verity_ready", "1 once the index is loaded and warm", value=int(bool(verity))
        )
        if verity is None:
            return
        work = CounterMetricFamily(
            "verity_query_time_sentences",
            "corpus sentences embedded or parsed while answering (0 on a current index: both are stored)",
            labels=["work"],
        )
        for kind, n in sorted(verity.work.counts.items()):
            work.add_metric([kind], n)
        yield work
        try:
            documents, passages = int(verity.store.documents.count()), verity.store.count()
        except Exception as exc:  # noqa: BLE001 - a store that is down must not break the scrape
            log.warning("metrics: the store is unavailable: %s", exc)
            return
        yield GaugeMetricFamily("verity_index_documents", "documents in the index", value=documents)
        yield GaugeMetricFamily("verity_index_passages", "passages in the index", value=passages)


class Metrics:
    """This app's Prometheus registry and the metrics recorded into it."""

    def __init__(self, state: AppState) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "verity_http_requests",
            "HTTP requests by method, route template and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "verity_http_request_duration_seconds",
            "HTTP request latency (until the last byte of the response) by method and route template",
            ["method", "route"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.answers = Counter(
            "verity_answers", "answers by status (answered, refused)", ["status"], registry=self.registry
        )
        self.refusals = Counter("verity_refusals", "refusals by reason", ["reason"], registry=self.registry)
        self.verdicts = Counter(
            "verity_verdicts",
            "verifier verdicts: on claims sent to /v1/verify (source=verify) and on answer sentences "
            "(source=answer)",
            ["source", "verdict"],
            registry=self.registry,
        )
        self.registry.register(_IndexCollector(state))

    def record_request(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    def record_answer(self, response: AskResponse) -> None:
        self._answer(response.model_dump())

    def record_verdict(self, verdict: str) -> None:
        self.verdicts.labels("verify", verdict).inc()

    def observe_events(self, events: Iterator[StreamEvent]) -> Iterator[StreamEvent]:
        """`events`, recording the response carried by the `done` event."""
        for event in events:
            if event.event == "done":
                self._answer(event.data)
            yield event

    def _answer(self, response: dict[str, Any]) -> None:
        self.answers.labels(str(response.get("status"))).inc()
        refusal = response.get("refusal")
        if refusal:
            self.refusals.labels(str(refusal.get("reason"))).inc()
        for claim in response.get("claims") or []:
            self.verdicts.labels("answer", str(claim.get("verdict"))).inc()

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


async def get_metrics(request: Request) -> Metrics:  # async: no threadpool hop (see deps.py)
    metrics: Metrics = request.app.state.metrics
    return metrics


MetricsDep = Annotated[Metrics, Depends(get_metrics)]

router = APIRouter(tags=["operations"])


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"description": "Prometheus text format", "content": {CONTENT_TYPE_LATEST: {}}}},
)
def metrics(metrics: MetricsDep) -> Response:
    """Prometheus metrics: requests and latency by route, answers, refusals, verdicts, index size."""
    return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)


# -- the middleware ---------------------------------------------------------------------------------------
class RequestObservability:
    """Pure ASGI middleware: request id in and out, one access log line and the request metrics."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_from(scope.get("headers", []))
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500  # unless a response starts: an exception escaped to the server error handler

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = [h for h in message.get("headers", []) if h[0].lower() != b"x-request-id"]
                message = {**message, "headers": [*headers, (b"x-request-id", request_id.encode())]}
            await send(message)

        failed = True
        try:
            await self.app(scope, receive, send_with_id)
            failed = False
        finally:
            seconds = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            method = str(scope.get("method", ""))
            self.metrics.record_request(method, route, status, seconds)
            client = scope.get("client")
            fields = {  # the request id is stamped on the record by `_stamp_request_ids`
                "method": method,
                "path": str(scope.get("path", "")),
                "route": route,
                "status": status,
                "ms": round(1000 * seconds, 1),
                "client": client[0] if client else None,
            }
            access_log.info("%s %s %s %.1fms", method, fields["path"], status, fields["ms"], extra=fields)
            if not failed:  # else the server error handler, outside this middleware, still logs with it
                request_id_var.reset(token)


def install_observability(
    app: FastAPI, state: AppState, dependencies: Sequence[params.Depends] = ()
) -> Metrics:
    """This app's metrics, `GET /metrics` and the request middleware (added last: it runs outermost)."""
    _stamp_request_ids()
    app.state.metrics = metrics_ = Metrics(state)
    app.include_router(router, dependencies=dependencies)
    app.add_middleware(RequestObservability, metrics=metrics_)
    return metrics_
