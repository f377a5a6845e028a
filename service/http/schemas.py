"""Models only the HTTP API has: health, the documents listing, the OpenAI-compatible request and the
error envelope. The core's models (`AskRequest`, `AskResponse`, …) stay in `service/schemas.py`."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class ChatContentPart(BaseModel):
    """One part of an OpenAI message's content; only `text` parts are read."""

    model_config = ConfigDict(extra="ignore")
    type: str
    text: str | None = None


class ChatMessage(BaseModel):
    """An OpenAI chat message. Other fields (`name`, `tool_calls`, …) are accepted and ignored."""

    model_config = ConfigDict(extra="ignore")
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ChatContentPart] | None = None

    @property
    def text(self) -> str:
        if isinstance(self.content, list):
            return "\n".join(p.text for p in self.content if p.type == "text" and p.text)
        return self.content or ""


class ChatStreamOptions(BaseModel):
    model_config = ConfigDict(extra="ignore")
    include_usage: bool = False


class ChatCompletionRequest(BaseModel):
    """`POST /v1/chat/completions`. The other OpenAI fields (temperature, max_tokens, tools, …) are
    accepted and ignored: answers come from the corpus, under Verity's rules, whatever they say."""

    model_config = ConfigDict(extra="allow")
    model: str = Field(default="verity", max_length=200)
    messages: list[ChatMessage] = Field(min_length=1, max_length=200)
    stream: bool | None = Field(default=False, strict=True)
    stream_options: ChatStreamOptions | None = None
    as_of: date | None = Field(default=None, description="Verity's extra field: as in /v1/ask")


class DocumentSummary(BaseModel):
    id: str
    title: str
    author: str | None = None
    published: str | None = None
    url: str | None = None
    passages: int


class DocumentOut(BaseModel):
    id: str
    title: str
    text: str
    author: str | None = None
    url: str | None = None
    published: str | None = None
    source: str | None = None
    passages: int


class Health(BaseModel):
    status: Literal["ok", "starting", "unavailable", "outdated"]
    documents: int | None = None
    passages: int | None = None
    detail: str | None = None


class ErrorBody(BaseModel):
    code: str
    message: str
