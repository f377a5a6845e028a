"""The HTTP API through the real app factory: answers with exact citations, refusals, the corpus
endpoints, the error contract for bad input, and readiness (/healthz) around the background startup."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.answering.pipeline import Verity
from service.config import Settings
from service.http.app import create_app

SEEDS = Path(__file__).resolve().parents[2] / "seeds"
WaitHealthy = Callable[[TestClient], dict[str, Any]]

SEED_IDS = sorted(p.stem for p in SEEDS.glob("*.txt"))

ANSWERABLE = [
    "Who urged Trump to kill Soleimani after Iran shot down a U.S. drone?",
    "What condition did Trump set before he would allow Soleimani to be killed?",
    "In which city was Soleimani killed?",
    "What action did the Obama administration take against Soleimani?",
    "In what year did Trump withdraw the United States from the Iran nuclear deal?",
]


def ask(client: TestClient, question: str, **extra: Any) -> dict[str, Any]:
    response = client.post("/v1/ask", json={"question": question, **extra})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def assert_error(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error: dict[str, Any] = response.json()["error"]
    assert isinstance(error["code"], str) and isinstance(error["message"], str) and error["message"]
    if code is not None:
        assert error["code"] == code, error
    return error


# -- answering ------------------------------------------------------------------------------------------
def test_ask_names_both_officials(client: TestClient) -> None:
    body = ask(client, ANSWERABLE[0])
    assert body["status"] == "answered", body
    assert "Bolton" in body["answer"] and "Pompeo" in body["answer"]
    assert body["refusal"] is None
    assert body["citations"] and all(f"[{c['id']}]" in body["answer"] for c in body["citations"])


@pytest.mark.parametrize("question", ANSWERABLE)
def test_every_citation_is_an_exact_span_of_its_document(client: TestClient, question: str) -> None:
    body = ask(client, question)
    assert body["status"] == "answered", body
    assert body["citations"]
    for citation in body["citations"]:
        document = client.get(f"/v1/documents/{citation['document_id']}")
        assert document.status_code == 200, document.text
        text = document.json()["text"]
        assert text[citation["start"] : citation["end"]] == citation["text"], citation
        assert citation["title"] == document.json()["title"]


def test_off_corpus_question_is_refused_not_an_error(client: TestClient) -> None:
    body = ask(client, "What is the capital of Australia?")
    assert body["status"] == "refused"
    assert body["refusal"]["reason"] in ("out_of_scope", "insufficient_evidence")
    assert body["refusal"]["message"]
    assert body["citations"] == []


def test_history_is_accepted(client: TestClient) -> None:
    history = [
        {"role": "user", "content": "Who urged Trump to kill Soleimani?"},
        {"role": "assistant", "content": "John Bolton and Mike Pompeo."},
    ]
    body = ask(client, "In which city was Soleimani killed?", history=history)
    assert body["status"] in ("answered", "refused")


# -- corpus ---------------------------------------------------------------------------------------------
def test_documents_lists_the_seeds(client: TestClient) -> None:
    response = client.get("/v1/documents")
    assert response.status_code == 200
    documents = response.json()
    assert [d["id"] for d in documents] == SEED_IDS
    for document in documents:
        assert document["title"] and document["passages"] > 0
        assert set(document) == {"id", "title", "author", "published", "url", "passages"}
        assert document["published"] is None  # the seeds are undated text files


def test_document_has_its_cleaned_text(client: TestClient) -> None:
    response = client.get(f"/v1/documents/{SEED_IDS[0]}")
    assert response.status_code == 200
    document = response.json()
    assert document["id"] == SEED_IDS[0]
    assert "Bolton" in document["text"] and document["passages"] > 0


def test_unknown_document_is_a_json_404(client: TestClient) -> None:
    error = assert_error(client.get("/v1/documents/no-such-document"), 404, "not_found")
    assert "no-such-document" in error["message"]


# -- bad input: always a 4xx JSON error, never a 500 ----------------------------------------------------
JSON = {"content-type": "application/json"}
BAD_REQUESTS: dict[str, tuple[dict[str, Any], int, str, str]] = {
    # name: (client.post kwargs, status, code, text the message must contain)
    "empty": ({"json": {"question": ""}}, 422, "invalid_request", "question: question must not be empty"),
    "blank": ({"json": {"question": "  \n\t "}}, 422, "invalid_request", "question must not be empty"),
    "too long": (
        {"json": {"question": "x" * 2001}},
        422,
        "invalid_request",
        "question: String should have at most 2000 characters",
    ),
    "not a string": ({"json": {"question": 5}}, 422, "invalid_request", "question: Input should be a valid"),
    "missing field": ({"json": {}}, 422, "invalid_request", "question: Field required"),
    "not an object": ({"json": ["Who?"]}, 422, "invalid_request", "Input should be a valid dictionary"),
    "extra field": (
        {"json": {"question": "Who?", "colour": "red"}},
        422,
        "invalid_request",
        "colour: Extra inputs are not permitted",
    ),
    "bad history role": (
        {"json": {"question": "Who?", "history": [{"role": "system", "content": "hi"}]}},
        422,
        "invalid_request",
        "history.0.role",
    ),
    "control characters": (
        {"json": {"question": "Who\x00?"}},
        422,
        "invalid_request",
        "control characters",
    ),
    "invalid json": ({"content": b'{"question": ', "headers": JSON}, 422, "invalid_json", "not valid JSON"),
    "wrong content type": (
        {"content": b"Who urged Trump?", "headers": {"content-type": "text/plain"}},
        415,
        "unsupported_media_type",
        "application/json",
    ),
    "no body": ({}, 422, "invalid_request", "body is required"),
}


@pytest.mark.parametrize("case", BAD_REQUESTS.values(), ids=BAD_REQUESTS.keys())
def test_bad_input_is_a_clear_4xx(client: TestClient, case: tuple[dict[str, Any], int, str, str]) -> None:
    kwargs, status, code, text = case
    error = assert_error(client.post("/v1/ask", **kwargs), status, code)
    assert text in error["message"]


def test_unknown_route_and_method_are_json_errors(client: TestClient) -> None:
    assert_error(client.get("/v1/nothing-here"), 404, "not_found")
    assert_error(client.get("/v1/ask"), 405, "method_not_allowed")


def test_unexpected_exception_is_a_json_500(settings: Settings, verity: Verity) -> None:
    app = create_app(settings, verity=verity)

    def boom() -> None:
        raise RuntimeError("boom")

    app.add_api_route("/boom", boom)
    response = TestClient(app, raise_server_exceptions=False).get("/boom")
    error = assert_error(response, 500, "internal_error")
    assert "boom" not in error["message"]  # internals are logged, not shown


# -- readiness ------------------------------------------------------------------------------------------
def test_healthz_once_ready(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and body["documents"] == len(SEED_IDS) and body["passages"] > 0


def test_healthz_unavailable_when_the_store_fails(
    client: TestClient, verity: Verity, monkeypatch: pytest.MonkeyPatch
) -> None:
    def down() -> None:
        raise ConnectionError("connection refused")

    monkeypatch.setattr(verity.store, "heartbeat", down)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"


def test_not_ready_before_the_lifespan_runs(settings: Settings, verity: Verity) -> None:
    client = TestClient(create_app(settings, verity=verity))  # not entered: no lifespan, never ready
    response = client.get("/healthz")
    assert response.status_code == 503 and response.json() == {"status": "starting"}
    assert_error(client.post("/v1/ask", json={"question": "Who?"}), 503, "not_ready")
    assert_error(client.get("/v1/documents"), 503, "not_ready")


def test_ready_only_after_background_warm_up(
    settings: Settings, verity: Verity, monkeypatch: pytest.MonkeyPatch, wait_healthy: WaitHealthy
) -> None:
    release = threading.Event()
    warm_up = verity.warm_up

    def gated_warm_up() -> None:
        assert release.wait(timeout=120)
        warm_up()

    monkeypatch.setattr(verity, "warm_up", gated_warm_up)
    try:
        with TestClient(create_app(settings, verity=verity)) as client:
            # the lifespan has returned (the server would be listening) while startup still runs
            response = client.get("/healthz")
            assert response.status_code == 503 and response.json()["status"] == "starting"
            assert_error(client.get("/v1/documents"), 503, "not_ready")
            release.set()
            assert wait_healthy(client)["status"] == "ok"
            assert client.get("/v1/documents").status_code == 200
    finally:
        release.set()


def test_startup_failure_is_reported(
    settings: Settings, verity: Verity, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken() -> None:
        raise RuntimeError("model file is corrupt")

    monkeypatch.setattr(verity, "warm_up", broken)
    with TestClient(create_app(settings, verity=verity)) as client:
        for _ in range(200):
            response = client.get("/healthz")
            if response.json()["status"] != "starting":
                break
            threading.Event().wait(0.05)
        assert response.status_code == 503
        assert response.json()["status"] == "unavailable"
        assert "model file is corrupt" in response.json()["detail"]
        error = assert_error(client.post("/v1/ask", json={"question": "Who?"}), 503, "not_ready")
        assert "model file is corrupt" in error["message"]


def test_startup_builds_and_indexes_an_empty_store(
    tmp_path: Path, seed_corpus: Path, wait_healthy: WaitHealthy
) -> None:
    """The production path: no Verity given, an empty store, so the lifespan builds and indexes."""
    settings = Settings(data_dir=tmp_path / "data", corpus_dir=seed_corpus)
    with TestClient(create_app(settings)) as client:
        assert client.get("/healthz").json()["status"] == "starting"  # models take seconds to load
        health = wait_healthy(client)
        assert health["documents"] == len(SEED_IDS)
        assert ask(client, ANSWERABLE[2])["status"] == "answered"
