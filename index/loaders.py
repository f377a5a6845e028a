"""Read articles from disk into `RawDocument`s, with errors that say which file and line is wrong.

Supported: `.txt` (plain text), `.md`/`.markdown`, `.html`/`.htm`, and `.jsonl` (one article per line:
`id`, `title`, `text`, optional `url`, `published`, `source`, `author`). A file's id is its stem. A folder
is read non-recursively, in name order; files of other types (and hidden files) in it are skipped.
"""

from __future__ import annotations

import json
from pathlib import Path

from index.clean import clean_document
from index.documents import Document, RawDocument

FORMATS = {
    ".txt": "text",
    ".md": "markdown",
    ".markdown": "markdown",
    ".html": "html",
    ".htm": "html",
    ".jsonl": "json",
}
_OPTIONAL_KEYS = ("title", "url", "published", "source", "author")


class LoadError(ValueError):
    """An input file cannot be read as articles; the message names the file (and line when there is one)."""


def _is_eval_set(path: Path) -> bool:
    return path.suffix == ".jsonl" and path.name.startswith("eval")


def load_path(path: Path) -> list[RawDocument]:
    """Load one file, or every supported file directly inside a folder (sorted by name)."""
    path = Path(path)
    if path.is_dir():
        # eval*.jsonl beside the articles is an evaluation set (questions), not part of the corpus
        files = sorted(
            p
            for p in path.iterdir()
            if p.is_file() and _is_supported(p) and p.name[0] != "." and not _is_eval_set(p)
        )
    elif path.is_file():
        if not _is_supported(path):
            kind, supported = path.suffix or "(none)", ", ".join(sorted(FORMATS))
            raise LoadError(f"{path}: unsupported file type {kind!r}; supported: {supported}")
        files = [path]
    else:
        raise LoadError(f"{path}: no such file or folder")
    documents: list[RawDocument] = []
    seen: dict[str, str] = {}
    for file in files:
        for where, document in _load_file(file):
            if document.id in seen:
                first = seen[document.id]
                raise LoadError(f"{where}: duplicate document id {document.id!r} (first in {first})")
            seen[document.id] = where
            documents.append(document)
    return documents


def load_documents(path: Path) -> list[Document]:
    """Load and clean: the articles under `path` as the indexer stores them."""
    documents = []
    for raw in load_path(path):
        document = clean_document(raw)
        if not document.text:
            raise LoadError(f"{path}: document {raw.id!r} has no article text left after cleaning")
        documents.append(document)
    return documents


def _is_supported(path: Path) -> bool:
    return path.suffix.lower() in FORMATS


def _read_text(path: Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        byte = data[error.start : error.start + 1].hex()
        raise LoadError(f"{path}:{line}: not valid UTF-8 (byte 0x{byte} at offset {error.start})") from None


def _load_file(path: Path) -> list[tuple[str, RawDocument]]:
    """(where, document) pairs; `where` is "file" or "file:line", for error messages."""
    text = _read_text(path)
    kind = FORMATS[path.suffix.lower()]
    if kind == "json":
        return _load_jsonl(path, text)
    if not text.strip():
        raise LoadError(f"{path}: file is empty")
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
        raise LoadError(f"{path}: file is empty")
    return documents
