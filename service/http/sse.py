"""Server-sent events (`text/event-stream`), shared by the two streaming endpoints.

`POST /v1/ask` with `"stream": true` sends named events (`event: sentence`, `event: done`,
`event: error`); `POST /v1/chat/completions` with `"stream": true` sends unnamed `data:` lines, as
OpenAI does. Both follow the same rules, kept here:

- `started()` runs the pipeline up to its first event before the response begins, so an error that
  happens before anything was sent is still an ordinary HTTP error (status code + JSON body);
- once the stream has begun the status is 200 and cannot change, so `guarded()` turns an error into one
  last event carrying `{"error": {"code", "message"}}` (a `VerityError` keeps its code) and ends;
- the pipeline is synchronous and CPU-bound, so `response()` iterates it in the threadpool and the event
  loop stays free; nothing is buffered (`curl -N` sees each event as it is produced).
"""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from fastapi.responses import StreamingResponse
from starlette.concurrency import iterate_in_threadpool

from service.errors import VerityError

log = logging.getLogger("verity")

T = TypeVar("T")
ErrorPayload = dict[str, dict[str, str]]

MEDIA_TYPE = "text/event-stream"
# no caching, and no buffering by reverse proxies (nginx honours X-Accel-Buffering)
HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def encode(data: str, event: str | None = None) -> str:
    """One event: an optional `event:` line, one `data:` line per line of `data`, a blank line."""
    lines = [f"event: {event}"] if event else []
    lines += [f"data: {line}" for line in data.split("\n")]
    return "\n".join(lines) + "\n\n"


def encode_json(payload: Any, event: str | None = None) -> str:
    """One event whose data is `payload` as compact JSON (always a single line)."""
    return encode(json.dumps(payload, ensure_ascii=False, separators=(",", ":")), event)


def error_payload(exc: Exception) -> ErrorPayload:
    """The API's error shape for an exception raised after the stream began."""
    if isinstance(exc, VerityError):
        return {"error": {"code": exc.code, "message": exc.message}}
    log.error("unhandled error while streaming", exc_info=exc)
    return {"error": {"code": "internal_error", "message": "an internal error occurred; it has been logged"}}


def started(events: Iterator[T]) -> Iterator[T]:
    """`events`, advanced to its first item now: errors raised before it propagate to the caller."""
    try:
        first = next(events)
    except StopIteration:
        return iter(())
    return itertools.chain((first,), events)


def guarded(chunks: Iterator[str], on_error: Callable[[ErrorPayload], str]) -> Iterator[str]:
    """`chunks`, ending with `on_error(payload)` instead of raising when the iteration fails."""
    try:
        yield from chunks
    except Exception as exc:  # noqa: BLE001 - the status is already 200: report it in the stream
        yield on_error(error_payload(exc))


def response(chunks: Iterator[str]) -> StreamingResponse:
    """A `text/event-stream` response that pulls `chunks` in the threadpool."""
    return StreamingResponse(iterate_in_threadpool(chunks), media_type=MEDIA_TYPE, headers=HEADERS)
