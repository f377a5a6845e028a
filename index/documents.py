"""The document and passage records the indexer produces and the service reads back.

Kept free of any storage or model import so that every other module (and the service) can share them.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class RawDocument:
    """An article as loaded from disk or an API call, before cleaning."""

    id: str
    text: str
    title: str | None = None
    author: str | None = None
    url: str | None = None
    published: str | None = None
    source: str | None = None
    format: str = "text"  # "text" | "markdown" | "html" | "json"


@dataclass(frozen=True)
class Document:
    """A cleaned article. `text` is what citation offsets index into."""

    id: str
    title: str
    text: str
    author: str | None = None
    url: str | None = None
    published: str | None = None
    source: str | None = None


@dataclass(frozen=True)
class Sentence:
    text: str
    start: int
    end: int


@dataclass
class Passage:
    """A few consecutive sentences of one document, with their offsets in the cleaned text."""

    document_id: str
    title: str
    position: int
    sentences: list[Sentence]
    text: str  # document.text[start:end], exactly
    author: str | None = None
    paragraph: int = 0
    duplicate_of: list[str] = field(default_factory=list)
    published: str | None = None  # the document's date, carried onto citations

    @property
    def start(self) -> int:
        return self.sentences[0].start

    @property
    def end(self) -> int:
        return self.sentences[-1].end
