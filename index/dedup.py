"""Near-duplicate passages across documents, by embedding similarity.

Shingle overlap (MinHash) misses the machine-paraphrased copies this corpus holds ("Secretary of
Condition Mike Pompeo" for "Secretary of State"): their word n-grams barely overlap, but their
embeddings stay close. So each new passage is looked up, before it is written, among the passages stored
so far (Chroma, the same index the answerer uses) and the others of its own group (in memory); passages
of *other* documents above the cosine threshold, among its nearest, go into its `duplicate_of`.

A link is stored on the newer passage only and read both ways (`symmetrize`, when the retriever loads
the passages): recording it on the older side too meant a Chroma metadata update of passages already
written, a tenth of the writer's time at 100k passages, for something the reader can derive.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet

import numpy as np

from index.documents import Passage
from index.store import ChromaStore, document_of

_NEIGHBOURS = 4  # the nearest passages a new one is compared with


def find_duplicates(
    store: ChromaStore,
    ids: Sequence[str],
    document_ids: Sequence[str],
    embeddings: np.ndarray,
    threshold: float,
    skip: AbstractSet[str] = frozenset(),
) -> dict[str, set[str]]:
    """For each of the new passages `ids` (not stored yet, unit vectors `embeddings`), the passages of
    other documents among its `_NEIGHBOURS` nearest with cosine ≥ threshold: stored ones, or new ones
    beside it. Stored passages of the documents in `skip` (about to be replaced) are not paired with."""
    if not ids:
        return {}
    vectors = np.asarray(embeddings, dtype=np.float32)
    near: list[list[tuple[float, str, str]]] = [[] for _ in ids]  # (cosine, passage id, its document)
    stored = store.count()
    if stored:
        # twice the neighbours, as passages of documents in `skip` (their own old versions above all)
        # may take the first places
        n_results = min(2 * (_NEIGHBOURS + 1), stored)
        for i in range(0, len(ids), 512):
            got = store.passages.query(
                query_embeddings=vectors[i : i + 512], n_results=n_results, include=["distances"]
            )
            dists = got["distances"]
            assert dists is not None
            for j, (hit_ids, hit_dists) in enumerate(zip(got["ids"], dists, strict=True)):
                near[i + j].extend(
                    (1.0 - d, hit, other)
                    for hit, d in zip(hit_ids, hit_dists, strict=True)
                    if (other := document_of(hit)) not in skip
                )
    if len(ids) > 1:
        sims = vectors @ vectors.T
        np.fill_diagonal(sims, -np.inf)
        k = min(_NEIGHBOURS, len(ids) - 1)
        top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        for i, row in enumerate(top):
            near[i].extend((float(sims[i, j]), ids[j], document_ids[j]) for j in row)
    pairs: dict[str, set[str]] = {}
    for pid, doc, found in zip(ids, document_ids, near, strict=True):
        found.sort(key=lambda f: -f[0])
        for cosine, other_id, other_doc in found[:_NEIGHBOURS]:
            if cosine >= threshold and other_doc != doc:
                pairs.setdefault(pid, set()).add(other_id)
    return pairs


def symmetrize(passages: Mapping[str, Passage]) -> None:
    """Read each stored link both ways: a passage lists the later passages that named it as well as the
    earlier ones it names (ids sorted, links to passages no longer there dropped)."""
    back: dict[str, set[str]] = {}
    for pid, passage in passages.items():
        for other in passage.duplicate_of:
            back.setdefault(other, set()).add(pid)
    for pid, passage in passages.items():
        links = set(passage.duplicate_of) | back.get(pid, set())
        passage.duplicate_of = sorted(d for d in links if d in passages)
