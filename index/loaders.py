"""Read articles from disk into `RawDocument`s, with errors that say which file and line is wrong.

Supported: `.txt` (plain text, UTF-8), `.md`/`.markdown`, `.html`/`.htm` (any encoding: declared or
detected, see `index/webpage.py`), and `.jsonl` (one article per line: `id`, `title`, `text`, optional
`url`, `published`, `source`, `author`). A file's id is its stem. A folder is read in name order (with
`recursive`, its subfolders too); files of other types (and hidden files) in it are skipped. Feeds
(`.rss`, `.atom`, `.xml`) are listed here but read by `index/sources.py`, since their entries are fetched.

Two ways to fail: `load_path`/`load_documents` raise `LoadError` on the first problem (the strict
loaders the service's seed indexing uses); `load_file` lets a caller (`index/sources.py`) report one
bad file and go on with the rest.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from index.clean import clean_document
from index.documents import Document, RawDocument
from index.webpage import ExtractionError, decode_html

FORMATS = {
    ".txt": "text",
    ".md": "markdown",
    ".markdown": "markdown",
    ".html": "html",
    ".htm": "html",
    ".jsonl": "json",
    ".rss": "feed",
    ".atom": "feed",
    ".xml": "feed",
}
_OPTIONAL_KEYS = ("title", "url", "published", "source", "author")


class LoadError(ValueError):
    """An input cannot be read as articles; the message names the file (and line when there is one).

    `code` says what kind of failure it is, for per-item reports (`not_found`, `empty`, `no_text`, …)."""

    def __init__(self, message: str, code: str = "unreadable") -> None:
        super().__init__(message)
        self.code = code


def _is_eval_set(path: Path) -> bool:
    return path.suffix == ".jsonl" and path.name.startswith("eval")


def is_supported(path: Path) -> bool:
    return path.suffix.lower() in FORMATS


def is_feed(path: Path) -> bool:
    return FORMATS.get(path.suffix.lower()) == "feed"


def list_files(path: Path, recursive: bool = False) -> list[Path]:
    """The supported files under `path` (itself, if a file), sorted; `LoadError` if there is none such."""
    path = Path(path)
    if path.is_dir():
        # eval*.jsonl beside the articles is an evaluation set (questions), not part of the corpus
        found = path.rglob("*") if recursive else path.iterdir()
        return sorted(
            p
            for p in found
            if p.is_file()
            and is_supported(p)
            and not any(part.startswith(".") for part in p.relative_to(path).parts)
            and not _is_eval_set(p)
        )
    if path.is_file():
        if not is_supported(path):
            kind, supported = path.suffix or "(none)", ", ".join(sorted(FORMATS))
            raise LoadError(f"{path}: unsupported file type {kind!r}; supported: {supported}")
        return [path]
    raise LoadError(f"{path}: no such file or folder", code="not_found")


def load_path(path: Path, recursive: bool = False) -> list[RawDocument]:
    """Load one file, or every supported file inside a folder (sorted by name); feeds are not read here."""
    return [raw for _, raw in _raw_with_places(path, recursive)]


def check_unique(doc_id: str, where: str, seen: dict[str, str]) -> None:
    """Record `doc_id` as read at `where`; `LoadError` if it was read before."""
    if doc_id in seen:
        raise LoadError(f"{where}: duplicate document id {doc_id!r} (first in {seen[doc_id]})", "duplicate")
    seen[doc_id] = where


def load_documents(path: Path, recursive: bool = False) -> list[Document]:
    """Load and clean: the articles under `path` as the indexer stores them."""
    return [clean(where, raw) for where, raw in _raw_with_places(path, recursive)]


def _raw_with_places(path: Path, recursive: bool) -> Iterator[tuple[str, RawDocument]]:
    seen: dict[str, str] = {}
    for file in list_files(path, recursive):
        if not is_feed(file):
            for where, document in load_file(file):
                check_unique(document.id, where, seen)
                yield where, document


def clean(where: str, raw: RawDocument) -> Document:
    """`clean_document`, with a `LoadError` naming `where` when nothing of the article is left."""
    try:
        document = clean_document(raw)
    except ExtractionError as exc:
        raise LoadError(f"{where}: {exc}", code="no_text") from None
    if not document.text:
        raise LoadError(f"{where}: document {raw.id!r} has no article text left after cleaning", "no_text")
    return document


def _read_text(path: Path) -> str:
    data = path.read_bytes()
    if FORMATS[path.suffix.lower()] == "html":
        return decode_html(data)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        byte = data[error.start : error.start + 1].hex()
        raise LoadError(
            f"{path}:{line}: not valid UTF-8 (byte 0x{byte} at offset {error.start})", "encoding"
        ) from None


def load_file(path: Path) -> list[tuple[str, RawDocument]]:
    """(where, document) pairs of one article file; `where` is "file" or "file:line", for messages."""
    try:
        text = _read_text(path)
    except OSError as exc:
        raise LoadError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    kind = FORMATS[path.suffix.lower()]
    if kind == "json":
        return _load_jsonl(path, text)
    if not text.strip():
        raise LoadError(f"{path}: file is empty", code="empty")
    return [(str(path), RawDocument(id=path.stem, text=text, format=kind))]


def _load_jsonl(path: Path, text: str) -> list[tuple[str, RawDocument]]:
    documents = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise LoadError(f"{where}: invalid JSON: {error.msg} (column {error.colno})") from None
        if not isinstance(record, dict):
            raise LoadError(f"{where}: expected a JSON object, got {type(record).__name__}")
        for key in ("id", "text"):
            value = record.get(key)
            if not isinstance(value, str) or not value.strip():
                raise LoadError(f"{where}: missing or empty {key!r} (a non-empty string is required)")
        optional: dict[str, str | None] = {}
        for key in _OPTIONAL_KEYS:
            value = record.get(key)
            if value is not None and not isinstance(value, str):
                raise LoadError(f"{where}: {key!r} must be a string, got {type(value).__name__}")
            optional[key] = value or None
        document = RawDocument(id=record["id"].strip(), text=record["text"], format="json", **optional)
        documents.append((where, document))
    if not documents:
        raise LoadError(f"{path}: file is empty", code="empty")
    return documents
