"""The Chroma store: passages and sentences (with embeddings and analyses) and the cleaned documents.

Chroma is the single source of truth. Three collections: `<name>` holds one record per passage (text,
embedding, metadata with the document id, title, sentence offsets and near-duplicates) and is what
llama-index's ChromaVectorStore queries; `<name>_sentences` holds one record per sentence of every passage
(its text, its own embedding and its spaCy analysis, `index/analysis.py`), which the answerer and the
verifier read instead of embedding and parsing corpus text while answering — a separate collection, not
passage metadata, because the passage table is read whole at every rebuild of the lexical index and the
sentence data (about 4 KB a sentence) is only wanted for the few passages a question retrieves;
`<name>_documents` holds each cleaned document (the text that
citation offsets index into) with its content hash, so the indexer can tell unchanged documents apart.

A sentence's embedding and analysis are kept in one metadata value of its record (`record`: base64 of the
float32 values, a space, the analysis), beside the `document_id` and `passage_id` its deletions select by;
the record's Chroma embedding is a one-dimensional placeholder and it has no Chroma document. Nothing
searches sentences by vector or by text — they are read by id, a passage's at a time — and Chroma loads a
collection's whole vector index into memory on the first read of any of its records (for the sentences of
100k passages that was about 400 MB of a serving process's 2 GB, for an index nobody queries), indexes every
record's document for full-text search, and stores each metadata key as a row of its own: one packed
value and no document write in 0.55 of the time of the text, the vector, the analysis and three ids as
separate fields (6,000 sentences: 2.2 s against 4.1 s of CPU), and the writes are the indexer's critical
path (see `index/indexer.py`). A sentence collection written before this layout (its collection metadata
lacks `_SENTENCE_LAYOUT`) is never read; the indexer replaces it.

Document records carry the schema version (`index/analysis.SCHEMA`) they were written with; the content
hash includes it, so `verity index` rewrites an index written by an older version.
Passage ids derive from the document id, its content hash and the passage position, so re-indexing an
unchanged corpus writes nothing and a changed document gets fresh ids (written before the old ones are
deleted, so a failure midway leaves the previous version answerable).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import chromadb
import httpx
import numpy as np
from chromadb.api import ClientAPI
from chromadb.api.models.Collection import Collection
from chromadb.config import Settings as ChromaSettings
from chromadb.errors import NotFoundError

from index.analysis import SCHEMA
from index.documents import Document, Passage, Sentence
from index.heap import release_freed

_PAGE = 5000
# Document records per upsert: each carries a whole article's text, so requests stay small, and a batch
# of documents commits a few at a time (every write call costs a commit, so not one at a time either).
_RECORDS = 32
# chromadb's HttpClient waits forever by default; a hung server must become an error, not a hung request.
_HTTP_TIMEOUT = httpx.Timeout(60.0, connect=5.0)
# The sentence collection's metadata in the layout above (embeddings in record metadata).
_SENTENCE_LAYOUT = {"vectors": "record"}
_PLACEHOLDER = np.zeros((1,), dtype=np.float32)

# What a store call raises when the Chroma server cannot be reached (down, restarting, connection reset,
# timed out). The service maps these to 503 `store_unavailable`; the client reconnects on its own once
# the server is back, so nothing needs rebuilding.
UNAVAILABLE: tuple[type[Exception], ...] = (httpx.TransportError, ConnectionError, OSError)


def content_hash(document: Document) -> str:
    """What makes a stored version stale: the index schema, its title, author, text and (when it has one)
    its date."""
    fields = [SCHEMA, document.title, document.author, document.text]
    fields += [document.published] if document.published else []  # undated documents keep their hash
    payload = json.dumps(fields, ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def passage_id(document: Document, digest: str, position: int) -> str:
    return f"{document.id}:{digest}:{position:05d}"


@dataclass(frozen=True)
class Version:
    """A document's new version as the indexer writes it: passages and sentences, embedded and analysed.

    `sentence_vectors` and `analyses` hold one row per sentence, passage by passage in order.
    """

    document: Document
    digest: str
    passages: list[Passage]
    embeddings: np.ndarray
    sentence_vectors: np.ndarray
    analyses: list[str]


@dataclass(frozen=True)
class SentenceRecord:
    """What is stored about one corpus sentence: its embedding and its serialised parse."""

    vector: np.ndarray
    analysis: str


def _current_layout(sentences: Collection) -> bool:
    meta = sentences.metadata or {}
    return all(meta.get(k) == v for k, v in _SENTENCE_LAYOUT.items())


def encode_vector(vector: np.ndarray) -> str:
    """A sentence embedding as stored in its record's metadata: base64 of its float32 values."""
    return base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode("ascii")


def decode_vector(text: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), dtype="<f4").astype(np.float32)


def sentence_id(passage_id_: str, index: int) -> str:
    return f"{passage_id_}:{index:02d}"


@dataclass(frozen=True)
class StoredDocument:
    document: Document
    digest: str
    passages: int


@dataclass(frozen=True)
class StoredPassage:
    id: str
    passage: Passage


def connect(path: Path | None = None, url: str | None = None) -> ClientAPI:
    """An embedded persistent client under `path`, or an HTTP client for a Chroma server at `url`."""
    if url:
        parsed = urlparse(url if "://" in url else f"http://{url}")
        client = chromadb.HttpClient(
            host=parsed.hostname or "localhost",
            port=parsed.port or (443 if parsed.scheme == "https" else 8000),
            ssl=parsed.scheme == "https",
            settings=ChromaSettings(anonymized_telemetry=False),
        )
        # No public setting for the timeout: set it on the client's httpx session when it has one.
        session = getattr(getattr(client, "_server", None), "_session", None)
        if isinstance(session, httpx.Client):
            session.timeout = _HTTP_TIMEOUT
        return client
    assert path is not None, "an embedded store needs a path"
    path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(path), settings=ChromaSettings(anonymized_telemetry=False))


def _meta_str(meta: dict[str, Any], key: str) -> str | None:
    value = meta.get(key)
    return str(value) if value not in (None, "") else None


def document_of(passage_id_: str) -> str:
    """The document id inside a passage id (`passage_id`)."""
    return passage_id_.rsplit(":", 2)[0]


def current_passage(passage_id_: str, document_id: str, digests: dict[str, str]) -> bool:
    """A passage belongs to its document's current version (ids carry the content hash)."""
    parts = passage_id_.rsplit(":", 2)
    return len(parts) == 3 and digests.get(document_id) == parts[1]


def passage_from_record(record_id: str, text: str, meta: dict[str, Any]) -> Passage:
    spans = json.loads(str(meta["sentences"]))
    base = int(meta["start"])
    sentences = [Sentence(text[s - base : e - base], s, e) for s, e in spans]
    dups = str(meta.get("duplicate_of") or "")
    return Passage(
        document_id=str(meta["document_id"]),
        title=str(meta["title"]),
        position=int(meta["position"]),
        sentences=sentences,
        text=text,
        author=_meta_str(meta, "author"),
        paragraph=int(meta.get("paragraph", 0)),
        duplicate_of=[d for d in dups.split(",") if d],
        published=_meta_str(meta, "published"),
    )


class ChromaStore:
    def __init__(self, client: ClientAPI, name: str = "verity") -> None:
        self.client = client
        self.name = name
        self.passages: Collection = client.get_or_create_collection(
            name, configuration={"hnsw": {"space": "cosine"}}
        )
        self.sentences: Collection = self._open_sentences()
        self.documents: Collection = client.get_or_create_collection(
            f"{name}_documents", configuration={"hnsw": {"space": "cosine"}}
        )

    def _open_sentences(self) -> Collection:
        """The sentence collection, created in this version's layout when there is none."""
        return self.client.get_or_create_collection(
            f"{self.name}_sentences", metadata=_SENTENCE_LAYOUT, configuration={"hnsw": {"space": "l2"}}
        )

    # -- reads ---------------------------------------------------------------------------------------
    def heartbeat(self) -> None:
        self.client.heartbeat()

    def count(self) -> int:
        return int(self.passages.count())

    def document_digests(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for ids, metas, _ in self._pages(self.documents, include=["metadatas"]):
            for doc_id, meta in zip(ids, metas, strict=True):
                out[doc_id] = str(meta["digest"])
        return out

    def outdated(self) -> set[str]:
        """The stored documents written by a version with another schema (`verity index` rewrites them)."""
        return {
            doc_id
            for ids, metas, _ in self._pages(self.documents, include=["metadatas"])
            for doc_id, meta in zip(ids, metas, strict=True)
            if (meta or {}).get("schema") != SCHEMA
        }

    def sentence_records(self, passages: dict[str, Passage]) -> dict[str, SentenceRecord]:
        """The stored embedding and analysis of every sentence of these passages, by sentence id (none
        from a sentence collection in an older layout: those sentences are computed while answering)."""
        if not self._current_sentence_layout():
            return {}
        ids = [sentence_id(pid, i) for pid, p in passages.items() for i in range(len(p.sentences))]
        out: dict[str, SentenceRecord] = {}
        for i in range(0, len(ids), _PAGE):
            try:
                got = self.sentences.get(ids=ids[i : i + _PAGE], include=["metadatas"])
            except NotFoundError:  # replaced by another process's indexer since this one looked it up
                self.sentences = self.client.get_collection(self.sentences.name)
                got = self.sentences.get(ids=ids[i : i + _PAGE], include=["metadatas"])
            for sid, meta in zip(got["ids"], got["metadatas"] or [], strict=True):
                record = (meta or {}).get("record")
                if isinstance(record, str) and record:
                    vector, _, analysis = record.partition(" ")
                    out[sid] = SentenceRecord(decode_vector(vector), analysis)
        return out

    def _current_sentence_layout(self) -> bool:
        """The sentence collection is in this version's layout; when it is not, look again (another
        process's `verity index` may have replaced it since) — a lookup that loads no records."""
        if _current_layout(self.sentences):
            return True
        with contextlib.suppress(Exception):  # deleted just now by the indexer: an older layout still
            self.sentences = self.client.get_collection(self.sentences.name)
        return _current_layout(self.sentences)

    def generation(self) -> str:
        """A token that changes on every write by any process (cheap enough to poll per request)."""
        collection = self.client.get_collection(f"{self.name}_documents")
        return f"{(collection.metadata or {}).get('generation', '')}:{self.count()}"

    def _touch(self) -> None:
        self.documents.modify(metadata={"generation": uuid.uuid4().hex})

    def get_document(self, document_id: str) -> StoredDocument | None:
        got = self.documents.get(ids=[document_id], include=["documents", "metadatas"])
        if not got["ids"]:
            return None
        texts, metas = got["documents"] or [""], got["metadatas"] or [{}]
        return self._stored_document(document_id, texts[0], dict(metas[0]))

    def list_documents(self) -> list[StoredDocument]:
        docs = [
            self._stored_document(doc_id, text, meta)
            for ids, metas, texts in self._pages(self.documents, include=["metadatas", "documents"])
            for doc_id, meta, text in zip(ids, metas, texts, strict=True)
        ]
        return sorted(docs, key=lambda d: d.document.id)

    def iter_passages(self) -> Iterator[StoredPassage]:
        for ids, metas, texts in self._pages(self.passages, include=["metadatas", "documents"]):
            for pid, meta, text in zip(ids, metas, texts, strict=True):
                yield StoredPassage(pid, passage_from_record(pid, text, meta))

    def passage_embeddings(self, ids: list[str]) -> dict[str, np.ndarray]:
        if not ids:
            return {}
        got = self.passages.get(ids=ids, include=["embeddings"])
        embeddings = got["embeddings"]
        assert embeddings is not None
        return {pid: np.asarray(e, dtype=np.float32) for pid, e in zip(got["ids"], embeddings, strict=True)}

    # -- writes --------------------------------------------------------------------------------------
    def put_document(self, version: Version) -> list[str]:
        """Write one document's new version atomically (see `put_documents`); its passage ids."""
        return self.put_documents([version])[0]

    def put_documents(self, batch: list[Version]) -> list[list[str]]:
        """Write new versions of several documents, each atomically; the passage ids of each.

        All passages and their sentences first (a few large upserts), then the document records — the
        commit point of each
        document: readers ignore passages whose content hash is not their document record's (see
        `current_passage`) — then the previous versions' passages are dropped. A failure rolls back the
        new passages of every document whose record was not switched to the new version.
        """
        if not batch:
            return []
        documents = [v.document for v in batch]
        ids = [[passage_id(v.document, v.digest, p.position) for p in v.passages] for v in batch]
        old = self._passage_ids_of([doc.id for doc in documents])
        committed = 0  # batch[:committed] have their record switched to the new version
        try:
            flat_ids = [pid for doc_ids in ids for pid in doc_ids]
            flat = [(p, v.digest) for v in batch for p in v.passages]
            flat_vectors = np.concatenate([v.embeddings for v in batch])
            self._put_sentences(batch, ids)
            for i in range(0, len(flat_ids), _PAGE):
                chunk = slice(i, i + _PAGE)
                self.passages.upsert(
                    ids=flat_ids[chunk],
                    documents=[p.text for p, _ in flat[chunk]],
                    embeddings=flat_vectors[chunk],
                    metadatas=[self._passage_meta(p, digest) for p, digest in flat[chunk]],
                )
            for i in range(0, len(batch), _RECORDS):
                records = batch[i : i + _RECORDS]
                self.documents.upsert(
                    ids=[v.document.id for v in records],
                    documents=[v.document.text for v in records],
                    embeddings=np.stack([self._document_vector(v.embeddings) for v in records]),
                    metadatas=[self._document_meta(v.document, v.digest, len(v.passages)) for v in records],
                )
                committed = i + len(records)
        except BaseException:
            # roll back the new passages of documents whose record still points elsewhere (a record write
            # that raised may still have been applied, so ask), and finish the documents that did switch;
            # a crash before this is harmless too
            with contextlib.suppress(Exception):
                self._roll_back(batch[committed:], ids[committed:], set(old))
                self._drop_stale(old, batch[:committed], ids[:committed])
                self._touch()
            raise
        self._drop_stale(old, batch, ids)
        self._touch()
        return ids

    def _put_sentences(self, batch: list[Version], ids: list[list[str]]) -> None:
        rows: list[tuple[str, dict[str, Any]]] = []
        for v, doc_ids in zip(batch, ids, strict=True):
            for passage, pid in zip(v.passages, doc_ids, strict=True):
                for i in range(len(passage.sentences)):
                    rows.append((sentence_id(pid, i), {"document_id": v.document.id, "passage_id": pid}))
        analyses = [a for v in batch for a in v.analyses]
        vectors = np.concatenate([v.sentence_vectors for v in batch])
        assert len(rows) == len(analyses) == len(vectors), "one vector and one analysis per sentence"
        if not self._current_sentence_layout():  # written by an older version: its records go with it
            with contextlib.suppress(Exception):  # another writer replaced it first
                self.client.delete_collection(self.sentences.name)
            self.sentences = self._open_sentences()
        for i in range(0, len(rows), _PAGE):
            chunk = rows[i : i + _PAGE]
            self.sentences.upsert(
                ids=[sid for sid, _ in chunk],
                embeddings=np.broadcast_to(_PLACEHOLDER, (len(chunk), 1)),
                metadatas=[
                    {**meta, "record": f"{encode_vector(v)} {a}"}
                    for (_, meta), a, v in zip(
                        chunk, analyses[i : i + _PAGE], vectors[i : i + _PAGE], strict=True
                    )
                ],
            )

    def _delete_sentences_of(self, passage_ids: list[str]) -> None:
        for i in range(0, len(passage_ids), _PAGE):
            chunk = passage_ids[i : i + _PAGE]
            where: Any = {"passage_id": chunk[0]} if len(chunk) == 1 else {"passage_id": {"$in": chunk}}
            self.sentences.delete(where=where)

    def delete_document(self, document_id: str) -> bool:
        existed = bool(self.documents.get(ids=[document_id], include=[])["ids"])
        self.passages.delete(where={"document_id": document_id})
        self.sentences.delete(where={"document_id": document_id})
        self.documents.delete(ids=[document_id])
        self._touch()
        return existed

    def reset(self) -> None:
        for name in (self.name, f"{self.name}_sentences", f"{self.name}_documents"):
            with contextlib.suppress(Exception):  # absent collection
                self.client.delete_collection(name)
        self.__init__(self.client, self.name)  # type: ignore[misc]

    # -- helpers -------------------------------------------------------------------------------------
    def _passage_ids_of(self, document_ids: list[str]) -> list[str]:
        """The ids of every stored passage (any version) of these documents."""
        out: list[str] = []
        for i in range(0, len(document_ids), _RECORDS * 8):
            chunk = document_ids[i : i + _RECORDS * 8]
            where: Any = {"document_id": chunk[0]} if len(chunk) == 1 else {"document_id": {"$in": chunk}}
            out.extend(self.passages.get(where=where, include=[])["ids"])
        return out

    def _roll_back(
        self,
        pending: list[Version],
        ids: list[list[str]],
        keep: set[str],
    ) -> None:
        """Delete the passages just written for `pending` documents whose record was not switched to them."""
        got = self.documents.get(ids=[v.document.id for v in pending], include=["metadatas"])
        recorded = {
            doc_id: (meta or {}).get("digest")
            for doc_id, meta in zip(got["ids"], got["metadatas"] or [], strict=True)
        }
        orphans = [
            pid
            for v, doc_ids in zip(pending, ids, strict=True)
            if recorded.get(v.document.id) != v.digest
            for pid in doc_ids
            if pid not in keep
        ]
        for i in range(0, len(orphans), _PAGE):
            self.passages.delete(ids=orphans[i : i + _PAGE])
        self._delete_sentences_of(orphans)

    def _drop_stale(
        self,
        old: list[str],
        batch: list[Version],
        ids: list[list[str]],
    ) -> None:
        """Delete the previous versions' passages of documents whose record now names their new version."""
        documents = {v.document.id for v in batch}
        fresh = {pid for doc_ids in ids for pid in doc_ids}
        stale = [pid for pid in old if pid not in fresh and document_of(pid) in documents]
        for i in range(0, len(stale), _PAGE):
            self.passages.delete(ids=stale[i : i + _PAGE])
        self._delete_sentences_of(stale)

    @staticmethod
    def _document_vector(embeddings: np.ndarray) -> np.ndarray:
        """A document's record embedding: the normalised mean of its passages' (ones when it has none)."""
        mean = embeddings.mean(axis=0) if len(embeddings) else np.ones(embeddings.shape[1], np.float32)
        return np.asarray(mean / (np.linalg.norm(mean) or 1.0), dtype=np.float32)

    @staticmethod
    def _pages(
        collection: Collection, include: list[str]
    ) -> Iterator[tuple[list[str], list[Any], list[Any]]]:
        offset = 0
        while True:
            got = collection.get(limit=_PAGE, offset=offset, include=include)  # type: ignore[arg-type]
            ids = got["ids"]
            if not ids:
                return
            none: list[Any] = [None] * len(ids)
            metas: list[Any] = list(got.get("metadatas") or none)
            docs: list[Any] = list(got.get("documents") or none)
            yield ids, metas, docs
            offset += len(ids)
            del got, metas, docs
            release_freed()  # each page is garbage once read: keep the peak at one page, not all of them

    @staticmethod
    def _passage_meta(passage: Passage, digest: str) -> dict[str, Any]:
        return {
            "document_id": passage.document_id,
            "title": passage.title,
            "author": passage.author or "",
            "position": passage.position,
            "paragraph": passage.paragraph,
            "start": passage.start,
            "end": passage.end,
            "sentences": json.dumps([[s.start, s.end] for s in passage.sentences]),
            "digest": digest,
            "duplicate_of": ",".join(passage.duplicate_of),
            **({"published": passage.published} if passage.published else {}),
        }

    @staticmethod
    def _document_meta(document: Document, digest: str, passages: int) -> dict[str, Any]:
        meta: dict[str, Any] = {
            "title": document.title, "digest": digest, "passages": passages, "schema": SCHEMA
        }  # fmt: skip
        for key in ("author", "url", "published", "source"):
            value = getattr(document, key)
            if value:
                meta[key] = value
        return meta

    @staticmethod
    def _stored_document(doc_id: str, text: str, meta: dict[str, Any]) -> StoredDocument:
        document = Document(
            id=doc_id,
            title=str(meta.get("title") or doc_id),
            text=text,
            author=_meta_str(meta, "author"),
            url=_meta_str(meta, "url"),
            published=_meta_str(meta, "published"),
            source=_meta_str(meta, "source"),
        )
        return StoredDocument(document, str(meta.get("digest", "")), int(meta.get("passages", 0)))
