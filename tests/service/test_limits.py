"""Rate limits (token bucket per client on /v1/ask, /v1/verify, /v1/chat/completions: 429 with
Retry-After) and the request-body size limit (413, by Content-Length and by counting streamed bytes)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from starlette.types import Message, Receive, Scope, Send

from service.answering.pipeline import Verity
from service.config import Settings
from service.http.app import create_app
from service.http.limits import BodySizeLimit, RateLimiter

KEY = "limits-key"
WaitHealthy = Callable[[TestClient], Any]


def assert_error(response: Any, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert error["code"] == code, error
    return str(error["message"])


@pytest.fixture()
def limited_app(
    settings: Settings, verity: Verity, wait_healthy: WaitHealthy
) -> Iterator[Callable[..., TestClient]]:
    """A factory of ready clients on apps with the given settings overrides (each app its own limiter)."""
    clients: list[TestClient] = []

    def make(**update: Any) -> TestClient:
        client = TestClient(create_app(settings.model_copy(update=update), verity=verity))
        client.__enter__()
        clients.append(client)
        wait_healthy(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


# -- the token bucket -------------------------------------------------------------------------------------
class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_bucket_allows_a_burst_then_refills_at_the_rate() -> None:
    clock = Clock()
    limiter = RateLimiter(60, clock=clock)  # one token per second, 60 at most
    assert all(limiter.take("a") == 0.0 for _ in range(60))
    assert limiter.take("a") == pytest.approx(1.0)
    assert limiter.take("b") == 0.0  # another client has its own bucket
    clock.now += 0.5
    assert limiter.take("a") == pytest.approx(0.5)
    clock.now += 0.5
    assert limiter.take("a") == 0.0
    clock.now += 3600  # refills up to the capacity only
    assert sum(limiter.take("a") == 0.0 for _ in range(100)) == 60


def test_zero_disables_the_limit() -> None:
    limiter = RateLimiter(0)
    assert not limiter.enabled
    assert all(limiter.take("a") == 0.0 for _ in range(1000))


def test_idle_buckets_are_forgotten(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("service.http.limits._MAX_CLIENTS", 10)
    clock = Clock()
    limiter = RateLimiter(6, clock=clock)
    for i in range(10):
        limiter.take(f"client-{i}")
    clock.now += 60  # all full again
    limiter.take("newcomer")
    assert len(limiter._buckets) == 1


# -- over HTTP ----------------------------------------------------------------------------------------------
def test_answering_routes_share_a_per_client_bucket(limited_app: Callable[..., TestClient]) -> None:
    client = limited_app(rate_limit_per_minute=3, api_keys=[SecretStr(KEY)])
    client.app.state.rate_limiter = RateLimiter(3, clock=Clock())  # time stands still: no refill mid-test
    assert client.post("/v1/ask", json={"question": "In which city was Soleimani killed?"}).status_code == 200
    assert client.post("/v1/verify", json={"claim": "Soleimani was killed in Baghdad."}).status_code == 200
    chat = {"messages": [{"role": "user", "content": "In which city was Soleimani killed?"}]}
    assert client.post("/v1/chat/completions", json=chat).status_code == 200

    for path, body in [
        ("/v1/ask", {"question": "Who?"}),
        ("/v1/verify", {"claim": "x"}),
        ("/v1/chat/completions", chat),
    ]:
        response = client.post(path, json=body)
        message = assert_error(response, 429, "rate_limited")
        assert 1 <= int(response.headers["retry-after"]) <= 20  # 3 per minute: a token every 20 s
        assert "3 per minute" in message
        assert response.headers["x-request-id"]

    # reads that are not limited, and other clients, are unaffected
    assert client.get("/v1/documents").status_code == 200
    assert client.get("/healthz").status_code == 200
    keyed = {"Authorization": f"Bearer {KEY}"}
    assert (
        client.post(
            "/v1/verify", json={"claim": "Soleimani was killed in Baghdad."}, headers=keyed
        ).status_code
        == 200
    )
    # an invalid key does not buy a fresh bucket: it counts as the same client address
    assert_error(
        client.post("/v1/verify", json={"claim": "x"}, headers={"Authorization": "Bearer made-up"}),
        429,
        "rate_limited",
    )


def test_limit_counts_requests_before_validation(limited_app: Callable[..., TestClient]) -> None:
    """A flood of malformed requests is throttled too (the limit runs before the body is validated)."""
    client = limited_app(rate_limit_per_minute=2)
    assert_error(client.post("/v1/ask", json={}), 422, "invalid_request")
    assert_error(client.post("/v1/ask", json={}), 422, "invalid_request")
    assert_error(client.post("/v1/ask", json={}), 429, "rate_limited")


def test_rate_limit_zero_is_off(limited_app: Callable[..., TestClient]) -> None:
    client = limited_app(rate_limit_per_minute=0)
    for _ in range(20):
        assert_error(client.post("/v1/ask", json={}), 422, "invalid_request")


# -- body size ----------------------------------------------------------------------------------------------
def test_declared_oversized_body_is_a_413(limited_app: Callable[..., TestClient]) -> None:
    client = limited_app(max_body_bytes=1000, api_keys=[SecretStr(KEY)])
    body = json.dumps({"question": "x" * 2000}).encode()
    for path in ("/v1/ask", "/v1/verify", "/v1/chat/completions", "/v1/documents", "/no-such-route"):
        response = client.post(path, content=body, headers={"content-type": "application/json"})
        message = assert_error(response, 413, "payload_too_large")
        assert "1,000 bytes" in message
        assert response.headers["x-request-id"]
    # under the limit, the usual validation answers
    small = client.post(
        "/v1/ask", content=json.dumps({"question": ""}), headers={"content-type": "application/json"}
    )
    assert_error(small, 422, "invalid_request")


def test_streamed_body_without_length_is_counted(limited_app: Callable[..., TestClient]) -> None:
    client = limited_app(max_body_bytes=1000)

    def chunks() -> Iterator[bytes]:
        yield b'{"question": "'
        for _ in range(20):
            yield b"x" * 100
        yield b'"}'

    response = client.post("/v1/ask", content=chunks(), headers={"content-type": "application/json"})
    assert "content-length" not in {k.lower() for k in response.request.headers}
    assert_error(response, 413, "payload_too_large")


def test_invalid_content_length_is_a_400(limited_app: Callable[..., TestClient]) -> None:
    client = limited_app(max_body_bytes=1000)
    response = client.post(
        "/v1/ask",
        content=b'{"question": "Who?"}',
        headers={"content-type": "application/json", "content-length": "x"},
    )
    assert_error(response, 400, "bad_request")


def _run(
    app: Any, chunks: list[bytes], headers: list[tuple[bytes, bytes]] | None = None
) -> tuple[list[Message], list[bytes]]:
    """Drive an ASGI app with a body in several `http.request` messages; the messages it sent back and
    the chunks it was handed."""
    sent: list[Message] = []
    pending = list(chunks)

    async def receive() -> Message:
        body = pending.pop(0) if pending else b""
        return {"type": "http.request", "body": body, "more_body": bool(pending)}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/", "headers": headers or []}
    asyncio.run(app(scope, receive, send))
    return sent, chunks[: len(chunks) - len(pending)]


def test_middleware_stops_reading_once_the_limit_is_passed() -> None:
    read: list[bytes] = []

    async def reader(scope: Scope, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            read.append(message["body"])
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    sent, _ = _run(BodySizeLimit(reader, max_bytes=250), [b"x" * 100] * 5)
    assert sent[0]["status"] == 413 and len(read) == 2  # the third chunk was refused, not handed on
    assert json.loads(sent[1]["body"])["error"]["code"] == "payload_too_large"

    read.clear()
    sent, _ = _run(BodySizeLimit(reader, max_bytes=500), [b"x" * 100] * 5)
    assert sent[0]["status"] == 200 and len(read) == 5  # exactly at the limit is fine

    read.clear()
    sent, _ = _run(BodySizeLimit(reader, max_bytes=0), [b"x" * 100] * 50)
    assert sent[0]["status"] == 200 and len(read) == 50  # 0: no limit
