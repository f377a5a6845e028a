"""The OpenAI-compatible endpoint: any OpenAI client or chat UI can talk to Verity.

A thin adapter over the same `Verity.ask()` / `ask_stream()` as `/v1/ask`. The last `user` message is
the question and the earlier user/assistant messages are the history; system (and developer, tool)
messages are ignored, because nothing a client says can change the answering rules. Sampling fields
(`temperature`, `max_tokens`, `tools`, …) are accepted and ignored, and any `model` name is answered by
Verity, which the response says (`"model": "verity"`).

The reply's `content` is the answer, then a blank line and `Sources:` with numbered sources
`[n] Title — “quoted sentence”`; the structured response (citations, claims, conflicts, refusal, status)
rides along in the extra top-level field `verity`. Streaming sends `chat.completion.chunk`s as unnamed
`data:` events, as OpenAI does: the role, one chunk per verified sentence, the sources, a last chunk with
`finish_reason: "stop"` and `verity`, then `data: [DONE]`. Token counts are whitespace-split estimates.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Literal

from fastapi import APIRouter
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ValidationError

from service.errors import BadRequest, NotFound
from service.http import sse
from service.http.auth import ReaderAuth
from service.http.deps import VerityDep
from service.http.limits import RateLimit
from service.http.observability import MetricsDep
from service.http.schemas import ChatCompletionRequest, ChatMessage, ErrorEnvelope
from service.schemas import AskRequest, AskResponse, Turn, lead

if TYPE_CHECKING:  # the pipeline module is heavy to import; only its types are needed here
    from service.answering.pipeline import StreamEvent

MODEL = "verity"
_CREATED = 1_767_225_600  # 2026-01-01: a fixed "created" for the one model, as OpenAI lists model dates
_MAX_TURNS = 50  # AskRequest's limits on history: the most recent turns are kept, each one shortened
_MAX_TURN_CHARS = 20_000
_SOURCES = "\n\nSources:\n"

_NO_MODEL: dict[int | str, dict[str, object]] = {
    404: {"model": ErrorEnvelope, "description": "No such model (`not_found`)"},
}
_STREAM = {
    "description": 'The completion (a refusal too); with `"stream": true`, server-sent events instead.',
    "content": sse.content(
        None,
        "a `chat.completion.chunk` as JSON (the role, one per verified sentence, the sources, the last with "
        "`finish_reason: stop` and `verity`); `[DONE]` last; `{error: {code, message}}` if the answer "
        "fails after the stream began",
    ),
}


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class Choice(BaseModel):
    index: int = 0
    message: AssistantMessage
    finish_reason: Literal["stop"] = "stop"
    logprobs: None = None


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str = MODEL
    choices: list[Choice]
    usage: Usage
    verity: AskResponse


class ModelCard(BaseModel):
    id: str = MODEL
    object: Literal["model"] = "model"
    created: int = _CREATED
    owned_by: str = "verity"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


router = APIRouter(tags=["openai"])


@router.get("/v1/models", response_model=ModelList, dependencies=[ReaderAuth])
def list_models() -> ModelList:
    """The one model this server answers with (for clients that list models first)."""
    return ModelList(data=[ModelCard()])


@router.get("/v1/models/{model_id}", response_model=ModelCard, responses=_NO_MODEL, dependencies=[ReaderAuth])
def get_model(model_id: str) -> ModelCard:
    if model_id != MODEL:
        raise NotFound(f"no model {model_id!r}; this server has one model, {MODEL!r}")
    return ModelCard()


@router.post(
    "/v1/chat/completions",
    response_model=ChatCompletion,
    responses={200: _STREAM},
    dependencies=[ReaderAuth, RateLimit],
)
def chat_completions(
    request: ChatCompletionRequest, verity: VerityDep, metrics: MetricsDep
) -> ChatCompletion | StreamingResponse:
    """OpenAI's chat completions, answered from the corpus with sources (or a refusal, still a 200)."""
    ask = conversation(request.messages)
    prompt_tokens = _tokens(" ".join(m.text for m in request.messages))
    if request.stream:
        include_usage = bool(request.stream_options and request.stream_options.include_usage)
        events = sse.started(
            metrics.observe_events(verity.ask_stream(ask.question, ask.history, request.as_of))
        )
        chunks = _chunks(events, prompt_tokens, include_usage)
        return sse.response(sse.guarded(chunks, sse.encode_json))
    response = verity.ask(ask.question, ask.history, request.as_of)
    metrics.record_answer(response)
    content = lead(response) + response.answer + sources(response)
    return ChatCompletion(
        id=_completion_id(),
        created=int(time.time()),
        choices=[Choice(message=AssistantMessage(content=content))],
        usage=_usage(prompt_tokens, content),
        verity=response,
    )


def conversation(messages: list[ChatMessage]) -> AskRequest:
    """The question (the last user message) and the history (the user/assistant messages before it)."""
    last = next((i for i in reversed(range(len(messages))) if messages[i].role == "user"), None)
    if last is None:
        raise BadRequest("messages must include a user message: the last one is the question")
    history = [
        Turn(role="user" if m.role == "user" else "assistant", content=_turn_text(m))
        for m in messages[:last]
        if m.role in ("user", "assistant") and m.text.strip()
    ]
    try:
        return AskRequest(question=messages[last].text, history=history[-_MAX_TURNS:])
    except ValidationError as exc:
        reasons = "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors())
        raise BadRequest(f"messages[{last}].content (the question): {reasons}") from exc


def sources(response: AskResponse) -> str:
    """The numbered sources block appended to the answer: `[n] Title — “quoted sentence”`."""
    if not response.citations:
        return ""
    lines = [
        f"[{c.id}] {c.title} — “{c.text}”" if c.title.strip() else f"[{c.id}] “{c.text}”"
        for c in response.citations
    ]
    return _SOURCES + "\n".join(lines)


def _chunks(events: Iterator[StreamEvent], prompt_tokens: int, include_usage: bool) -> Iterator[str]:
    """The pipeline's events as `chat.completion.chunk` events, then `[DONE]`."""
    head: dict[str, Any] = {
        "id": _completion_id(),
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": MODEL,
    }

    def chunk(delta: dict[str, str], finish_reason: str | None = None, **extra: Any) -> str:
        choice = {"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}
        return sse.encode_json({**head, "choices": [choice], **extra})

    yield chunk({"role": "assistant"})
    content, sentences = "", 0
    for event in events:
        if event.event == "short_answer":  # the reply leads with it, as the non-streamed one does
            piece = f"**{event.data['text']}** — "
            content += piece
            yield chunk({"content": piece})
        elif event.event == "sentence":
            piece = ("" if not content or content.endswith(" ") else " ") + _sentence(event.data)
            content += piece
            sentences += 1
            yield chunk({"content": piece})
        elif event.event == "done":
            response = AskResponse.model_validate(event.data)
            tail = _tail(response, streamed=sentences > 0)
            content += tail
            if tail:
                yield chunk({"content": tail})
            usage = _usage(prompt_tokens, content).model_dump()
            yield chunk({}, "stop", verity=response.model_dump())
            if include_usage:
                yield sse.encode_json({**head, "choices": [], "usage": usage})
    yield sse.encode("[DONE]")


def _sentence(data: dict[str, Any]) -> str:
    markers = "".join(f"[{n}]" for n in data.get("citations", []))
    return f"{data['text']} {markers}" if markers else str(data["text"])


def _tail(response: AskResponse, streamed: bool) -> str:
    """What follows the streamed sentences: the sources (and a refusal's message, which has no sentences)."""
    return sources(response) if streamed else response.answer + sources(response)


def _turn_text(message: ChatMessage) -> str:
    """A message as history: our own sources block is dropped from earlier answers."""
    text = message.text
    if message.role == "assistant":
        text = text.split(_SOURCES, 1)[0]
    return text[:_MAX_TURN_CHARS]


def _tokens(text: str) -> int:
    return len(text.split())


def _usage(prompt_tokens: int, content: str) -> Usage:
    completion = _tokens(content)
    return Usage(
        prompt_tokens=prompt_tokens, completion_tokens=completion, total_tokens=prompt_tokens + completion
    )


def _completion_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex}"
