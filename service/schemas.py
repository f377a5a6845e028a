"""The answering core's request and response models: what `Verity.ask()` / `verify()` take and return.

Every adapter (HTTP, Slack, CLI, eval) speaks these; the response contract is described in the README.
Models only the HTTP API has (health, documents, the OpenAI-compatible request, the error envelope)
live in `service/http/schemas.py`.
"""

from __future__ import annotations

from datetime import date
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
    as_of: date | None = Field(
        default=None,
        description="the day the question is asked (YYYY-MM-DD, default today): its time words are read "
        "against it, and articles published after it are not used",
        examples=["2024-06-28"],
    )

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


class Citation(BaseModel):
    id: int
    document_id: str
    title: str
    text: str
    start: int
    end: int
    author: str | None = None
    published: str | None = Field(default=None, description="the article's date (YYYY-MM-DD), if known")


class ShortAnswer(BaseModel):
    """The exact span of a cited sentence that answers: `text == document.text[start:end]`."""

    text: str
    citation: int
    start: int
    end: int


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


def lead(response: AskResponse) -> str:
    """How adapters open an answer: the short answer in bold, then a dash ("**Eagles** — ...")."""
    short = response.short_answer
    return f"**{short.text}** — " if short is not None and response.status == "answered" else ""


class AskResponse(BaseModel):
    status: Literal["answered", "refused"]
    short_answer: ShortAnswer | None = None
    answer: str
    citations: list[Citation] = Field(default_factory=list)
    refusal: Refusal | None = None
    claims: list[Claim] = Field(default_factory=list)
    conflicts: list[Conflict] = Field(default_factory=list)
    related: list[Citation] = Field(default_factory=list)  # near misses, not part of the answer
    resolved_question: str | None = None
    answerer: str = "extractive"
    removed: list[Removed] = Field(default_factory=list)
    note: str | None = None


class VerifyResponse(BaseModel):
    verdict: Literal["supported", "refuted", "not_enough_info"]
    evidence: list[Citation]
    explanation: str
