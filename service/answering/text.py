"""Shared text analysis: stems for lexical overlap, and a cached spaCy parse for entities, parts of
speech and dependency roles (the small English pipeline, installed from PyPI; no download at run time).
"""

from __future__ import annotations

import logging
import re
import threading
from collections import OrderedDict
from functools import lru_cache
from typing import Any

import Stemmer

from index.analysis import Analyzer, ParseWorker
from index.batching import Batcher

log = logging.getLogger("verity")
_STEMMER = Stemmer.Stemmer("english")
_WORD = re.compile(r"(?:[A-Za-z]\.){2,}|[A-Za-z]+(?:['’][A-Za-z]+)*|\d+(?:[.,]\d+)*")

STOPWORDS = frozenset(
    """a an the and or but if of at by for with about against between into through during before after
    above below to from up down in out on off over under again further then once here there when where
    why how all any both each few more most other some such no nor not only own same so than too very
    can will just should now is are was were be been being have has had having do does did doing would
    could might must shall may i me my we our you your he him his she her it its they them their what
    which who whom whose this that these those am s t d ll m o re ve y also as said says say told""".split()
)


_NUMBER_WORDS = {
    w: str(i)
    for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
        "sixteen seventeen eighteen nineteen twenty".split()
    )
}


def normalize_token(token: str) -> str:
    token = token.lower().replace("’", "'")
    if token in _NUMBER_WORDS:
        return _NUMBER_WORDS[token]
    if re.fullmatch(r"(?:[a-z]\.)+[a-z]?\.?", token):  # U.S. -> us, U.N. -> un
        return token.replace(".", "")
    token = token.rstrip(".")
    return token[:-2] if token.endswith("'s") else token


def words(text: str) -> list[str]:
    return [normalize_token(m.group(0)) for m in _WORD.finditer(text)]


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    return str(_STEMMER.stemWord(word))


@lru_cache(maxsize=50_000)
def stems(text: str, drop_stopwords: bool = True) -> tuple[str, ...]:
    """The stems of a text's words, cached: corpus sentences are scored against question after question."""
    return tuple(stem(w) for w in words(text) if not (drop_stopwords and w in STOPWORDS))


@lru_cache(maxsize=50_000)
def stem_set(text: str) -> frozenset[str]:
    return frozenset(stems(text))


def key(token: Any) -> str:
    """A token's comparison key: the stem of its lemma, so "withdrew" and "withdraw" meet."""
    return stem((token.lemma_ or token.text).lower())


class QueryTimeWork:
    """Counts corpus sentences embedded or parsed while answering (exported as a Prometheus counter).

    Everything about a corpus sentence is computed at index time and stored (`index/analysis.py`), so on
    a current index both counts stay at 0; a rise means answers are paying for work the indexer skipped.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts = {"embed": 0, "parse": 0}

    def add(self, kind: str, n: int = 1) -> None:
        if n:
            with self._lock:
                self.counts[kind] += n


class Parser:
    """spaCy, loaded once, with a bounded cache of parses.

    `__call__` parses what a request brings (the question, its history, a claim). `sentence` returns a
    corpus sentence's parse: from the cache, else from the analysis stored at index time (`preload`
    registers those of the sentences a query retrieved), else — counted in `work` — by parsing it.
    """

    def __init__(
        self, analyzer: Analyzer, work: QueryTimeWork | None = None, cache_size: int = 20_000
    ) -> None:
        self.analyzer = analyzer
        self.work = work or QueryTimeWork()
        self._cache: OrderedDict[str, Any] = OrderedDict()
        self._stored: OrderedDict[str, str] = OrderedDict()  # sentence text -> its stored analysis
        self._size = cache_size
        self._lock = threading.Lock()
        # concurrent requests' texts share an `nlp.pipe` batch (about half the cost per text of parsing one
        # by one); `Analyzer.parse` holds the one lock of every spaCy call, the indexer's included
        self._batcher: Batcher[Any] = Batcher(self._parse)
        self._worker: ParseWorker | None = None

    def use_worker(self, worker: ParseWorker) -> None:
        """Parse what requests bring in `worker`'s process from now on: spaCy's pipeline is Python between
        its matrix products, so in this process a batch of questions held the GIL that every other
        request needed (4.3 ms a question in batches of eight on the news dev questions). The worker's
        analyses are loaded as the stored corpus analyses are. Should it fail, parsing comes back here."""
        self._worker = worker

    def close(self) -> None:
        worker, self._worker = self._worker, None
        if worker is not None:
            worker.close()

    def _parse(self, texts: list[str]) -> list[Any]:
        worker = self._worker
        if worker is not None:
            try:
                return [self.analyzer.loads(a) for a in worker.submit(texts).result()]
            except Exception:
                log.exception("the parse worker failed: parsing in this process from now on")
                self._worker = None
                worker.close()
        return self.analyzer.parse(texts)

    def preload(self, analyses: dict[str, str]) -> None:
        """Register stored analyses (sentence text -> `Analyzer.dumps`) for `sentence` to load."""
        with self._lock:
            for text, data in analyses.items():
                if data and text not in self._cache:
                    self._stored[text] = data
                    self._stored.move_to_end(text)
            while len(self._stored) > self._size:
                self._stored.popitem(last=False)

    def __call__(self, text: str) -> Any:
        return self._get(text, corpus=False)

    def sentence(self, text: str) -> Any:
        return self._get(text, corpus=True)

    def _get(self, text: str, corpus: bool) -> Any:
        with self._lock:
            doc = self._cache.get(text)
            if doc is not None:
                self._cache.move_to_end(text)
                return doc
            # kept until the parse is cached: a concurrent request for the same sentence loads it too,
            # rather than finding neither and parsing it
            stored = self._stored.get(text)
        if stored is not None:
            doc = self.analyzer.loads(stored)
        else:
            if corpus:
                self.work.add("parse")
            doc = self._batcher([text])[text]
        with self._lock:
            self._stored.pop(text, None)
            self._cache[text] = doc
            while len(self._cache) > self._size:
                self._cache.popitem(last=False)
        return doc
