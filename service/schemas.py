"""Request and response models of the HTTP API (the response contract is described in the README)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

MAX_QUESTION_CHARS = 2000


def _plain_text(value: str, what: str) -> str:
    if not value.strip():
        raise ValueError(f"{what} must not be empty")
    if any(ord(c) < 32 and c not in "\t\n\r" for c in value):
        raise ValueError(f"{what} must not contain control characters")
    return value.strip()


class Turn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Literal["user", "assistant"]
    content: str = Field(max_length=20_000)


class AskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    question: str = Field(max_length=MAX_QUESTION_CHARS)
    history: list[Turn] = Field(default_factory=list, max_length=50)
    stream: bool = Field(default=False, strict=True)  # answer as server-sent events: `sentence`…, `done`

    @field_validator("question")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        return _plain_text(value, "question")


class VerifyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    claim: str = Field(max_length=MAX_QUESTION_CHARS)

    @field_validator("claim")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        return _plain_text(value, "claim")


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


class Citation(BaseModel):
    id: int
    document_id: str
    title: str
    text: str
    start: int
    end: int
    author: str | None = None
    published: str | None = Field(default=None, description="the article's date (YYYY-MM-DD), if known")


class Refusal(BaseModel):
    reason: Literal["out_of_scope", "insufficient_evidence", "false_premise"]
    message: str


class Claim(BaseModel):
    text: str
    citations: list[int]
    verdict: Literal["supported", "refuted", "not_enough_info"]


class Conflict(BaseModel):
    about: str
    claims: list[str]  # "Title: sentence", one per side
    citations: list[int] = Field(default_factory=list)  # the citation id of each side, in the same order


class Removed(BaseModel):
    """A generated sentence the guardrail did not show, and why."""

    text: str
    reason: str


class AskResponse(BaseModel):
    status: Literal["answered", "refused"]
    answer: str
    citations: list[Citation] = Field(default_factory=list)
    refusal: Refusal | None = None
    claims: list[Claim] = Field(default_factory=list)
    conflicts: list[Conflict] = Field(default_factory=list)
    resolved_question: str | None = None
    answerer: str = "extractive"
    removed: list[Removed] = Field(default_factory=list)
    note: str | None = None


class VerifyResponse(BaseModel):
    verdict: Literal["supported", "refuted", "not_enough_info"]
    evidence: list[Citation]
    explanation: str


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
    status: Literal["ok", "starting", "unavailable"]
    documents: int | None = None
    passages: int | None = None
    detail: str | None = None


class ErrorBody(BaseModel):
    code: str
    message: str
