"""Hybrid retrieval: dense (llama-index over the Chroma collection) and BM25 (llama-index's bm25s
retriever, kept in-process), fused by reciprocal rank with llama-index's QueryFusionRetriever.

A question asked as of a day reads only the articles published by then. That filter runs inside each
retriever, before its list is cut and fused: filtering the fused list instead lost the answer for 7 of 91
news dev questions, whose slots went to later articles. Each retriever reads twice its `top_k` and keeps
the first `top_k` the day allows.

Chroma is the source of truth. The lexical index and the passage table are derived from it and rebuilt
when the store's generation token changes (a write by this or any other replica), checked at most every
`refresh_seconds`.
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import Stemmer
from llama_index.core import VectorStoreIndex
from llama_index.core.llms import MockLLM
from llama_index.core.retrievers import BaseRetriever, QueryFusionRetriever
from llama_index.core.retrievers.fusion_retriever import FUSION_MODES
from llama_index.core.schema import BaseNode, NodeWithScore, QueryBundle, TextNode
from llama_index.retrievers.bm25 import BM25Retriever
from llama_index.vector_stores.chroma import ChromaVectorStore

from index.dates import parse_date
from index.documents import Passage
from index.embed import Embedder
from index.store import ChromaStore, SentenceRecord, current_passage
from service.answering.text import stem_set
from service.config import RetrievalSettings


@dataclass(frozen=True)
class Hit:
    id: str
    passage: Passage
    score: float


@dataclass
class DatedQuery(QueryBundle):
    """A query asked as of a day (None: any day). Passes through llama-index's fusion to each retriever."""

    as_of: date | None = None


class _AsOf(BaseRetriever):
    """Another retriever's first `top_k` passages published by the query's `as_of` (undated ones count as
    published), read from its first 2 × `top_k`."""

    def __init__(self, inner: BaseRetriever, top_k: int, published: Callable[[str], date | None]) -> None:
        super().__init__()
        self.inner, self.top_k, self.published = inner, top_k, published

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        as_of = getattr(query_bundle, "as_of", None)
        found = self.inner.retrieve(query_bundle)
        if as_of is not None:
            found = [n for n in found if (day := self.published(n.node.node_id)) is None or day <= as_of]
        return found[: self.top_k]


class Corpus:
    """The in-process view of the collection: passages by id, sentence document frequencies, BM25; and the
    stored embedding and analysis of any passage's sentences, read from the store on demand."""

    def __init__(
        self, passages: dict[str, Passage], bm25: BM25Retriever | None, store: ChromaStore | None = None
    ) -> None:
        self.passages = passages
        self.bm25 = bm25
        self.store = store
        self.published: dict[str, date] = {}  # document id -> its publication date, where known
        for passage in passages.values():
            if passage.document_id not in self.published and (day := parse_date(passage.published)):
                self.published[passage.document_id] = day
        self.by_position = {(p.document_id, p.position): pid for pid, p in passages.items()}
        df: Counter[str] = Counter()
        self.sentences = 0
        for passage in passages.values():
            for sentence in passage.sentences:
                df.update(stem_set(sentence.text))
                self.sentences += 1
        self._df = df

    def idf(self, stem: str) -> float:
        n = self.sentences or 1
        return math.log(1 + n / (1 + self._df.get(stem, 0)))

    def df(self, stem: str) -> int:
        return self._df.get(stem, 0)

    def sentence_records(self, passage_ids: list[str]) -> dict[str, SentenceRecord]:
        """Stored sentence embeddings and analyses (by `sentence_id`) of these passages of the corpus."""
        wanted = {pid: self.passages[pid] for pid in passage_ids if pid in self.passages}
        if self.store is None or not wanted:
            return {}
        return self.store.sentence_records(wanted)


class HybridRetriever:
    def __init__(
        self,
        store: ChromaStore,
        embedder: Embedder,
        settings: RetrievalSettings,
        refresh_seconds: float = 2.0,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.settings = settings
        self.refresh_seconds = refresh_seconds
        vector_store = ChromaVectorStore(chroma_collection=store.passages)
        index = VectorStoreIndex.from_vector_store(vector_store, embed_model=embedder.llama)
        self._dense = index.as_retriever(similarity_top_k=2 * settings.dense_top_k)
        self._lock = threading.Lock()
        self._generation: str | None = None
        self._checked = 0.0
        self._invalidated = 0  # bumped by `invalidate`; the corpus is current once `_built` catches up
        self._built = 0
        self._corpus = Corpus({}, None)
        self._fusion: BaseRetriever = self._dense
        self._filter_dense = _AsOf(self._dense, settings.dense_top_k, self._published)

    def _published(self, passage_id: str) -> date | None:
        passage = self._corpus.passages.get(passage_id)
        return self._corpus.published.get(passage.document_id) if passage is not None else None

    @property
    def corpus(self) -> Corpus:
        self.refresh()
        return self._corpus

    def invalidate(self) -> None:
        """This process wrote to the store: the next `refresh` (the next query) rebuilds, whatever the
        time since the last check. Cheap, unlike `refresh(force=True)`, which rebuilds right away."""
        with self._lock:
            self._invalidated += 1

    def refresh(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and self._built == self._invalidated and now - self._checked < self.refresh_seconds:
            return
        with self._lock:
            stale = force or self._built != self._invalidated
            if not stale and now - self._checked < self.refresh_seconds:
                return
            wanted = self._invalidated  # an `invalidate` during the rebuild below calls for another one
            generation = self.store.generation()
            self._checked = time.monotonic()
            if generation == self._generation and not stale:
                return
            self._rebuild()
            self._generation = generation
            self._built = wanted

    def _rebuild(self) -> None:
        digests = self.store.document_digests()  # passages of a version never completed are left out
        passages = {
            sp.id: sp.passage
            for sp in self.store.iter_passages()
            if current_passage(sp.id, sp.passage.document_id, digests)
        }
        bm25 = None
        retrievers: list[BaseRetriever] = [self._filter_dense]
        if passages:
            nodes: list[BaseNode] = [TextNode(id_=pid, text=p.text) for pid, p in passages.items()]
            try:
                bm25 = BM25Retriever.from_defaults(
                    nodes=nodes,
                    stemmer=Stemmer.Stemmer("english"),
                    language="english",
                    similarity_top_k=min(2 * self.settings.lexical_top_k, len(nodes)),
                )
                retrievers.append(_AsOf(bm25, self.settings.lexical_top_k, self._published))
            except (ValueError, ZeroDivisionError):  # no passage has a lexical term ("It is. It was.")
                bm25 = None  # bm25s cannot index an empty vocabulary: dense retrieval alone
        self._corpus = Corpus(passages, bm25, self.store)
        # num_queries=1: no query generation, so the LLM is never called; MockLLM only keeps
        # QueryFusionRetriever from resolving a default OpenAI LLM at construction.
        self._fusion = QueryFusionRetriever(
            retrievers,
            llm=MockLLM(),
            mode=FUSION_MODES.RECIPROCAL_RANK,
            num_queries=1,
            use_async=False,
            similarity_top_k=self.settings.fused_top_k,
        )

    def retrieve(self, query: str, as_of: date | None = None) -> list[Hit]:
        """The fused passages for `query`, among those published by `as_of` when given."""
        self.refresh()
        corpus = self._corpus
        if not corpus.passages:
            return []
        hits = []
        for scored in self._fusion.retrieve(self._query(query, as_of)):
            passage = corpus.passages.get(scored.node.node_id)
            if passage is not None:  # written after our last refresh: picked up next time
                hits.append(Hit(scored.node.node_id, passage, float(scored.score or 0.0)))
        return hits

    def prepare(self, queries: list[str]) -> None:
        """Embed the queries a request will run in one forward (the question and its premises)."""
        if not self._query_prompt():
            self.embedder.encode_cached(queries)

    def _query_prompt(self) -> bool:
        return bool(self.embedder.llama._model.prompts.get("query"))

    def _query(self, query: str, as_of: date | None = None) -> DatedQuery:
        """The query with its embedding from the Embedder's cache: the composer scores sentences against
        the same text, so a question costs one model forward, not two (none when asked again). Left to
        llama-index when the model has a query prompt, which the cached (prompt-less) vectors lack."""
        if self._query_prompt():
            return DatedQuery(query_str=query, as_of=as_of)
        vector = self.embedder.encode_cached([query])[0].tolist()
        return DatedQuery(query_str=query, embedding=vector, as_of=as_of)
