"""Hybrid retrieval: dense (the Chroma collection's nearest neighbours) and BM25 (bm25s, in-process),
merged rank by rank.

Each retriever contributes the first half of `fused_top_k` passages, taken in turns (dense first), a
passage found by both read once. This is what the reader was fitted and measured with (llama-index's
reciprocal-rank fusion did exactly this here, since a passage's node from Chroma and from BM25 hashed
differently); true reciprocal-rank fusion, which lifts passages found by both, found the answer for as
many news dev questions but led with it for fewer (lead 0.473 against 0.516 at 32 passages): the
question's rarest words are often in a passage only BM25 finds.

A question asked as of a day reads only the articles published by then. That filter runs inside each
retriever, before its list is cut and fused: filtering the fused list instead lost the answer for 7 of 91
news dev questions, whose slots went to later articles. BM25 zeroes the later articles' scores before
the top k are picked; the dense query reads twice its `top_k` and keeps the first `top_k` the day allows
(Chroma cannot compare dates in a `where` filter).

BM25 is bm25s' index (its tokenizer, stemmer and precomputed per-term scores) with our own scoring loop
over it: `BM25.retrieve` adds each term's postings with `np.add.at`, which costs 11 ms a question at
100k passages against 0.9 ms for a plain indexed add — valid because a term's postings name each passage
once. The scores are the same; the top k are picked among the passages that score at all. A question's
terms come from `query_terms`, bm25s' tokenizer rules (its token pattern, lower case, its English stopwords,
the Snowball stemmer) without `bm25s.tokenize` itself, which builds two disabled tqdm bars a call: their
walk of tqdm's shared registry held the GIL for 12% of a news server's time at concurrency 8.

Why not llama-index's retrievers, which this module used before: they return whole nodes, so each query
paid for Chroma's documents and metadata, a JSON round trip per node and a content hash per node for
fusion — 8.3 ms for a dense query of 64 on the news corpus against 1.9 ms for the ids alone, which is
all the fusion needs (the passages are in memory). The llama-index stock path is still measured beside
ours in `make bench`.

Chroma is the source of truth. The lexical index and the passage table are derived from it and rebuilt
when the store's generation token changes (a write by this or any other replica), checked at most every
`refresh_seconds`.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections import Counter, OrderedDict
from dataclasses import dataclass
from datetime import date

import bm25s
import numpy as np
import Stemmer
from bm25s.stopwords import STOPWORDS_EN

from index.dates import parse_date
from index.dedup import symmetrize
from index.documents import Passage
from index.embed import Embedder
from index.store import ChromaStore, SentenceRecord, current_passage, sentence_id
from service.answering.text import stem_set
from service.config import RetrievalSettings

# passages whose sentence records are kept in memory: about 48k sentences, ~160 MB at most. 4096 held
# fewer than the passages that the news dev questions read (about 5,000), so a server answering a stream of
# new questions kept reading the same records from Chroma again (12% of its CPU at concurrency 8)
_RECORDS = 16384

_BM25_TOKEN = re.compile(r"(?u)\b\w\w+\b")  # bm25s.tokenize's default token_pattern
_BM25_STOPWORDS = frozenset(STOPWORDS_EN)  # what bm25s.tokenize(stopwords="en") drops


@dataclass(frozen=True)
class Hit:
    id: str
    passage: Passage
    score: float


class Lexical:
    """BM25 (bm25s, English stopwords and Snowball stems) over the passages, with a per-query date mask."""

    def __init__(self, passages: dict[str, Passage], published: dict[str, date]) -> None:
        self.ids = list(passages)
        self.stemmer = Stemmer.Stemmer("english")
        # the day each passage's article was published (0: undated, always allowed)
        self.days = np.asarray(
            [published[p.document_id].toordinal() if p.document_id in published else 0
             for p in passages.values()],
            dtype=np.int64,
        )  # fmt: skip
        self.bm25: bm25s.BM25 | None = None
        if not passages:
            return
        tokens = bm25s.tokenize(
            [p.text for p in passages.values()], stopwords="en", stemmer=self.stemmer, show_progress=False
        )
        if not tokens.vocab:  # no passage has a lexical term ("It is. It was."): dense retrieval alone
            return
        self.bm25 = bm25s.BM25()
        self.bm25.index(tokens, show_progress=False)

    def top(self, query: str, k: int, as_of: date | None = None) -> list[str]:
        """The ids of the `k` best-scoring passages with a query term, among those published by `as_of`."""
        if self.bm25 is None:
            return []
        terms = [t for t in self.query_terms(query) if t in self.bm25.vocab_dict]
        if not terms:
            return []
        scores = self.scores(terms)
        if as_of is not None:
            scores *= (self.days == 0) | (self.days <= as_of.toordinal())
        # the top k among the passages that score at all: selecting among all of them (bm25s' `topk`)
        # costs 13 ms at 100k passages when most score 0 (a masked or rare query), as ties slow the
        # partition, against 0.7 ms when few do
        found = np.flatnonzero(scores > 0)
        if len(found) > k:
            found = found[np.argpartition(-scores[found], k - 1)[:k]]
        # best first; of equal scores (copies of one story) the most recent article, then corpus order
        order = np.lexsort((found, -self.days[found], -scores[found]))
        return [self.ids[int(i)] for i in found[order]]

    def query_terms(self, query: str) -> list[str]:
        """A query's terms in order, repeats kept: what `bm25s.tokenize([query], stopwords="en",
        stemmer=..., return_ids=False)` returns, without its progress bars."""
        words = [w for w in _BM25_TOKEN.findall(query.lower()) if w not in _BM25_STOPWORDS]
        return list(self.stemmer.stemWords(words))

    def scores(self, terms: list[str]) -> np.ndarray:
        """Every passage's BM25 score for the query terms (as `BM25.get_scores`, repeated terms counted
        again): each term's postings added at once, a passage appearing once in a term's postings."""
        assert self.bm25 is not None
        index = self.bm25.scores
        data, indices, indptr = index["data"], index["indices"], index["indptr"]
        tids = [self.bm25.vocab_dict[t] for t in terms]
        scores = np.zeros(index["num_docs"], dtype=np.float32)
        for tid in tids:
            start, end = indptr[tid], indptr[tid + 1]
            scores[indices[start:end]] += data[start:end]
        if self.bm25.nonoccurrence_array is not None:  # BM25L / BM25+ variants; not the default
            scores += self.bm25.nonoccurrence_array[tids].sum()
        return scores


class Corpus:
    """The in-process view of the collection: passages by id, sentence document frequencies, BM25; and the
    stored embedding and analysis of any passage's sentences, read from the store on demand."""

    def __init__(
        self, passages: dict[str, Passage], store: ChromaStore | None = None, lexical: bool = True
    ) -> None:
        self.passages = passages
        self.store = store
        self.published: dict[str, date] = {}  # document id -> its publication date, where known
        for passage in passages.values():
            if passage.document_id not in self.published and (day := parse_date(passage.published)):
                self.published[passage.document_id] = day
        self.by_position = {(p.document_id, p.position): pid for pid, p in passages.items()}
        self._weights: dict[tuple[tuple[str, ...], tuple[str, ...]], dict[str, float]] = {}
        df: Counter[str] = Counter()
        self.sentences = 0
        for passage in passages.values():
            for sentence in passage.sentences:
                df.update(stem_set(sentence.text))
                self.sentences += 1
        self._df = df
        self.lexical = Lexical(passages if lexical else {}, self.published)  # off: no BM25 (training)
        self._records: OrderedDict[str, dict[str, SentenceRecord]] = OrderedDict()
        self._records_lock = threading.Lock()

    def idf(self, stem: str) -> float:
        n = self.sentences or 1
        return math.log(1 + n / (1 + self._df.get(stem, 0)))

    def df(self, stem: str) -> int:
        return self._df.get(stem, 0)

    def coverage(self, terms: tuple[str, ...], verbs: tuple[str, ...], present: frozenset[str]) -> float:
        """The share of a question's terms (by rarity; a verb at half weight, paraphrased more often than
        a noun) among the stems `present`. The weights are kept per question: the reader asks this of
        every candidate sentence, its context and its article."""
        if not terms:
            return 0.0
        key = (terms, verbs)
        weights = self._weights.get(key)
        if weights is None:
            weights = {t: self.idf(t) * (0.5 if t in verbs else 1.0) for t in terms}
            if len(self._weights) > 1024:
                self._weights.clear()
            self._weights[key] = weights
        total = sum(weights.values()) or 1.0
        return sum(w for t, w in weights.items() if t in present) / total

    def sentence_records(self, passage_ids: list[str]) -> dict[str, SentenceRecord]:
        """Stored sentence embeddings and analyses (by `sentence_id`) of these passages of the corpus.

        The records of the last `_RECORDS` passages read are kept: a passage id carries its content hash,
        so a record never goes stale, and a Chroma read costs more than the rest of a question's reading
        (5 ms a question on the news corpus, 14 ms at 100k passages)."""
        if self.store is None:
            return {}
        out: dict[str, SentenceRecord] = {}
        wanted: dict[str, Passage] = {}
        with self._records_lock:
            for pid in passage_ids:
                if pid in self._records:
                    self._records.move_to_end(pid)
                    out.update(self._records[pid])
                elif pid in self.passages:
                    wanted[pid] = self.passages[pid]
        if not wanted:
            return out
        fresh = self.store.sentence_records(wanted)
        with self._records_lock:
            for pid, passage in wanted.items():
                ids = [sentence_id(pid, i) for i in range(len(passage.sentences))]
                self._records[pid] = {sid: fresh[sid] for sid in ids if sid in fresh}
            while len(self._records) > _RECORDS:
                self._records.popitem(last=False)
        out.update(fresh)
        return out


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
        self._lock = threading.Lock()
        self._generation: str | None = None
        self._checked = 0.0
        self._invalidated = 0  # bumped by `invalidate`; the corpus is current once `_built` catches up
        self._built = 0
        self._corpus = Corpus({})

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
        symmetrize(passages)  # a near-duplicate link is stored on the newer passage only
        self._corpus = Corpus(passages, self.store)

    def retrieve(self, query: str, as_of: date | None = None) -> list[Hit]:
        """The passages for `query`, among those published by `as_of` when given: the first half of
        `fused_top_k` from each retriever, merged rank by rank (dense first), each passage once."""
        self.refresh()
        corpus = self._corpus
        if not corpus.passages:
            return []
        s = self.settings
        each = (s.fused_top_k + 1) // 2
        lists = (self._dense(corpus, query, as_of), corpus.lexical.top(query, s.lexical_top_k, as_of))
        hits: dict[str, Hit] = {}
        for rank in range(each):
            for ranked in lists:
                if rank < len(ranked) and ranked[rank] not in hits:
                    pid = ranked[rank]
                    hits[pid] = Hit(pid, corpus.passages[pid], 1.0 / (s.rrf_k + rank))
        return list(hits.values())

    def _dense(self, corpus: Corpus, query: str, as_of: date | None) -> list[str]:
        """The ids of the passages nearest the query (of those in `corpus` and published by `as_of`)."""
        k = self.settings.dense_top_k
        found = self.store.passages.query(
            query_embeddings=[self._vector(query)], n_results=min(2 * k, len(corpus.passages)), include=[]
        )
        out = []
        for pid in found["ids"][0]:
            passage = corpus.passages.get(pid)  # None: written after our last refresh, seen next time
            if passage is None:
                continue
            day = corpus.published.get(passage.document_id)
            if as_of is None or day is None or day <= as_of:
                out.append(pid)
        return out[:k]

    def prepare(self, queries: list[str]) -> None:
        """Embed the queries a request will run in one forward (the question and its premises)."""
        if not self._query_prompt():
            self.embedder.encode_cached(queries)

    def _query_prompt(self) -> bool:
        return bool(self.embedder.llama._model.prompts.get("query"))

    def _vector(self, query: str) -> np.ndarray:
        """The query's embedding from the Embedder's cache: the read stage scores sentences against the same
        text, so a question costs one model forward, not two (none when asked again). A model with a query
        prompt embeds the query with it (the cached, prompt-less vectors are for sentences)."""
        if self._query_prompt():
            return np.asarray(self.embedder.llama.get_query_embedding(query), dtype=np.float32)
        vector: np.ndarray = self.embedder.encode_cached([query])[0]
        return vector
