"""Bring a Chroma store in line with a set of documents: embed and write what changed, drop what left.

Unchanged documents (same content hash) are skipped, so re-indexing writes nothing. Passages of changed
documents are embedded in batches across documents (the model is the cost), then written document by
document, each one atomically replacing its previous version (see `ChromaStore.put_document`).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from index.dedup import find_duplicates
from index.documents import Document
from index.embed import Embedder
from index.split import split_passages
from index.store import ChromaStore, content_hash

_GROUP = 2048  # passages embedded and written per round: bounds memory on large corpora


@dataclass
class IndexSummary:
    documents: int = 0
    unchanged: int = 0
    written: int = 0
    removed: int = 0
    passages: int = 0
    duplicates: int = 0
    seconds: float = 0.0

    def __str__(self) -> str:
        return (
            f"{self.documents} documents ({self.written} written, {self.unchanged} unchanged, "
            f"{self.removed} removed), {self.passages} passages written, {self.duplicates} near-duplicate "
            f"passages, {self.seconds:.1f}s"
        )


def index_documents(
    documents: Iterable[Document],
    store: ChromaStore,
    embedder: Embedder,
    *,
    sentences_per_passage: int = 3,
    duplicate_threshold: float = 0.9,
    prune: bool = False,
    progress: bool = True,
) -> IndexSummary:
    """Index `documents`; with `prune`, also delete stored documents that are not among them."""
    started = time.perf_counter()
    docs = list(documents)
    ids = [d.id for d in docs]
    if len(set(ids)) != len(ids):
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        raise ValueError(f"duplicate document ids: {', '.join(dupes[:5])}")
    stored = store.document_digests()
    summary = IndexSummary(documents=len(docs))
    todo = []
    for doc in docs:
        digest = content_hash(doc)
        if stored.get(doc.id) == digest:
            summary.unchanged += 1
        else:
            todo.append((doc, digest, split_passages(doc, sentences_per_passage)))
    if prune:
        wanted = set(ids)
        for doc_id in stored:
            if doc_id not in wanted:
                store.delete_document(doc_id)
                summary.removed += 1

    total = sum(len(p) for _, _, p in todo)
    bar = tqdm(total=total, unit="passage", desc="indexing", disable=not progress or total == 0)
    new_ids: list[str] = []
    new_docs: list[str] = []
    new_vectors: list[np.ndarray] = []
    group: list[tuple[Document, str, list]] = []  # type: ignore[type-arg]

    def flush() -> None:
        texts = [p.text for _, _, passages in group for p in passages]
        vectors = embedder.encode(texts)
        at = 0
        for doc, digest, passages in group:
            doc_vectors = vectors[at : at + len(passages)]
            at += len(passages)
            written = store.put_document(doc, digest, passages, doc_vectors)
            new_ids.extend(written)
            new_docs.extend([doc.id] * len(written))
            new_vectors.append(doc_vectors)
            summary.written += 1
            summary.passages += len(passages)
            bar.update(len(passages))
        group.clear()

    for item in todo:
        group.append(item)
        if sum(len(p) for _, _, p in group) >= _GROUP:
            flush()
    if group:
        flush()
    bar.close()

    if new_ids:
        pairs = find_duplicates(store, new_ids, new_docs, np.concatenate(new_vectors), duplicate_threshold)
        store.add_duplicates(pairs)
        summary.duplicates = len(pairs)
    summary.seconds = time.perf_counter() - started
    return summary
