"""Per-client rate limits on the answering routes, and a limit on the size of request bodies.

Rate limits: a token bucket per client, in memory — so with several replicas each one counts only the
requests it received. A client is its API key when it sends a valid one, else its IP address (an invalid
key cannot buy a fresh bucket). The bucket holds `rate_limit_per_minute` tokens and refills at that rate;
an empty bucket is a 429 with `Retry-After` (whole seconds until the next token).

Body size: a pure ASGI middleware, so it covers every route (the Slack endpoint too). A declared
`Content-Length` over the limit is refused before anything is read; a body without one (chunked) is
counted as it streams in and refused as soon as it passes the limit. Both are 413 JSON errors.
"""

from __future__ import annotations

import json
import math
import threading
import time
from dataclasses import dataclass
from typing import Any

from fastapi import Depends, FastAPI, Request
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.config import Settings
from service.errors import RateLimited
from service.http.auth import is_valid_key, key_fingerprint, presented_key
from service.http.handlers import envelope

_MAX_CLIENTS = 10_000  # buckets kept before idle (full) ones are dropped


@dataclass
class _Bucket:
    tokens: float
    at: float


class RateLimiter:
    """Token buckets by client id; thread-safe (routes run in the threadpool)."""

    def __init__(self, per_minute: int, clock: Any = time.monotonic) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0  # tokens per second
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.capacity > 0

    def take(self, client: str) -> float:
        """Spend one token of `client`: 0.0 if allowed, else the seconds until a token is available."""
        if not self.enabled:
            return 0.0
        now = self._clock()
        with self._lock:
            bucket = self._buckets.get(client)
            if bucket is None:
                if len(self._buckets) >= _MAX_CLIENTS:
                    self._forget_idle(now)
                bucket = self._buckets[client] = _Bucket(self.capacity, now)
            bucket.tokens = min(self.capacity, bucket.tokens + (now - bucket.at) * self.rate)
            bucket.at = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return 0.0
            return (1.0 - bucket.tokens) / self.rate

    def _forget_idle(self, now: float) -> None:
        full = [c for c, b in self._buckets.items() if b.tokens + (now - b.at) * self.rate >= self.capacity]
        for client in full:
            del self._buckets[client]
        if len(self._buckets) >= _MAX_CLIENTS:  # all busy: forget the oldest half rather than grow
            for client, _ in sorted(self._buckets.items(), key=lambda kv: kv[1].at)[: _MAX_CLIENTS // 2]:
                del self._buckets[client]


def client_id(request: Request) -> str:
    """Whose bucket a request spends from: its valid API key's fingerprint, else its IP address."""
    settings: Settings = request.app.state.settings
    key = presented_key(request)
    if key is not None and settings.api_keys and is_valid_key(settings, key):
        return f"key:{key_fingerprint(key)}"
    return f"ip:{request.client.host if request.client else 'unknown'}"


async def rate_limit(request: Request) -> None:
    """Dependency of /v1/ask, /v1/verify and /v1/chat/completions (async: no threadpool hop)."""
    limiter: RateLimiter = request.app.state.rate_limiter
    wait = limiter.take(client_id(request))
    if wait > 0:
        seconds = max(1, math.ceil(wait))
        raise RateLimited(
            f"too many requests: the limit is {int(limiter.capacity)} per minute per client; "
            f"retry in {seconds} s",
            {"Retry-After": str(seconds)},
        )


RateLimit = Depends(rate_limit)


class BodyTooLarge(HTTPException):
    """Raised from `receive` when a streamed body passes the limit. An HTTPException, so FastAPI's body
    parsing lets it through to the app's handler, which answers with the usual JSON error."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than the limit of {limit:,} bytes")


class BodySizeLimit:
    """Pure ASGI middleware: 413 for bodies over `max_bytes` (0 disables it)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.max_bytes <= 0:
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared == -1:
            await _send_error(send, 400, "bad_request", "the Content-Length header is not a valid number")
            return
        if declared is not None and declared > self.max_bytes:
            await _send_error(send, 413, "payload_too_large", BodyTooLarge(self.max_bytes).detail)
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge as exc:  # read outside FastAPI's handlers (e.g. by a mounted app)
            if started:
                raise
            await _send_error(send, 413, "payload_too_large", exc.detail)


def _content_length(scope: Scope) -> int | None:
    """The declared body size; None when not declared, -1 when it is not a number."""
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() else -1
    return None


async def _send_error(send: Send, status: int, code: str, message: str) -> None:
    body = json.dumps(envelope(code, message)).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if status == 413:
        headers.append((b"connection", b"close"))  # the unread body is not drained
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def install_limits(app: FastAPI, settings: Settings) -> None:
    """The body-size middleware and this app's rate limiter (one per app: tests build many)."""
    app.state.rate_limiter = RateLimiter(settings.rate_limit_per_minute)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
