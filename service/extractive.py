"""The extractive composer: answer with the corpus's own sentences, or refuse.

Our own because llama-index's extractive pieces (sentence-window retrieval, node postprocessors) rank by
similarity only, and similarity does not separate answerable from unanswerable questions here: an
on-topic sentence that lacks the kind of answer asked for (no date for "when", no number for "how many")
must lead to a refusal, not an answer. Which sentence answers is decided by the learned reader
(`reader.py`, fitted on real news questions); this module builds the candidates (each sentence of the
retrieved passages, with the two before it as context), computes the signals the reader and the verifier
share, and keeps the rules no fitted model can know (below). The signals:

* dense similarity to the question (the bundled embedding model; corpus sentences' vectors and spaCy
  parses were computed at index time and are read from the store, so only the question is embedded);
* coverage of the question's key terms, weighted by rarity in the corpus (a sentence may lean on the one
  before it, discounted, unless it marks itself as a continuation: "also", "too");
* whether it supplies the answer type asked for (spaCy entities and number/date/time shapes).

Near-duplicate sentences in different documents are shown once (the better-scoring wording) and cited
together as corroboration. A selected sentence that depends on the one before it ("But Trump rejected the
idea") is preceded by that sentence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING

import numpy as np

from index.documents import Passage, Sentence
from index.embed import Embedder
from index.store import sentence_id
from service.config import AnswerSettings
from service.question import AnswerType, Question
from service.retrieval import Corpus, Hit
from service.text import Parser, stem, stem_set
from service.timescope import TimeScope, scope_of

if TYPE_CHECKING:
    from service.reader import Reader

_DEPENDENT_OPENER = re.compile(
    r"^[\"“]?(But|However|Yet|Still|Instead|That|This|These|Those|It|He|She|They|His|Her|Their|Its|"
    r"Then|Also|And|So|Thus|As a result|The move|The decision|The president)\b"
)
_CONDITION = re.compile(r"\b(if|unless|only when|provided that|on condition|as long as)\b", re.I)
_CONTINUATION = re.compile(r"\b(also|too|as well|likewise|similarly)\b", re.I)
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


def _values(question: Question, text: str) -> set[str]:
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


def _norm(text: str) -> str:
    """A sentence's wording for spotting the same sentence in two documents."""
    return " ".join(re.findall(r"\w+", text.lower()))


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


@dataclass
class Composition:
    """The selected sentences in answer order, or a refusal reason."""

    sentences: list[Candidate]
    refusal: str | None = None  # "out_of_scope" | "insufficient_evidence"
    best: Candidate | None = None
    candidates: list[Candidate] = field(default_factory=list)  # every scored sentence (for the LLM path)
    disagreements: list[Candidate] = field(default_factory=list)  # give a different value than `best`
    related: list[Candidate] = field(default_factory=list)  # near misses, shown apart from the answer


class ExtractiveComposer:
    def __init__(self, embedder: Embedder, parser: Parser, settings: AnswerSettings, reader: Reader) -> None:
        self.embedder = embedder
        self.parser = parser
        self.settings = settings
        self.reader = reader

    # -- candidates and their signals ----------------------------------------------------------------
    def candidates(self, hits: list[Hit], corpus: Corpus) -> list[Candidate]:
        seen: set[str] = set()
        out: list[Candidate] = []
        ordered = list(hits)
        for hit in hits:  # bring in near-duplicates so corroborating wordings can be cited together
            for dup in hit.passage.duplicate_of:
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
        records = corpus.sentence_records(list(ids))
        if not records:
            return
        analyses: dict[str, str] = {}
        for pid in ids:
            passage = corpus.passages[pid]
            for i, sentence in enumerate(passage.sentences):
                record = records.get(sentence_id(pid, i))
                if record is not None:
                    analyses[sentence.text] = record.analysis
        self.parser.preload(analyses)
        for c in candidates:
            record = records.get(sentence_id(c.passage_id, c.index))
            if record is not None:
                c.vector = record.vector

    def coverage(self, question: Question, text: str, corpus: Corpus) -> float:
        if not question.terms:
            return 0.0
        present = stem_set(text)
        weights = {t: corpus.idf(t) * (0.5 if t in question.verbs else 1.0) for t in question.terms}
        total = sum(weights.values()) or 1.0
        return sum(w for t, w in weights.items() if t in present) / total

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
            near = [ent.root.head, *ent.root.children, *(t for t in doc if t.head in ent)]
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
                lean = 0.9 if _CONTINUATION.search(c.sentence.text) else 0.6
                context = lean * self.coverage(question, f"{c.context} {c.sentence.text}", corpus)
            c.coverage = max(own, context)
            c.typed = self.typed(question, c.sentence.text)
            c.relevance = c.score = 0.5 * c.dense + 0.5 * c.coverage
        self._mark_duplicates(candidates, vectors)

    def _mark_duplicates(self, candidates: list[Candidate], vectors: np.ndarray) -> None:
        sims = vectors @ vectors.T
        for i, a in enumerate(candidates):
            for j in range(i + 1, len(candidates)):
                b = candidates[j]
                if a.passage.document_id != b.passage.document_id and sims[i, j] >= 0.85:
                    a.corroborating.append(b)
                    b.corroborating.append(a)

    # -- selection -----------------------------------------------------------------------------------
    def compose(
        self, question: Question, hits: list[Hit], corpus: Corpus, scope: TimeScope | None = None
    ) -> Composition:
        """Score every candidate with the learned reader; lead with the best one, or refuse.

        Kept as rules, because no model fitted on questions can know them: a question naming things the
        corpus never mentions is out of scope; a sentence that says nothing the question does not (a quiz
        page quoting it) answers nothing; a sentence another source repeats is shown once; a sentence
        that leans on the one before it comes with it; a second sentence must add what the first lacks.
        """
        s = self.settings
        scope = scope or scope_of(question.text, date.today())
        candidates = self.candidates(hits, corpus)
        self.score(question, candidates, corpus)
        if not candidates:
            return Composition([], "out_of_scope")
        first = max(candidates, key=lambda c: c.relevance)
        on_topic = self._noun_presence(question, corpus)
        if (
            first.dense < s.out_of_scope_similarity and first.coverage < s.min_term_coverage
        ) or on_topic < 0.5:
            return Composition([], "out_of_scope", first, candidates)
        self.reader.score(question, candidates, corpus, scope)
        # a sentence that only restates the question answers nothing, however similar it is
        ranked = sorted((c for c in candidates if not c.restates), key=lambda c: c.score, reverse=True)
        if not ranked:
            return Composition([], "insufficient_evidence", None, candidates)
        best = ranked[0]
        if on_topic < 1.0:  # the question names something the corpus never mentions
            return Composition([], "insufficient_evidence", best, candidates)
        threshold = self.reader.model.threshold
        describes = self._describes(question)

        def relevant(c: Candidate) -> bool:
            return c.coverage >= s.min_term_coverage and c.relevance >= s.min_sentence_score

        # the reader decides; a sentence relevant by the older rules needs only half its threshold, and for
        # a question asking for a description (little training data) relevance alone will do
        eligible = [
            c for c in ranked
            if c.typed and (c.score >= threshold or (relevant(c) and (describes or c.score >= threshold / 2)))
        ]  # fmt: skip
        # ranked by the reader's score (relevance a quarter-weight): on held-out training months its top
        # sentence answers 0.677 of the questions with an answer, against 0.596 for relevance plus a
        # quarter of its score; for a question asking for a description, where its training data says
        # little, relevance leads and the reader's score is a half-weight (chosen on the seeds' dev set)
        if describes:
            eligible.sort(key=lambda c: 0.5 * c.score + c.relevance, reverse=True)
        else:
            eligible.sort(key=lambda c: c.score + 0.25 * c.relevance, reverse=True)
        if not eligible:
            return Composition([], "insufficient_evidence", best, candidates)
        top = eligible[0]
        chosen = [top]
        shown: set[tuple[str, int]] = {top.key, *(d.key for d in top.corroborating)}
        texts = {_norm(top.sentence.text)}
        lacking = self._uncovered(question, top, corpus)
        for c in eligible[1:]:
            if len(chosen) >= s.max_sentences or not lacking:
                break
            if c.key in shown or _norm(c.sentence.text) in texts:
                continue
            adds = lacking & stem_set(c.sentence.text)
            if sum(corpus.idf(t) for t in adds) >= 0.15 * sum(corpus.idf(t) for t in question.terms):
                chosen.append(c)
                shown.update([c.key, *(d.key for d in c.corroborating)])
                texts.add(_norm(c.sentence.text))
                lacking -= adds
        chosen = self._with_continuations(chosen, candidates, shown)
        if question.answer_type is AnswerType.MANNER:
            chosen = self._with_elaboration(question, top, chosen, candidates, shown)
        disagreements = self._disagreements(question, top, eligible, corpus)
        for c in disagreements:
            if c.key not in shown and _norm(c.sentence.text) not in texts:
                chosen.append(c)
                shown.update([c.key, *(d.key for d in c.corroborating)])
                texts.add(_norm(c.sentence.text))
        related = [
            c for c in ranked[1:12]
            if c.key not in shown and _norm(c.sentence.text) not in texts and c.score >= threshold / 2
        ][:3]  # fmt: skip
        order = self._in_reading_order(chosen, candidates)
        return Composition(order, None, top, candidates, disagreements, related)

    @staticmethod
    def _describes(question: Question) -> bool:
        """The question asks for a description (why, how, on what condition, what happened), not a name.

        The reader is fitted on news-quiz questions, which ask for a name, a place or a date; for these
        its training data says little, so a sentence that is relevant enough answers as well.
        """
        kinds = (AnswerType.REASON, AnswerType.MANNER, AnswerType.CONDITION, AnswerType.DEFINITION)
        return question.answer_type in kinds or (
            question.answer_type is AnswerType.ANY and not question.focus
        )

    @staticmethod
    def _uncovered(question: Question, c: Candidate, corpus: Corpus) -> set[str]:
        """The question's terms the chosen sentence (with its context) leaves out."""
        present = stem_set(f"{c.context} {c.sentence.text}")
        return {t for t in question.terms if t not in present and corpus.df(t) > 0}

    def _disagreements(
        self, question: Question, top: Candidate, eligible: list[Candidate], corpus: Corpus
    ) -> list[Candidate]:
        """Sentences from different documents, about the same thing, that give different dates or numbers
        (the first is the best-scoring sentence that gives one); empty when they agree. The most recent
        source comes first."""
        top = next((c for c in eligible if _values(question, c.sentence.text)), top)
        mine = _values(question, top.sentence.text)
        if not mine:
            return []
        out: list[Candidate] = []
        for c in eligible:
            if c.passage.document_id == top.passage.document_id or c in top.corroborating:
                continue
            if c.relevance < top.relevance - 2.5 * self.settings.keep_within or c.coverage < 0.5:
                continue
            theirs = _values(question, c.sentence.text)
            if (
                theirs
                and not theirs & mine
                and all(not theirs & _values(question, o.sentence.text) for o in out)
            ):
                out.append(c)
        if not out:
            return []
        sides = [top, *out]
        return sorted(
            sides, key=lambda c: corpus.published.get(c.passage.document_id, date.min), reverse=True
        )

    def _with_continuations(
        self, chosen: list[Candidate], candidates: list[Candidate], shown: set[tuple[str, int]]
    ) -> list[Candidate]:
        """Add the next sentence of a chosen one when it continues it ("X also ...") with a typed answer."""
        by_previous = {(c.passage.document_id, c.previous.start): c for c in candidates if c.previous}
        out = list(chosen)
        for c in chosen:
            nxt = by_previous.get(c.key)
            if nxt and nxt.key not in shown and nxt.typed and _CONTINUATION.search(nxt.sentence.text):
                out.append(nxt)
                shown.update([nxt.key, *(d.key for d in nxt.corroborating)])
        return out

    def _with_elaboration(
        self,
        question: Question,
        top: Candidate,
        chosen: list[Candidate],
        candidates: list[Candidate],
        shown: set[tuple[str, int]],
    ) -> list[Candidate]:
        """For "how did X ...?": the next sentence, when it goes on about the same named party.

        A sentence that reports the act ("the US retaliated against Kataib Hezbollah") is often followed
        by the one that says how ("US airstrikes against Kataib Hezbollah killed 25 of its fighters").
        """
        after = (top.passage.document_id, top.sentence.start)
        nxt = next(
            (c for c in candidates if c.previous and (c.passage.document_id, c.previous.start) == after), None
        )
        if nxt is None or nxt.key in shown:
            return chosen
        asked = question.text.lower()
        named = {
            e.text.lower()
            for e in self.parser.sentence(top.sentence.text).ents
            if e.text.lower() not in asked
        }
        again = {e.text.lower() for e in self.parser.sentence(nxt.sentence.text).ents}
        if named & again:
            shown.add(nxt.key)
            return [*chosen, nxt]
        return chosen

    @staticmethod
    def _in_reading_order(chosen: list[Candidate], candidates: list[Candidate]) -> list[Candidate]:
        rank: dict[str, int] = {}
        for c in chosen:
            rank.setdefault(c.passage.document_id, len(rank))
        return sorted(chosen, key=lambda c: (rank[c.passage.document_id], c.sentence.start))

    @staticmethod
    def _noun_presence(question: Question, corpus: Corpus) -> float:
        """Share of the question's nouns (weighted by rarity) that occur anywhere in the corpus."""
        if not question.nouns:
            return 1.0
        weights = {n: corpus.idf(n) for n in question.nouns}
        total = sum(weights.values()) or 1.0
        return sum(w for n, w in weights.items() if corpus.df(n) > 0) / total

    @staticmethod
    def depends_on_context(text: str) -> bool:
        return bool(_DEPENDENT_OPENER.match(text) or _CONTINUATION.search(text))

    @staticmethod
    def needs_previous(candidate: Candidate) -> bool:
        return candidate.previous is not None and bool(_DEPENDENT_OPENER.match(candidate.sentence.text))
