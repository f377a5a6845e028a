"""Request ids (echoed in X-Request-ID, carried by every log line of the request), the JSON access log,
and `GET /metrics` in Prometheus's text format: requests and latency by route, answers, refusals by
reason, verifier verdicts and the index size."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from service.answering.pipeline import Verity
from service.config import Settings
from service.http.app import create_app
from service.http.observability import JsonFormatter, configure_logging

WaitHealthy = Callable[[TestClient], Any]
ANSWERABLE = "In which city was Soleimani killed?"
OFF_CORPUS = "What is the capital of Australia?"


@pytest.fixture()
def fresh(settings: Settings, verity: Verity, wait_healthy: WaitHealthy) -> Iterator[TestClient]:
    """A new app (its own metrics registry), ready."""
    with TestClient(create_app(settings, verity=verity)) as client:
        wait_healthy(client)
        yield client


def samples(client: TestClient) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    found = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(found: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


# -- request ids --------------------------------------------------------------------------------------------
def test_a_request_id_is_generated_and_echoed(fresh: TestClient) -> None:
    first, second = fresh.get("/healthz"), fresh.get("/healthz")
    assert re.fullmatch(r"[0-9a-f]{32}", first.headers["x-request-id"])
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("req-42.abc:1", True),
        ("0f8fad5b-d9cb-469f-a165-70867728950e", True),
        ("x" * 129, False),
        ("has space", False),
        ("<script>", False),
        ("", False),
    ],
)
def test_a_sane_incoming_request_id_is_kept(fresh: TestClient, given: str, kept: bool) -> None:
    echoed = fresh.get("/v1/documents", headers={"X-Request-ID": given}).headers["x-request-id"]
    assert (echoed == given) is kept
    assert re.fullmatch(r"[A-Za-z0-9._:-]{1,128}", echoed)


def test_errors_carry_the_request_id_too(fresh: TestClient) -> None:
    assert (
        fresh.get("/v1/documents/nope", headers={"X-Request-ID": "r-404"}).headers["x-request-id"] == "r-404"
    )
    response = fresh.post("/v1/ask", json={"question": ""}, headers={"X-Request-ID": "r-422"})
    assert response.status_code == 422 and response.headers["x-request-id"] == "r-422"


# -- logs ---------------------------------------------------------------------------------------------------
def test_one_json_access_line_per_request(fresh: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="verity.access"):
        response = fresh.post("/v1/ask", json={"question": ANSWERABLE}, headers={"X-Request-ID": "trace-1"})
    assert response.status_code == 200
    [record] = [r for r in caplog.records if r.name == "verity.access"]
    line = json.loads(JsonFormatter().format(record))
    assert line["request_id"] == "trace-1"
    assert (line["method"], line["path"], line["route"], line["status"]) == (
        "POST",
        "/v1/ask",
        "/v1/ask",
        200,
    )
    assert isinstance(line["ms"], float) and line["ms"] > 0
    assert line["client"] == "testclient"
    assert (
        line["level"] == "info"
        and line["logger"] == "verity.access"
        and "POST /v1/ask 200" in line["message"]
    )
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00$", line["time"])


def test_log_lines_inside_a_request_carry_its_id(
    settings: Settings, verity: Verity, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(settings, verity=verity)

    def noisy() -> dict[str, str]:
        logging.getLogger("verity").warning("something worth a look")
        raise RuntimeError("boom")

    app.add_api_route("/noisy", noisy)
    with caplog.at_level(logging.INFO):
        response = TestClient(app, raise_server_exceptions=False).get(
            "/noisy", headers={"X-Request-ID": "r-500"}
        )
    assert response.status_code == 500
    lines = [json.loads(JsonFormatter().format(r)) for r in caplog.records if r.name.startswith("verity")]
    warning = next(line for line in lines if line["message"] == "something worth a look")
    assert warning["request_id"] == "r-500" and warning["level"] == "warning"
    error = next(line for line in lines if "unhandled error" in line["message"])
    assert error["request_id"] == "r-500" and "RuntimeError: boom" in error["error"]
    access = next(line for line in lines if line["logger"] == "verity.access")
    assert access["status"] == 500 and access["request_id"] == "r-500"


def test_configure_logging_writes_json_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    root = logging.getLogger()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    monkeypatch.setattr(root, "handlers", [handler])
    monkeypatch.setattr(root, "level", root.level)
    configure_logging("info", "json")
    logging.getLogger("verity.test").info("hello %s", "world", extra={"status": 201})
    line = json.loads(stream.getvalue().strip())
    assert line["message"] == "hello world" and line["status"] == 201 and "request_id" not in line


# -- metrics ------------------------------------------------------------------------------------------------
def test_metrics_count_requests_by_route_and_status(fresh: TestClient) -> None:
    before = samples(fresh)
    assert fresh.post("/v1/ask", json={"question": ANSWERABLE}).status_code == 200
    assert fresh.post("/v1/ask", json={"question": ""}).status_code == 422
    fresh.get("/v1/documents/no-such-document")
    fresh.get("/no/such/route/12345")
    after = samples(fresh)
    ask = {"method": "POST", "route": "/v1/ask"}
    assert value(after, "verity_http_requests_total", **ask, status="200") == 1 + value(
        before, "verity_http_requests_total", **ask, status="200"
    )
    assert value(after, "verity_http_requests_total", **ask, status="422") == 1
    # a route's template, never the raw path: ids and unknown paths cannot blow up the label set
    route = {"method": "GET", "route": "/v1/documents/{document_id}", "status": "404"}
    assert value(after, "verity_http_requests_total", **route) == 1
    assert value(after, "verity_http_requests_total", method="GET", route="unmatched", status="404") == 1
    assert not any("no-such-document" in str(labels) or "12345" in str(labels) for _, labels in after)
    assert value(after, "verity_http_request_duration_seconds_count", **ask) == 2
    assert value(after, "verity_http_request_duration_seconds_bucket", **ask, le="+Inf") == 2
    assert value(after, "verity_http_request_duration_seconds_sum", **ask) > 0


def test_metrics_record_answers_refusals_and_verdicts(fresh: TestClient) -> None:
    answered = fresh.post("/v1/ask", json={"question": ANSWERABLE}).json()
    refused = fresh.post("/v1/ask", json={"question": OFF_CORPUS}).json()
    streamed = fresh.post("/v1/ask", json={"question": OFF_CORPUS, "stream": True})
    assert streamed.status_code == 200 and "event: done" in streamed.text
    chat = fresh.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": ANSWERABLE}]})
    assert chat.status_code == 200
    verdict = fresh.post("/v1/verify", json={"claim": "Soleimani was killed in Baghdad."}).json()["verdict"]
    assert answered["status"] == "answered" and refused["status"] == "refused"

    found = samples(fresh)
    assert value(found, "verity_answers_total", status="answered") == 2
    assert value(found, "verity_answers_total", status="refused") == 2
    reason = refused["refusal"]["reason"]
    assert value(found, "verity_refusals_total", reason=reason) == 2
    assert value(found, "verity_verdicts_total", source="verify", verdict=verdict) == 1
    supported = len(answered["claims"]) + len(chat.json()["verity"]["claims"])
    assert value(found, "verity_verdicts_total", source="answer", verdict="supported") == supported


def test_metrics_report_the_index_size(fresh: TestClient) -> None:
    health = fresh.get("/healthz").json()
    found = samples(fresh)
    assert value(found, "verity_ready") == 1
    assert value(found, "verity_index_documents") == health["documents"]
    assert value(found, "verity_index_passages") == health["passages"]


def test_index_size_is_skipped_when_the_store_is_down(
    fresh: TestClient, verity: Verity, monkeypatch: pytest.MonkeyPatch
) -> None:
    def down() -> int:
        raise ConnectionError("connection refused")

    monkeypatch.setattr(verity.store, "count", down)
    found = samples(fresh)
    assert value(found, "verity_ready") == 1
    assert ("verity_index_passages", frozenset()) not in found


def test_metrics_before_ready(settings: Settings, verity: Verity) -> None:
    client = TestClient(create_app(settings, verity=verity))  # no lifespan: never ready
    found = samples(client)
    assert value(found, "verity_ready") == 0
    assert ("verity_index_documents", frozenset()) not in found


def test_each_app_has_its_own_registry(settings: Settings, verity: Verity, wait_healthy: WaitHealthy) -> None:
    with (
        TestClient(create_app(settings, verity=verity)) as one,
        TestClient(create_app(settings, verity=verity)) as two,
    ):
        wait_healthy(one)
        wait_healthy(two)
        for _ in range(3):
            one.get("/v1/documents")
        assert (
            value(
                samples(one), "verity_http_requests_total", method="GET", route="/v1/documents", status="200"
            )
            == 3
        )
        assert (
            value(
                samples(two), "verity_http_requests_total", method="GET", route="/v1/documents", status="200"
            )
            == 0
        )
