"""Near-duplicate passages across documents, by embedding similarity.

Shingle overlap (MinHash) misses the machine-paraphrased copies this corpus holds ("Secretary of
Condition Mike Pompeo" for "Secretary of State"): their word n-grams barely overlap, but their
embeddings stay close. So each new passage is looked up in Chroma (the same index the answerer uses)
and passages of *other* documents above the cosine threshold are recorded on both sides as `duplicate_of`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Set as AbstractSet

import numpy as np

from index.store import ChromaStore, document_of

_NEIGHBOURS = 4


def find_duplicates(
    store: ChromaStore,
    ids: list[str],
    document_ids: list[str],
    embeddings: np.ndarray,
    threshold: float,
    skip: AbstractSet[str] = frozenset(),
) -> dict[str, set[str]]:
    """Pairs (both directions) of stored passages from different documents with cosine ≥ threshold.

    Passages of the documents in `skip` (about to be replaced) are not paired with.
    """
    pairs: dict[str, set[str]] = defaultdict(set)
    if not ids:
        return pairs
    n_results = min(_NEIGHBOURS + 1, store.count())
    for i in range(0, len(ids), 512):
        got = store.passages.query(
            query_embeddings=embeddings[i : i + 512],
            n_results=n_results,
            include=["distances"],  # a passage id names its document: no metadata to fetch
        )
        dists = got["distances"]
        assert dists is not None
        for j, (hit_ids, hit_dists) in enumerate(zip(got["ids"], dists, strict=True)):
            pid, doc = ids[i + j], document_ids[i + j]
            for hit, dist in zip(hit_ids, hit_dists, strict=True):
                if 1.0 - dist >= threshold and (other := document_of(hit)) != doc and other not in skip:
                    pairs[pid].add(hit)
                    pairs[hit].add(pid)
    return pairs
