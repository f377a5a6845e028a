"""`POST /v1/ask` with `"stream": true`: server-sent events over a real HTTP server (uvicorn on a free
localhost port), checked against the non-streaming answer; errors before and after the stream began."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from service.answering.pipeline import StreamEvent, Verity
from service.errors import StoreUnavailable
from service.http import sse

QUESTION = "Who urged Trump to kill Soleimani after Iran shot down a U.S. drone?"
Events = list[tuple[str, dict[str, Any]]]


def parse(body: str) -> Events:
    """Server-sent events as (event name, JSON data) pairs."""
    events = []
    for block in body.split("\n\n"):
        if not block.strip():
            continue
        name, data = "message", []
        for line in block.split("\n"):
            field, _, value = line.partition(": ")
            if field == "event":
                name = value
            elif field == "data":
                data.append(value)
        events.append((name, json.loads("\n".join(data))))
    return events


def stream(base_url: str, question: str, **extra: Any) -> Events:
    with httpx.stream(
        "POST", f"{base_url}/v1/ask", json={"question": question, "stream": True, **extra}, timeout=120
    ) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-cache"
        return parse(response.read().decode())


def test_sentences_are_the_answers_and_done_is_the_non_stream_answer(base_url: str) -> None:
    events = stream(base_url, QUESTION)
    (first, short), *sentences, (last, done) = events
    assert last == "done"
    assert done["status"] == "answered" and done["short_answer"] is not None
    assert first == "short_answer" and short == done["short_answer"]  # first: adapters lead with it
    assert sentences and all(name == "sentence" for name, _ in sentences)
    assert [data["index"] for _, data in sentences] == list(range(len(sentences)))
    assert len(sentences) == len(done["claims"])
    for (_, data), claim in zip(sentences, done["claims"], strict=True):
        assert claim["text"] in data["text"] and data["citations"] == claim["citations"]
    # each sentence as the answer shows it (a disagreement's side with its source): together, the answer
    markers = ["".join(f"[{n}]" for n in d["citations"]) for _, d in sentences]
    shown = [f"{d['text']} {m}" for (_, d), m in zip(sentences, markers, strict=True)]
    assert " ".join(shown) == done["answer"]
    plain = httpx.post(f"{base_url}/v1/ask", json={"question": QUESTION}, timeout=120)
    assert plain.status_code == 200 and plain.headers["content-type"] == "application/json"
    assert done == plain.json()
    assert "Bolton" in done["answer"] and "Pompeo" in done["answer"]


def test_refusal_streams_only_done(base_url: str) -> None:
    events = stream(base_url, "What is the capital of Australia?")
    assert [name for name, _ in events] == ["done"]
    done = events[0][1]
    assert done["status"] == "refused" and done["refusal"]["reason"] in (
        "out_of_scope",
        "insufficient_evidence",
    )


def test_history_and_stream_false(base_url: str) -> None:
    history = [{"role": "user", "content": QUESTION}, {"role": "assistant", "content": "Bolton and Pompeo."}]
    events = stream(base_url, "In which city was Soleimani killed?", history=history)
    assert events[-1][0] == "done"
    response = httpx.post(
        f"{base_url}/v1/ask",
        json={"question": "In which city was Soleimani killed?", "stream": False},
        timeout=120,
    )
    assert response.status_code == 200 and response.json()["status"] in ("answered", "refused")


def test_events_arrive_as_produced_and_the_loop_stays_free(
    base_url: str, verity: Verity, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first sentence reaches the client while the pipeline is still working on the rest."""
    release = threading.Event()

    def slow(question: str, history: Any = None, as_of: Any = None) -> Iterator[StreamEvent]:
        yield StreamEvent("sentence", {"index": 0, "text": "First.", "citations": [1]})
        assert release.wait(timeout=60)
        yield StreamEvent("done", {"status": "answered", "answer": "First. [1]"})

    monkeypatch.setattr(verity, "ask_stream", slow)
    try:
        with httpx.stream(
            "POST", f"{base_url}/v1/ask", json={"question": "Who?", "stream": True}, timeout=60
        ) as response:
            lines = response.iter_lines()
            assert next(lines) == "event: sentence"
            assert json.loads(next(lines).removeprefix("data: "))["text"] == "First."
            assert httpx.get(f"{base_url}/healthz", timeout=10).status_code == 200  # not blocked
            release.set()
            rest = "\n".join(lines)
        assert "event: done" in rest
    finally:
        release.set()


# -- errors ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "text"),
    [
        ({"question": "", "stream": True}, "question must not be empty"),
        ({"question": "x" * 2001, "stream": True}, "at most 2000 characters"),
        ({"question": "Who?", "stream": "yes"}, "stream: Input should be a valid boolean"),
        (
            {"question": "Who?", "stream": True, "history": [{"role": "system", "content": "x"}]},
            "history.0.role",
        ),
    ],
)
def test_invalid_stream_request_is_a_json_4xx(client: TestClient, body: dict[str, Any], text: str) -> None:
    response = client.post("/v1/ask", json=body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/json"
    error = response.json()["error"]
    assert error["code"] == "invalid_request" and text in error["message"]


def test_error_before_the_first_event_is_an_http_error(
    client: TestClient, verity: Verity, monkeypatch: pytest.MonkeyPatch
) -> None:
    def down(question: str, history: Any = None, as_of: Any = None) -> Iterator[StreamEvent]:
        raise StoreUnavailable("the vector store is unavailable: connection refused")
        yield  # a generator, like the real one

    monkeypatch.setattr(verity, "ask_stream", down)
    response = client.post("/v1/ask", json={"question": "Who?", "stream": True})
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "store_unavailable"


@pytest.mark.parametrize(
    ("exc", "code", "message"),
    [
        (StoreUnavailable("the vector store is unavailable: gone"), "store_unavailable", "gone"),
        (RuntimeError("boom"), "internal_error", "an internal error occurred"),
    ],
)
def test_error_after_the_stream_began_is_an_error_event(
    client: TestClient,
    verity: Verity,
    monkeypatch: pytest.MonkeyPatch,
    exc: Exception,
    code: str,
    message: str,
) -> None:
    def failing(question: str, history: Any = None, as_of: Any = None) -> Iterator[StreamEvent]:
        yield StreamEvent("sentence", {"index": 0, "text": "First.", "citations": [1]})
        raise exc

    monkeypatch.setattr(verity, "ask_stream", failing)
    response = client.post("/v1/ask", json={"question": "Who?", "stream": True})
    assert response.status_code == 200
    events = parse(response.text)
    assert [name for name, _ in events] == ["sentence", "error"]
    error = events[1][1]["error"]
    assert error["code"] == code and message in error["message"]
    assert "boom" not in error["message"]


def test_encode_splits_lines_and_names_events() -> None:
    assert sse.encode("a\nb", "x") == "event: x\ndata: a\ndata: b\n\n"
    assert sse.encode("[DONE]") == "data: [DONE]\n\n"
    assert sse.encode_json({"t": "ü\n"}, "sentence") == 'event: sentence\ndata: {"t":"ü\\n"}\n\n'
