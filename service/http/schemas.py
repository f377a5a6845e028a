"""Models only the HTTP API has: health, the documents listing, the OpenAI-compatible request and the
error envelope. The core's models (`AskRequest`, `AskResponse`, …) stay in `service/schemas.py`."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, JsonValue, Tag, field_validator

from service.schemas import MAX_QUESTION_CHARS, PLAIN_TEXT_SCHEMA, AsOf, plain_text


class ChatContentPart(BaseModel):
    """One part of an OpenAI message's content; only `text` parts are read."""

    model_config = ConfigDict(extra="ignore")
    type: str
    text: str | None = None


class ChatTextPart(BaseModel):
    """The one part a user message's content list may hold: the question, as text."""

    model_config = ConfigDict(extra="ignore")
    type: Literal["text"]
    text: str = Field(max_length=MAX_QUESTION_CHARS, json_schema_extra=PLAIN_TEXT_SCHEMA)

    @field_validator("text")
    @classmethod
    def _question(cls, value: str) -> str:
        return plain_text(value, "question")


class UserMessage(BaseModel):
    """A user message: a question (the last one is asked, earlier ones are the conversation). Its content
    is a string or a list of one text part, under the rules of `/v1/ask`'s `question`."""

    model_config = ConfigDict(extra="ignore")
    role: Literal["user"]
    content: (
        Annotated[str, Field(max_length=MAX_QUESTION_CHARS, json_schema_extra=PLAIN_TEXT_SCHEMA)]
        | Annotated[list[ChatTextPart], Field(min_length=1, max_length=1)]
    )

    @field_validator("content", mode="before")
    @classmethod
    def _text(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("question must not be empty")
        if not isinstance(value, str | list):
            raise ValueError("content must be a string or a list of one text part")
        return value

    @field_validator("content")
    @classmethod
    def _question(cls, value: str | list[ChatTextPart]) -> str | list[ChatTextPart]:
        return plain_text(value, "question") if isinstance(value, str) else value

    @property
    def text(self) -> str:
        return self.content if isinstance(self.content, str) else self.content[0].text


class OtherMessage(BaseModel):
    """An assistant (earlier answers: the conversation), system, developer, tool or function message; only
    assistant text is read. Other fields (`name`, `tool_calls`, …) are accepted and ignored."""

    model_config = ConfigDict(extra="ignore")
    role: Literal["system", "developer", "assistant", "tool", "function"]
    content: str | list[ChatContentPart] | None = None

    @property
    def text(self) -> str:
        if isinstance(self.content, list):
            return "\n".join(p.text for p in self.content if p.type == "text" and p.text)
        return self.content or ""


def _message_kind(message: Any) -> str:
    role = message.get("role") if isinstance(message, dict) else getattr(message, "role", None)
    return "user-message" if role == "user" else "other-message"


# A user message or another; an unknown role is reported against OtherMessage's `role`.
ChatMessage = Annotated[
    Annotated[UserMessage, Tag("user-message")] | Annotated[OtherMessage, Tag("other-message")],
    Discriminator(_message_kind),
]


_A_USER_MESSAGE: dict[str, JsonValue] = {
    "type": "object",
    "properties": {"role": {"const": "user"}},
    "required": ["role"],
}


class ChatStreamOptions(BaseModel):
    model_config = ConfigDict(extra="ignore")
    include_usage: bool = Field(default=False, strict=True)


class ChatCompletionRequest(BaseModel):
    """`POST /v1/chat/completions`. The other OpenAI fields (temperature, max_tokens, tools, …) are
    accepted and ignored: answers come from the corpus, under Verity's rules, whatever they say."""

    model_config = ConfigDict(extra="allow")
    model: str = Field(default="verity", max_length=200)
    messages: list[ChatMessage] = Field(
        min_length=1,
        max_length=200,
        description="At least one `user` message: the last one is the question.",
        json_schema_extra={"contains": _A_USER_MESSAGE},
    )
    stream: bool | None = Field(default=False, strict=True)
    stream_options: ChatStreamOptions | None = None
    as_of: AsOf = Field(default=None, description="Verity's extra field: as in /v1/ask")

    @field_validator("messages")
    @classmethod
    def _has_question(cls, value: list[UserMessage | OtherMessage]) -> list[UserMessage | OtherMessage]:
        if not any(m.role == "user" for m in value):
            raise ValueError("messages must include a user message: the last one is the question")
        return value


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
    code: str = Field(
        description="Machine-readable: `invalid_request`, `invalid_json`, `unsupported_media_type`, "
        "`payload_too_large`, `bad_request`, `unauthorized`, `forbidden`, `not_found`, `rate_limited`, "
        "`not_ready`, `store_unavailable`, …",
        examples=["invalid_request"],
    )
    message: str = Field(description="What is wrong, for people", examples=["question must not be empty"])


class ErrorEnvelope(BaseModel):
    """Every error response of the API: `{"error": {"code", "message"}}`."""

    error: ErrorBody
