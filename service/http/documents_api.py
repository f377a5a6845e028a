"""Writes to the corpus over HTTP: `POST /v1/documents` adds or replaces articles, `DELETE` removes one.

Both need an API key (service/auth.py). A posted article goes through the same cleaning, splitting and
indexing as `verity index` (`clean_document`, then `Verity.index(..., prune=False)`), so it is answerable
as soon as the response arrives, and posting the same article again writes nothing ("unchanged").
An item is plain text (`{"id", "title", "text"}`), a web page (`{"id", "html"}`, read by trafilatura like
an .html file) or a URL to fetch (`{"url"}`, see `service/ingest.py`). A URL that cannot be had (404,
timeout, not HTML, too big, disallowed by robots.txt, no article text) is reported as that item's
`"failed"` with its error, and the other items are written; only when every item of a request failed is
the request itself an error (422 `fetch_failed`). Text and HTML that are bad are the client's to fix:
a 422 for the whole request, before anything is written.

Replacing an article is atomic per article: its new passages are written before the old ones are
deleted, and the article's record (the text citations index into) switches last. If the store fails
midway, the request fails with 503 and passages of the new version that were already written are
removed again, so the previous version stays the one that is returned and answered from. Articles of
the same request that were written before the failure stay written; sending the request again is safe.
Writes are serialized within a process.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, Response
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationInfo,
    field_validator,
    model_validator,
)

from index.clean import clean_document
from index.documents import Document, RawDocument
from index.split import split_passages
from index.webpage import ExtractionError
from service import patterns
from service.errors import BadRequest, FetchFailed, NotFound, StoreUnavailable
from service.http.auth import WriterAuth
from service.http.deps import SettingsDep, VerityDep
from service.http.ingest import fetch_documents
from service.http.schemas import ErrorBody, ErrorEnvelope

if TYPE_CHECKING:
    from service.answering.pipeline import Verity

log = logging.getLogger("verity")

MAX_ID_CHARS = 200
MAX_DOCUMENTS = 100
_write_lock = threading.Lock()


def _checked(value: str, pattern: str, what: str, text: bool = False) -> str:
    """`value` if it follows `pattern` (what the schema says), else a message naming the rule it breaks."""
    if patterns.matches(pattern, value):
        return value
    if patterns.has_control(value, allow="\t\n\r" if text else ""):
        raise ValueError(f"{what} must not contain control characters")
    if not value.strip():
        raise ValueError(f"{what} must not be empty")
    if value != value.strip():
        raise ValueError(f"{what} must not start or end with whitespace")
    if "/" in value or "\\" in value:
        raise ValueError(f"{what} must not contain a slash")
    raise ValueError(f"{what} must not be '.' or '..'")


_ONE_LINE = patterns.schema(patterns.ONE_LINE)


def _check_id(value: str) -> str:
    return _checked(value, patterns.DOCUMENT_ID, "id")


class DocumentIn(BaseModel):
    """One article: plain text, cleaned like the corpus files (site chrome, captions, promos dropped)."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(
        min_length=1,
        max_length=MAX_ID_CHARS,
        examples=["2024-06-01-lantern-festival"],
        json_schema_extra=patterns.schema(patterns.DOCUMENT_ID),
    )
    title: str = Field(
        min_length=1,
        max_length=1000,
        examples=["Lantern festival draws crowds"],
        json_schema_extra=patterns.schema(patterns.TITLE),
    )
    text: str = Field(
        min_length=1,
        max_length=2_000_000,
        examples=["The Kettering Lantern Festival drew 4,200 visitors on Saturday, organisers said."],
        json_schema_extra=patterns.schema(patterns.TEXT),
    )
    url: str | None = Field(default=None, max_length=2000, json_schema_extra=_ONE_LINE)
    published: str | None = Field(
        default=None, max_length=100, examples=["2024-06-01"], json_schema_extra=_ONE_LINE
    )
    source: str | None = Field(default=None, max_length=300, json_schema_extra=_ONE_LINE)
    author: str | None = Field(default=None, max_length=300, json_schema_extra=_ONE_LINE)

    @field_validator("id")
    @classmethod
    def _valid_id(cls, value: str) -> str:
        return _checked(value, patterns.DOCUMENT_ID, "id")

    @field_validator("title", "text")
    @classmethod
    def _not_blank(cls, value: str, info: ValidationInfo) -> str:
        what = str(info.field_name)
        return _checked(value, patterns.TEXT if what == "text" else patterns.TITLE, what, text=what == "text")

    @field_validator("url", "published", "source", "author")
    @classmethod
    def _single_line(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        return _checked(value, patterns.ONE_LINE, str(info.field_name)).strip() or None


class _WebItem(BaseModel):
    """What an HTML or URL item may say about its article; the page supplies whatever it leaves out."""

    model_config = ConfigDict(extra="forbid")
    title: str | None = Field(default=None, min_length=1, max_length=1000)
    published: str | None = Field(default=None, max_length=100, examples=["2024-06-01"])
    source: str | None = Field(default=None, max_length=300)
    author: str | None = Field(default=None, max_length=300)

    @field_validator("title", "published", "source", "author")
    @classmethod
    def _single_line(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        return _checked(value, patterns.ONE_LINE, str(info.field_name)).strip() or None


class HtmlDocumentIn(_WebItem):
    """A web page's HTML: the article, its title, author and date are extracted as from an .html file."""

    id: str = Field(min_length=1, max_length=MAX_ID_CHARS, examples=["2024-06-01-budget-vote"])
    html: str = Field(min_length=1, max_length=5_000_000)
    url: str | None = Field(default=None, max_length=2000, description="where the page was published")

    @field_validator("id")
    @classmethod
    def _valid_id(cls, value: str) -> str:
        return _check_id(value)


class UrlDocumentIn(_WebItem):
    """A page to fetch (with Verity's User-Agent, robots.txt respected) and extract; the id defaults to a
    slug of the URL and a hash of it, stable across requests."""

    url: str = Field(
        min_length=1, max_length=2000, pattern=r"^https?://\S+$", examples=["https://example.com/a"]
    )
    id: str | None = Field(default=None, min_length=1, max_length=MAX_ID_CHARS)

    @field_validator("id")
    @classmethod
    def _valid_id(cls, value: str | None) -> str | None:
        return None if value is None else _check_id(value)

    def document_id(self) -> str:
        from index.sources import url_id

        return self.id or url_id(self.url)


def _item_kind(item: Any) -> str:
    """Which kind of item: `html` and `text` items carry their content; a bare `url` is fetched."""
    if isinstance(item, dict):
        if "html" in item:
            return "html item"
        return "url item" if "url" in item and "text" not in item else "text item"
    if isinstance(item, HtmlDocumentIn):
        return "html item"
    return "url item" if isinstance(item, UrlDocumentIn) else "text item"


# the tags appear in validation errors' locations; the error handler leaves them out (http/handlers.py)
ITEM_TAGS = frozenset({"text item", "html item", "url item"})
Item = Annotated[
    Annotated[DocumentIn, Tag("text item")]
    | Annotated[HtmlDocumentIn, Tag("html item")]
    | Annotated[UrlDocumentIn, Tag("url item")],
    Discriminator(_item_kind),
]


def _item_id(item: DocumentIn | HtmlDocumentIn | UrlDocumentIn) -> str:
    return item.document_id() if isinstance(item, UrlDocumentIn) else item.id


class DocumentsIn(BaseModel):
    """`{"documents": [...]}`: one to 100 articles, ids unique within the request."""

    model_config = ConfigDict(extra="forbid")
    documents: list[Item] = Field(min_length=1, max_length=MAX_DOCUMENTS)

    @model_validator(mode="after")
    def _unique_ids(self) -> DocumentsIn:
        seen: set[str] = set()
        for doc in self.documents:
            doc_id = _item_id(doc)
            if doc_id in seen:
                raise ValueError(f"document id {doc_id!r} appears more than once")
            seen.add(doc_id)
        return self


class DocumentWritten(BaseModel):
    id: str
    title: str | None = Field(description="null for a URL that failed")
    status: Literal["written", "unchanged", "failed"]
    passages: int
    url: str | None = None
    error: ErrorBody | None = Field(default=None, description="why a URL item failed: its code and message")


class DocumentsWritten(BaseModel):
    documents: list[DocumentWritten]
    written: int
    unchanged: int
    failed: int = 0


router = APIRouter(tags=["corpus"])


_UNPROCESSABLE = (
    "Invalid request (`invalid_request`, `invalid_json`): a field breaks the schema, or what a schema "
    "cannot say — an article whose text keeps no sentence (or whose title is empty) after cleaning, an "
    "id sent twice in one request"
)


@router.post(
    "/v1/documents",
    response_model=DocumentsWritten,
    responses={422: {"model": ErrorEnvelope, "description": _UNPROCESSABLE}},
    dependencies=[WriterAuth],
)
def add_documents(request: DocumentsIn, verity: VerityDep, settings: SettingsDep) -> DocumentsWritten:
    """Add or replace articles (an API key is required). Unchanged articles are not written again; URLs
    that fail are reported per item."""
    from index.store import UNAVAILABLE, content_hash  # chromadb: imported once the pipeline is up

    urls = [(i, item) for i, item in enumerate(request.documents) if isinstance(item, UrlDocumentIn)]
    cleaned: dict[int, Document] = {}
    for i, item in enumerate(request.documents):
        if not isinstance(item, UrlDocumentIn):
            cleaned[i] = _clean(i, item)  # bad text or HTML: a 422 before anything is fetched or written
    fetched, failures = fetch_documents(urls, settings.fetch.options(api=True))
    cleaned.update(fetched)
    documents = [cleaned[i] for i in sorted(cleaned)]
    sizes = {}
    for i, doc in sorted(cleaned.items()):
        passages = split_passages(doc, verity.settings.sentences_per_passage)
        if not passages and i in fetched:
            failures[i] = ErrorBody(code="no_text", message=f"{doc.url}: no sentence left after cleaning")
            documents.remove(doc)
        elif not passages:
            raise BadRequest(
                f"documents.{i} ({doc.id!r}): no article text is left after cleaning "
                "(it looked like site chrome, captions or promos, or has no sentences)"
            )
        sizes[doc.id] = len(passages)
    if not documents:
        raise FetchFailed("no article could be had: " + "; ".join(f.message for f in failures.values()))
    with _write_lock:
        try:
            before = _digests(verity, [d.id for d in documents])
        except UNAVAILABLE as exc:
            raise StoreUnavailable(f"the vector store is unavailable: {exc}") from exc
        try:
            verity.index(documents, prune=False, progress=False)
        except Exception as exc:
            log.warning("writing documents failed: %s", exc)
            _discard_partial_writes(verity, [d.id for d in documents])
            if isinstance(exc, UNAVAILABLE):
                raise StoreUnavailable(
                    f"the store failed while writing ({exc}); articles not yet written keep their "
                    "previous version, and sending the request again is safe"
                ) from exc
            raise
    results = []
    for i, item in enumerate(request.documents):
        if i in failures:
            url = item.url if isinstance(item, UrlDocumentIn) else None
            results.append(DocumentWritten(id=_item_id(item), title=None, status="failed", passages=0,
                                           url=url, error=failures[i]))  # fmt: skip
            continue
        doc = cleaned[i]
        status: Literal["written", "unchanged"] = (
            "unchanged" if before.get(doc.id) == content_hash(doc) else "written"
        )
        results.append(DocumentWritten(id=doc.id, title=doc.title, status=status, passages=sizes[doc.id],
                                       url=doc.url))  # fmt: skip
    written = sum(r.status == "written" for r in results)
    unchanged = sum(r.status == "unchanged" for r in results)
    log.info("documents posted: %d written, %d unchanged, %d failed", written, unchanged, len(failures))
    return DocumentsWritten(documents=results, written=written, unchanged=unchanged, failed=len(failures))


@router.delete(
    "/v1/documents/{document_id}",
    status_code=204,
    response_class=Response,
    responses={404: {"model": ErrorEnvelope, "description": "No such document (`not_found`)"}},
    dependencies=[WriterAuth],
)
def delete_document(document_id: str, verity: VerityDep) -> Response:
    """Remove an article and its passages (an API key is required)."""
    from index.store import UNAVAILABLE

    with _write_lock:
        try:
            existed = verity.store.delete_document(document_id)
            verity.retriever.refresh(force=True)
        except UNAVAILABLE as exc:
            raise StoreUnavailable(f"the vector store is unavailable: {exc}") from exc
    if not existed:
        raise NotFound(f"no document with id {document_id!r}")
    log.info("document deleted: %s", document_id)
    return Response(status_code=204)


def _clean(i: int, doc: DocumentIn | HtmlDocumentIn) -> Document:
    is_html = isinstance(doc, HtmlDocumentIn)
    raw = RawDocument(
        id=doc.id,
        text=doc.html if isinstance(doc, HtmlDocumentIn) else doc.text,
        title=doc.title,
        author=doc.author,
        url=doc.url,
        published=doc.published,
        source=doc.source,
        format="html" if is_html else "text",
    )
    try:
        cleaned = clean_document(raw)
    except ExtractionError as exc:
        raise BadRequest(f"documents.{i} ({doc.id!r}): {exc}") from None
    if not cleaned.title.strip():
        raise BadRequest(f"documents.{i} ({doc.id!r}): the title is empty after cleaning")
    return cleaned


def _digests(verity: Verity, ids: list[str]) -> dict[str, str]:
    found = (verity.store.get_document(doc_id) for doc_id in ids)
    return {stored.document.id: stored.digest for stored in found if stored is not None}


def _discard_partial_writes(verity: Verity, ids: list[str]) -> None:
    """Remove passages written for a version whose record was never switched to (best effort)."""
    try:
        current = _digests(verity, ids)
        for doc_id in ids:
            got = verity.store.passages.get(where={"document_id": doc_id}, include=["metadatas"])
            metas = got["metadatas"] or [{}] * len(got["ids"])
            digest = current.get(doc_id)  # None: the article was new, every passage of it is partial
            stale = [pid for pid, meta in zip(got["ids"], metas, strict=True) if meta.get("digest") != digest]
            if stale:
                verity.store.passages.delete(ids=stale)
        verity.retriever.refresh(force=True)
    except Exception as exc:  # noqa: BLE001 - the store is failing; the next write of these ids tidies up
        log.warning("could not remove partially written passages of %s: %s", ", ".join(ids), exc)
