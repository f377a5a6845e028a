"""The answering core's request and response models: what `Verity.ask()` / `verify()` take and return.

Every adapter (HTTP, Slack, CLI, eval) speaks these; the response contract is described in the README.
Models only the HTTP API has (health, documents, the OpenAI-compatible request, the error envelope)
live in `service/http/schemas.py`.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from service import patterns

MAX_QUESTION_CHARS = 2000

# The OpenAPI schema states the rule of questions and claims (`patterns.QUESTION`); the validator checks
# the same pattern and says which part of it failed.
PLAIN_TEXT_SCHEMA: dict[str, Any] = {"minLength": 1, **patterns.schema(patterns.QUESTION)}


def plain_text(value: str, what: str) -> str:
    """`value` stripped, or a ValueError saying which part of `patterns.QUESTION` it breaks."""
    if not patterns.matches(patterns.QUESTION, value):
        if patterns.has_control(value, allow="\t\n\r"):
            raise ValueError(f"{what} must not contain control characters")
        raise ValueError(f"{what} must not be empty")
    return value.strip()


class Turn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Literal["user", "assistant"]
    content: str = Field(max_length=20_000)


def _iso_day(value: object) -> object:
    """`as_of` is a day written YYYY-MM-DD (or null), nothing else: no timestamps, no other forms."""
    if value is None or isinstance(value, date):
        return value
    if isinstance(value, str) and len(value) == 10 and value[4] == "-" and value[7] == "-":
        return date.fromisoformat(value)  # an impossible day ("2024-02-30") is a ValueError: a 422
    raise ValueError("as_of must be a date written YYYY-MM-DD")


AsOf = Annotated[date | None, BeforeValidator(_iso_day)]


class AskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    question: str = Field(max_length=MAX_QUESTION_CHARS, json_schema_extra=PLAIN_TEXT_SCHEMA)
    history: list[Turn] = Field(default_factory=list, max_length=50)
    stream: bool = Field(default=False, strict=True)  # answer as server-sent events: `sentence`…, `done`
    as_of: AsOf = Field(
        default=None,
        description="the day the question is asked (YYYY-MM-DD, default today): its time words are read "
        "against it, and articles published after it are not used",
        examples=["2024-06-28"],
    )

    @field_validator("question")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        return plain_text(value, "question")


class VerifyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    claim: str = Field(max_length=MAX_QUESTION_CHARS, json_schema_extra=PLAIN_TEXT_SCHEMA)

    @field_validator("claim")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        return plain_text(value, "claim")


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
