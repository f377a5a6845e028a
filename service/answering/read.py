"""Stage 3 — read: every sentence of the retrieved passages as a candidate answer, with its signals and
the learned reader's score.

Input: the understood question (`understand.Understanding`'s `Question` and `TimeScope`), the retrieved
`Hit`s and the `Corpus`. Output: `Candidate`s, each with the signals the composer and the verifier share:

* dense similarity to the question (the bundled embedding model; corpus sentences' vectors and spaCy
  parses were computed at index time and are read from the store, so only the question is embedded);
* coverage of the question's key terms, weighted by rarity in the corpus (a sentence may lean on the one
  before it, discounted, unless it marks itself as a continuation: "also", "too");
* whether it supplies the answer type asked for (spaCy entities and number/date/time shapes);
* the learned reader's P(it answers) (`reader.py`, fitted on real news questions), as `score`.

Each candidate comes with the two sentences before it as context, and near-duplicate sentences in
different documents are marked as corroborating each other. Our own, because llama-index's extractive
pieces (sentence-window retrieval, node postprocessors) rank by similarity only, and similarity does not
separate answerable from unanswerable questions: an on-topic sentence that lacks the kind of answer asked
for must lead to a refusal, not an answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from index.documents import Passage, Sentence
from index.embed import Embedder
from index.store import SentenceRecord, sentence_id
from service.answering.question import AnswerType, Question
from service.answering.reader import Reader
from service.answering.retrieve import Corpus, Hit
from service.answering.text import Parser, stem, stem_set
from service.answering.timescope import TimeScope

_DEPENDENT_OPENER = re.compile(
    r"^[\"“]?(But|However|Yet|Still|Instead|That|This|These|Those|It|He|She|They|His|Her|Their|Its|"
    r"Then|Also|And|So|Thus|As a result|The move|The decision|The president)\b"
)
_CONDITION = re.compile(r"\b(if|unless|only when|provided that|on condition|as long as)\b", re.I)
CONTINUATION = re.compile(r"\b(also|too|as well|likewise|similarly)\b", re.I)
_NUMBER = re.compile(
    r"\b\d[\d,.]*\b|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|dozens?|"
    r"hundreds?|thousands?|millions?|billions?|scores of)\b",
    re.I,
)
_MONTH = (
    r"(Jan(uary)?|Feb(ruary)?|Mar(ch)?|Apr(il)?|May|June?|July?|Aug(ust)?|Sept?(ember)?|Oct(ober)?"
    r"|Nov(ember)?|Dec(ember)?)"
)
_DATE = re.compile(
    rf"\b{_MONTH}\.? \d{{1,2}}\b|\b(1[89]|20)\d\d\b|\b{_MONTH}\b|\b(Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day\b"
)
_TIME = re.compile(
    r"\b\d{1,2}(:\d\d)?\s?(a\.m\.|p\.m\.|am|pm)\b|\b(morning|afternoon|evening|night|midnight|noon|dawn|dusk)\b",
    re.I,
)
_AGE = re.compile(r"\b\d{1,3}[- ]years?[- ]old\b|\baged? \d{1,3}\b|\bage of \d{1,3}\b", re.I)
_ENTITY_LABELS = {
    AnswerType.PERSON: {"PERSON", "ORG", "NORP"},
    AnswerType.PLACE: {"GPE", "LOC", "FAC"},
    AnswerType.DATE: {"DATE"},
    AnswerType.TIME: {"TIME"},
    AnswerType.NUMBER: {"CARDINAL", "QUANTITY", "MONEY", "PERCENT"},
}


_DAY = re.compile(rf"\b(?P<month>{_MONTH})\.? (?P<day>\d{{1,2}})(st|nd|rd|th)?\b")


def values(question: Question, text: str) -> set[str]:
    """The specific values a sentence gives for a when / how-many question (day-level dates, numbers)."""
    if question.answer_type is AnswerType.DATE:
        return {f"{m.group('month')[:3].lower()} {int(m.group('day'))}" for m in _DAY.finditer(text)}
    if question.answer_type is AnswerType.NUMBER:
        asked = set(re.findall(r"\d+", question.text))
        return {n for n in re.findall(r"\d[\d,]*", text) if n not in asked}
    return set()


_EXACT_DATE = re.compile(r"\b(exact|precise|specific) (date|day)\b|\bwhat day\b|\bwhich day\b")
_NAMING = re.compile(r"\b(known as|called|named|dubbed)\s*$")
_NAME_LABELS = {"PERSON", "ORG", "FAC", "GPE", "LOC", "PRODUCT", "WORK_OF_ART", "EVENT", "LAW"}


@dataclass
class Candidate:
    passage_id: str
    passage: Passage
    sentence: Sentence
    index: int  # position of the sentence within its passage
    previous: Sentence | None  # the sentence this one may lean on (same paragraph, or a "But ..." opener)
    context: str = ""  # up to two sentences before it, for coverage
    window: tuple[str, ...] = ()  # those sentences, one by one (their stored parses)
    vector: np.ndarray | None = field(default=None, repr=False)  # its stored embedding
    dense: float = 0.0
    coverage: float = 0.0
    typed: bool = False
    score: float = 0.0  # the reader's P(it answers) once read, before that `relevance`
    relevance: float = 0.0  # similarity and term coverage alone
    time_reason: str | None = None  # why it is about another time than the question's (`timescope`)
    restates: bool = False  # says nothing the question does not (a quiz page quoting the question)
    corroborating: list[Candidate] = field(default_factory=list)

    @property
    def key(self) -> tuple[str, int]:
        return (self.passage.document_id, self.sentence.start)


# near-duplicates of a hit read beside it (to cite together): a passage syndicated to dozens of sites
# would otherwise bring dozens of copies into every question that retrieves it
_CORROBORATING = 3


def preload_stored(parser: Parser, corpus: Corpus, passage_ids: list[str]) -> dict[str, SentenceRecord]:
    """The stored sentence records of these passages (by `sentence_id`), their parses registered with
    the parser, so that reading those sentences parses nothing."""
    records = corpus.sentence_records(passage_ids)
    parser.preload({
        sentence.text: record.analysis
        for pid in passage_ids
        for i, sentence in enumerate(corpus.passages[pid].sentences)
        if (record := records.get(sentence_id(pid, i))) is not None
    })  # fmt: skip
    return records


class SentenceReader:
    """Builds the candidates of a question's hits and computes their signals; `read` adds the learned
    reader's score. The verifier uses the same signals (`candidates`, `score`, `coverage`)."""

    def __init__(self, embedder: Embedder, parser: Parser, reader: Reader) -> None:
        self.embedder = embedder
        self.parser = parser
        self.reader = reader

    def read(self, question: Question, hits: list[Hit], corpus: Corpus, scope: TimeScope) -> list[Candidate]:
        """The candidates of `hits`, with their signals and the learned reader's score (`score`)."""
        candidates = self.candidates(hits, corpus)
        self.score(question, candidates, corpus)
        if candidates:
            self.reader.score(question, candidates, corpus, scope)
        return candidates

    def candidates(self, hits: list[Hit], corpus: Corpus) -> list[Candidate]:
        seen: set[str] = set()
        out: list[Candidate] = []
        ordered = list(hits)
        for hit in hits:  # bring in near-duplicates so corroborating wordings can be cited together
            for dup in hit.passage.duplicate_of[:_CORROBORATING]:
                if dup in corpus.passages:
                    ordered.append(Hit(dup, corpus.passages[dup], 0.0))
        for hit in ordered:
            if hit.id in seen:
                continue
            seen.add(hit.id)
            before_id = corpus.by_position.get((hit.passage.document_id, hit.passage.position - 1))
            before = corpus.passages[before_id] if before_id is not None else None
            window = list(before.sentences[-2:]) if before else []
            crosses = before is not None and before.paragraph != hit.passage.paragraph
            for i, sentence in enumerate(hit.passage.sentences):
                lean = not (crosses and i == 0) or bool(_DEPENDENT_OPENER.match(sentence.text))
                previous = window[-1] if window and lean else None
                shown = tuple(s.text for s in window[-2:]) if lean else ()
                out.append(Candidate(hit.id, hit.passage, sentence, i, previous, " ".join(shown), shown))
                window.append(sentence)
                crosses = False
        self._load_stored(out, corpus)
        return out

    def _load_stored(self, candidates: list[Candidate], corpus: Corpus) -> None:
        """Attach each candidate's stored vector, and register the stored parses of the candidates and of
        the sentences before them (their context) with the parser."""
        ids = dict.fromkeys(c.passage_id for c in candidates)
        for c in candidates:
            pid = corpus.by_position.get((c.passage.document_id, c.passage.position - 1))
            if pid is not None:
                ids.setdefault(pid)
        records = preload_stored(self.parser, corpus, list(ids))
        for c in candidates:
            record = records.get(sentence_id(c.passage_id, c.index))
            if record is not None:
                c.vector = record.vector

    def coverage(self, question: Question, text: str, corpus: Corpus) -> float:
        return corpus.coverage(question.terms, question.verbs, stem_set(text))

    def typed(self, question: Question, text: str) -> bool:
        kind = question.answer_type
        if kind in (AnswerType.ANY, AnswerType.REASON, AnswerType.DEFINITION, AnswerType.MANNER):
            return True
        if kind is AnswerType.CONDITION:
            return bool(_CONDITION.search(text))
        if kind is AnswerType.NAME:
            return self._names_focus(question, text)
        asked = question.text.lower()
        labels = _ENTITY_LABELS.get(kind, set())
        doc = self.parser.sentence(text)
        if kind is AnswerType.DATE and _EXACT_DATE.search(asked):  # "what exact date": a day, not a month
            return any(m.group(0).lower() not in asked for m in _DAY.finditer(text))
        if any(e.label_ in labels and e.text.lower() not in asked for e in doc.ents):
            return True
        q = question.text
        if kind is AnswerType.AGE:
            return bool(_AGE.search(text))
        if kind is AnswerType.TIME:
            return bool(_TIME.search(text))
        if kind is AnswerType.DATE:
            return any(m.group(0) not in q for m in _DATE.finditer(text))
        if kind is AnswerType.NUMBER:
            return any(m.group(0).lower() not in q.lower() for m in _NUMBER.finditer(text))
        return False

    def _names_focus(self, question: Question, text: str) -> bool:
        """For "what is the name of the X": a proper name standing for X (apposition, "known as")."""
        doc = self.parser.sentence(text)
        asked = question.text.lower()
        for ent in doc.ents:
            if ent.label_ not in _NAME_LABELS or ent.text.lower() in asked:
                continue
            if ent.label_ == "GPE" and ent.root.dep_ in {"compound", "amod", "nmod"}:
                continue  # "a U.S. contractor": a nationality, not the contractor's name
            near = [ent.root.head, *ent.root.children, *(t for t in doc if ent.start <= t.head.i < ent.end)]
            if question.focus and any(stem(t.text.lower()) == question.focus for t in near):
                return True
            if _NAMING.search(doc[max(0, ent.start - 4) : ent.start].text):
                return True
        return False

    def score(self, question: Question, candidates: list[Candidate], corpus: Corpus) -> None:
        if not candidates:
            return
        query = self.embedder.encode_cached([question.text])[0]
        missing = [c for c in candidates if c.vector is None]
        if missing:  # not stored: sentences given to `Verifier.check`, or an index mid-rewrite
            self.parser.work.add("embed", len(missing))
            for c, v in zip(
                missing, self.embedder.encode_cached([c.sentence.text for c in missing]), strict=True
            ):
                c.vector = v
        vectors = np.stack([c.vector for c in candidates if c.vector is not None])
        sims = vectors @ query
        asked = stem_set(question.text)
        for c, sim in zip(candidates, sims, strict=True):
            c.dense = float(sim)
            c.restates = not (stem_set(c.sentence.text) - asked)
            own = self.coverage(question, c.sentence.text, corpus)
            context = own
            if c.context:
                lean = 0.9 if CONTINUATION.search(c.sentence.text) else 0.6
                context = lean * self.coverage(question, f"{c.context} {c.sentence.text}", corpus)
            c.coverage = max(own, context)
            c.typed = self.typed(question, c.sentence.text)
            c.relevance = c.score = 0.5 * c.dense + 0.5 * c.coverage
        self._mark_duplicates(candidates, vectors)

    def _mark_duplicates(self, candidates: list[Candidate], vectors: np.ndarray) -> None:
        if len(candidates) < 2:
            return
        docs = np.asarray([c.passage.document_id for c in candidates])
        close = np.triu((vectors @ vectors.T) >= 0.85, k=1) & (docs[:, None] != docs[None, :])
        for i, j in zip(*np.nonzero(close), strict=True):
            candidates[i].corroborating.append(candidates[j])
            candidates[j].corroborating.append(candidates[i])

    @staticmethod
    def depends_on_context(text: str) -> bool:
        return bool(_DEPENDENT_OPENER.match(text) or CONTINUATION.search(text))

    @staticmethod
    def needs_previous(candidate: Candidate) -> bool:
        return candidate.previous is not None and bool(_DEPENDENT_OPENER.match(candidate.sentence.text))
