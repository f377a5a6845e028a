"""The learned reader: does this sentence answer this question, and which span of it is the answer?

Rules tuned on four seed articles did not carry over to real news (an on-topic sentence that names a
team passes "which team won?" whether or not it names the winner). So the reader is two fitted models
over signals we can compute and explain, fitted on `../shared/news/train` by `scripts/train_reader.py`
(`make train`; data, command and figures in `models/README.md`):

* sentence model — P(the sentence answers) from its similarity to the question, the rarity-weighted
  coverage of the question's terms (alone and with the sentences before it), whether it carries an entity
  of the kind the question asks for (a table of P(entity label | what is asked), learned from the gold
  answers: "which team" → ORG, "which state" → GPE), its time fit (`timescope.py`: another year or
  edition; how much older its article is than the newest candidate's; the article's age against
  `as_of` only when the question asks about recent events — an archive's old articles are not worse
  answers to a question that names no time), its standing among the other candidates, and its
  article's (how much of the question its title and its retrieved sentences cover, its best similarity);
* span model — P(this entity, noun chunk or quoted title of the answering sentence is the answer) from its
  label's fit to what is asked, its distance from the question's words in the sentence, its grammatical
  role, whether the question already names it, how many other top candidates repeat it, how close it is in
  meaning to what is asked (the bundled embedding model's cosine between the span and the question's focus
  noun, or "person", "place", "date" ...: "worms" for "which animal", not "water"), and whether it sits in
  a dateline ("WASHINGTON –" names where the story was filed, not what was asked), whether the noun asked
  for stands within three words of it ("the overdose reversal drug Narcan" for "what drug") and whether it
  holds that noun itself (then it restates what is asked rather than answering it), how rare its most
  distinctive word is in the corpus (a quiz asks for "Oklahoma", seldom for "U.S."), and whether its
  article's headline names it (a story's headline names what it is about).

A question is refused when no sentence reaches the refusal threshold fitted on the same data.

Each model is logistic regression, gradient-boosted trees or their mean (`fitted.py`), whichever
`make train`'s cross-validation over months favours; all are plain JSON evaluated in numpy, the same
arithmetic at training and at serving.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from index.embed import Embedder
from service.answering import fitted
from service.answering.fitted import Fitted
from service.answering.question import AnswerType, Question
from service.answering.retrieve import Corpus
from service.answering.text import Parser, stem, stem_set, stems
from service.answering.timescope import TimeScope, judge
from service.errors import ConfigError

_DEPENDENT_OPENER = re.compile(
    r"^[\"“]?(But|However|It|He|She|They|His|Her|Their|Its|This|That|These|Those)\b"
)
_FURNITURE = re.compile(
    r"\b(share (this|on)|getty images|photo(graph)?:|©|all rights reserved|subscribe|advertisement|"
    r"click here|read more|sign up|newsletter|updated \d|published \d|follow us|image (source|caption))\b",
    re.I,
)
SENTENCE_FEATURES = [
    "dense", "coverage", "own_coverage", "noun_coverage", "typed", "label_fit", "answer_entities",
    "dense_gap", "coverage_gap", "rank", "length", "has_verb", "furniture", "dependent", "position",
    "year_match", "other_year", "other_edition", "newer_gap", "recent_age", "dense_x_coverage",
    "votes", "near_fit", "title_coverage", "doc_dense", "doc_coverage",
]  # fmt: skip
SPAN_FEATURES = [
    "label_fit", "is_entity", "proper", "tokens", "distance", "asked", "repeated", "subject", "object",
    "position", "sentence_score", "modifier", "focus_sim", "dateline", "near_terms", "before_match",
    "after_match", "focus_near", "restates", "rarity", "in_title", "focus_gap", "fit_gap",
]  # fmt: skip
_GAPS = ("focus_gap", "fit_gap")  # the span features computed from the others, last in the row
NO_ENTITY = "CHUNK"  # the label of a noun chunk that is not an entity
# cosine of the bundled model between two focus nouns for one to stand for the other ("nation" and
# "country" 0.77, "musician" and "singer" 0.69; "food" and "animal" 0.50 fall below)
_SIMILAR_FOCUS = 0.55


def answer_key(question: Question) -> str:
    """What the question asks for, as a key of the label table: its answer type, else its focus noun."""
    if question.answer_type not in (AnswerType.ANY, AnswerType.NAME, AnswerType.DEFINITION):
        return question.answer_type.value
    if question.focus:
        return f"focus:{question.focus}"
    return "any"


@dataclass
class Span:
    text: str
    start: int  # character offsets within the sentence
    end: int
    label: str
    score: float = 0.0
    modifier: bool = False  # a place or nationality modifying a noun ("U.S. forces", "Iranian officials")


@dataclass
class ReaderModel:
    sentence: Fitted
    span: Fitted
    labels: dict[str, dict[str, float]]  # answer key -> entity label -> P(label)
    threshold: float  # refuse when no sentence scores this high
    span_threshold: float  # no short answer below this
    card: dict[str, Any] = field(default_factory=dict)
    focus_words: dict[str, str] = field(default_factory=dict)  # label-table key -> its focus noun

    @staticmethod
    def load(path: Path) -> ReaderModel:
        """The artifact at `path`; a clear error when it was fitted on other signals than this code
        computes (an artifact of an older version), instead of a shape error at the first question."""
        data = json.loads(path.read_text())
        sentence, span = fitted.load(data["sentence"]), fitted.load(data["span"])
        for part, model, wanted in (("sentence", sentence, SENTENCE_FEATURES), ("span", span, SPAN_FEATURES)):
            if model.features != wanted:
                raise ConfigError(
                    f"{path} was fitted on other {part} signals than this version computes: "
                    "rerun `make train` (or point VERITY_READER_MODEL at a current artifact)"
                )
        return ReaderModel(
            sentence, span, data["labels"], float(data["threshold"]), float(data["span_threshold"]),
            data.get("card", {}), data.get("focus_words", {}),
        )  # fmt: skip

    def dump(self, path: Path) -> None:
        data = {
            "sentence": self.sentence.to_json(), "span": self.span.to_json(), "labels": self.labels,
            "threshold": self.threshold, "span_threshold": self.span_threshold, "card": self.card,
            "focus_words": self.focus_words,
        }  # fmt: skip
        path.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")

    def label_fit(self, key: str, label: str) -> float:
        table = self.labels.get(key) or self.labels.get("any") or {}
        return float(table.get(label, table.get("_other", 0.0)))


def _asked(text: str, question: Question) -> bool:
    """The question already names this span (it cannot be the answer), also as the start of a longer word
    ("Botswana" in "the Botswanan president")."""
    mine = stem_set(text)
    return bool(mine) and mine <= _asked_stems(question.text)


@lru_cache(maxsize=4096)
def _asked_stems(question: str) -> frozenset[str]:
    """The question's stems and their beginnings of four letters or more: a stem the question names."""
    asked = stem_set(question)
    return asked | {a[:k] for a in asked for k in range(4, len(a))}


# a dateline opening a sentence: "WASHINGTON –", "SAN FRANCISCO, Calif. —", "LONDON (AP) —"
_DATELINE = re.compile(
    r"^[A-Z][A-Z.'’ ]+(?:, [A-Z][A-Za-z.]+(?: [A-Z][A-Za-z.]+)?)?\s*(?:\([A-Za-z ]+\)\s*)?[–—−-]\s"
)
# what a question without a focus noun asks for, as a word to compare spans with
_TYPE_WORDS = {
    AnswerType.PERSON: "person", AnswerType.PLACE: "place", AnswerType.DATE: "date",
    AnswerType.TIME: "time", AnswerType.NUMBER: "number", AnswerType.AGE: "age",
}  # fmt: skip


class Reader:
    """Signals → the sentence model's score on each candidate; the span model's short answer."""

    def __init__(self, model: ReaderModel, parser: Parser, embedder: Embedder | None = None) -> None:
        self.model = model
        self.parser = parser
        self.embedder = embedder
        self._nearest: dict[str, str] = {}

    def key(self, question: Question) -> str:
        """The label-table row for the question: what it asks for, or for a focus noun the training
        questions never used, the row of the most similar one the table has ("which nation" reads the
        "country" row, "which musician" the "singer" row) when the bundled model finds one close enough."""
        key = answer_key(question)
        word = question.focus_word
        if key in self.model.labels or not word or self.embedder is None or not self.model.focus_words:
            return key
        if word not in self._nearest:
            if len(self._nearest) >= 10_000:  # words come from users' questions: keep the memo bounded
                self._nearest.clear()
            keys = sorted(self.model.focus_words)
            vectors = self.embedder.encode_cached([word, *(self.model.focus_words[k] for k in keys)])
            sims = vectors[1:] @ vectors[0]
            best = int(np.argmax(sims))
            self._nearest[word] = keys[best] if sims[best] >= _SIMILAR_FOCUS else key
        return self._nearest[word]

    # -- sentences -----------------------------------------------------------------------------------
    def sentence_rows(
        self, question: Question, candidates: list[Any], corpus: Corpus, scope: TimeScope
    ) -> np.ndarray:
        """One row of `SENTENCE_FEATURES` per candidate (a `read.Candidate` with its signals);
        sets each candidate's `time_reason` on the way."""
        if not candidates:
            return np.zeros((0, len(SENTENCE_FEATURES)))
        key = self.key(question)
        best_dense = max(c.dense for c in candidates)
        best_cov = max(c.coverage for c in candidates)
        ranks: dict[str, int] = {}
        for c in candidates:
            ranks.setdefault(c.passage_id, len(ranks))
        nouns = set(question.nouns)
        ages = {
            c.passage.document_id: _log_age(scope.as_of, corpus.published.get(c.passage.document_id))
            for c in candidates
        }
        newest = min((a for a in ages.values() if a is not None), default=None)
        docs = [self.parser.sentence(c.sentence.text) for c in candidates]
        found = [[e for e in _entities(doc) if not _asked(e.text, question)] for doc in docs]
        votes = _votes(candidates, found, self.model, key)
        terms = set(question.terms)
        # the article's standing: how well its title and its retrieved sentences together cover the
        # question, and its best similarity — an answer sits in an article about what is asked
        doc_stems: dict[str, set[str]] = {}
        doc_dense: dict[str, float] = {}
        titles: dict[str, str] = {}
        for c in candidates:
            d = c.passage.document_id
            doc_stems.setdefault(d, set()).update(stem_set(c.sentence.text))
            doc_dense[d] = max(doc_dense.get(d, -1.0), c.dense)
            titles[d] = c.passage.title or ""
        doc_cov = {
            d: corpus.coverage(question.terms, question.verbs, frozenset(st)) for d, st in doc_stems.items()
        }
        title_cov = {
            d: corpus.coverage(question.terms, question.verbs, stem_set(t)) for d, t in titles.items()
        }
        rows = []
        for c, doc, ents, vote in zip(candidates, docs, found, votes, strict=True):
            d = c.passage.document_id
            fit = max((self.model.label_fit(key, e.label_) for e in ents), default=0.0)
            keys, has_verb = _token_keys(doc)
            near = _near_fit(keys, ents, terms, self.model, key)
            present = stem_set(f"{c.context} {c.sentence.text}")
            noun_cov = len(nouns & present) / len(nouns) if nouns else 1.0
            published = corpus.published.get(c.passage.document_id)
            tfit = judge(scope, c.sentence.text, published)
            c.time_reason = tfit.reason  # why it is about another time, for a refusal
            age = ages[c.passage.document_id]
            gap = age - newest if age is not None and newest is not None else 0.0
            own = stem_set(c.sentence.text)
            own_cov = corpus.coverage(question.terms, question.verbs, own)
            rows.append([
                c.dense, c.coverage, own_cov, noun_cov, float(c.typed), fit, math.log1p(len(ents)),
                best_dense - c.dense, best_cov - c.coverage, math.log1p(ranks[c.passage_id]),
                math.log1p(len(c.sentence.text)) / 5, float(has_verb),
                float(_furniture(c.sentence.text)),
                float(bool(_DEPENDENT_OPENER.match(c.sentence.text))),
                math.log1p(c.passage.position), float(tfit.year_match), float(tfit.other_year),
                float(tfit.other_edition), gap, (age or 0.0) * float(scope.recent), c.dense * c.coverage,
                vote, near, title_cov[d], doc_dense[d], doc_cov[d],
            ])  # fmt: skip
        return np.asarray(rows, dtype=np.float64)

    def score(self, question: Question, candidates: list[Any], corpus: Corpus, scope: TimeScope) -> None:
        """Set each candidate's `score` to the sentence model's P(it answers) and `time_reason`."""
        rows = self.sentence_rows(question, candidates, corpus, scope)
        other_edition = SENTENCE_FEATURES.index("other_edition")
        for c, p, row in zip(candidates, self.model.sentence.predict(rows), rows, strict=True):
            c.score = float(p) * (0.25 if row[other_edition] else 1.0)

    def answer_names(self, question: Question, sentence: str, fit: float) -> set[str]:
        """The names a sentence gives of the kind asked for (label fit at least `fit`), lower-cased,
        leaving out those the question itself names."""
        key = self.key(question)
        ents = [e for e in _entities(self.parser.sentence(sentence)) if len(e.text) >= 3]
        return {
            e.text.lower()
            for e in ents
            if not _asked(e.text, question) and self.model.label_fit(key, e.label_) >= fit
        }

    # -- spans ---------------------------------------------------------------------------------------
    def spans(self, question: Question, sentence: str) -> list[Span]:
        """The answer candidates of a sentence: its entities, the noun chunks that are not one and the
        titles it gives in quotes."""
        doc = self.parser.sentence(sentence)
        out: list[Span] = []
        taken: set[int] = set()
        for e in doc.ents:
            if e.label_ in ("ORDINAL",) or _asked(e.text, question):
                continue
            first = e.start
            while first > 0 and _is_title(doc[first - 1], e):
                first -= 1  # "President Joe Biden": the title spaCy leaves outside the name is part of it
                while first > 0 and doc[first].ent_iob_ == "I":
                    first -= 1  # the title holds a name: all of it ("North Carolina Gov. Roy Cooper")
            last = e.end
            while e.root.dep_ == "poss" and last > e.start + 1 and doc[last - 1].tag_ == "POS":
                last -= 1  # "Roald Dahl's novels": the name without the marker ("McDonald's said": kept)
            start, end = doc[first].idx, doc[last - 1].idx + len(doc[last - 1].text)
            modifier = e.label_ in ("GPE", "NORP") and e.root.dep_ in ("compound", "amod", "nmod")
            out.append(Span(sentence[start:end], start, end, e.label_, modifier=modifier))
            taken.update(range(first, e.end))
        try:
            chunks = list(doc.noun_chunks)
        except ValueError:  # no dependency parse
            chunks = []
        for chunk in chunks:
            toks = [t for t in chunk if t.pos_ not in ("DET", "PRON", "CCONJ") and not t.is_punct]
            possessive = max((i for i, t in enumerate(toks) if t.tag_ == "POS"), default=-1)
            toks = toks[possessive + 1 :]  # "Russia's barrage": the possessor is a span of its own
            while toks and toks[0].i in taken and len(toks) > 1:
                toks = toks[1:]  # "20,000 elephants": the number is a span of its own, the noun another
            if any(t.i in taken for t in toks):
                # the proper nouns before a name the chunk holds are a span of their own ("Starbucks" in
                # "Former Starbucks CEO Howard Schultz", which spaCy tags as no entity)
                toks = list(itertools.takewhile(lambda t: t.i not in taken, toks))
                toks = list(itertools.dropwhile(lambda t: t.pos_ != "PROPN", toks))
            if not toks or _asked(" ".join(t.text for t in toks), question) or _asked(chunk.text, question):
                continue
            start, end = toks[0].idx, toks[-1].idx + len(toks[-1].text)
            out.append(Span(sentence[start:end], start, end, NO_ENTITY))
        return out + _quoted(question, sentence, out)

    def span_rows(
        self, question: Question, sentence: str, spans: list[Span], others: list[str], score: float,
        corpus: Corpus, title: str = "",
    ) -> np.ndarray:  # fmt: skip
        doc = self.parser.sentence(sentence)
        key = self.key(question)
        terms = set(question.terms)
        anchors = [t.idx for t in doc if stem(t.text.lower()) in terms]
        target = question.focus_phrase or _TYPE_WORDS.get(question.answer_type)
        sims = np.zeros(len(spans))
        if target and self.embedder is not None and spans:
            vectors = self.embedder.encode_cached([target, *(s.text for s in spans)])
            sims = vectors[1:] @ vectors[0]
        dateline = _DATELINE.match(sentence)
        before, after = _around_wh(question)
        keys = _token_keys(doc)[0]
        focus = question.focus
        headline = stem_set(title)
        rows = []
        for s, sim in zip(spans, sims, strict=True):
            toks = [t for t in doc if s.start <= t.idx < s.end]
            first, last = (toks[0].i, toks[-1].i) if toks else (0, -1)
            left, right = set(keys[max(0, first - _WINDOW) : first]), set(keys[last + 1 : last + 1 + _WINDOW])
            distance = min((abs(a - s.start) for a in anchors), default=len(sentence)) / 40
            repeated = sum(1 for o in others if s.text.lower() in o.lower())
            deps = {t.dep_ for t in toks}
            beside = set(keys[max(0, first - 3) : first]) | set(keys[last + 1 : last + 4])
            rows.append([
                self.model.label_fit(key, s.label), float(s.label != NO_ENTITY),
                sum(t.pos_ == "PROPN" for t in toks) / max(len(toks), 1), math.log1p(len(toks)),
                math.log1p(distance), len(set(stems(s.text)) & terms) / max(len(stems(s.text)), 1),
                math.log1p(repeated), float(bool(deps & {"nsubj", "nsubjpass"})),
                float(bool(deps & {"dobj", "pobj", "attr"})), s.start / max(len(sentence), 1), score,
                float(s.modifier), float(sim), float(dateline is not None and s.start < dateline.end()),
                len((left | right) & terms) / max(len(terms), 1), _share(before, left), _share(after, right),
                float(focus is not None and focus in beside),
                float(focus is not None and focus in keys[first : last + 1]), _rarity(s.text, corpus),
                float(_in_title(s, headline)),
            ])  # fmt: skip
        out = np.asarray(rows, dtype=np.float64).reshape(len(spans), len(SPAN_FEATURES) - len(_GAPS))
        # how far each span falls behind the sentence's best in meaning and in kind: the choice is
        # among the spans of one sentence, so what counts is being the best of them
        fits, near = out[:, SPAN_FEATURES.index("label_fit")], out[:, SPAN_FEATURES.index("focus_sim")]
        gaps = np.stack([near.max(initial=0.0) - near, fits.max(initial=0.0) - fits], axis=1)
        return np.hstack([out, gaps.reshape(len(spans), len(_GAPS))])

    def short_answer(
        self, question: Question, sentence: str, others: list[str], score: float, corpus: Corpus,
        title: str = "",
    ) -> Span | None:  # fmt: skip
        """The best span of the answering sentence (from an article with this `title`), when the span
        model is confident enough."""
        spans = self.spans(question, sentence)
        if not spans:
            return None
        rows = self.span_rows(question, sentence, spans, others, score, corpus, title)
        probs = self.model.span.predict(rows)
        best = int(np.argmax(probs))
        if probs[best] < self.model.span_threshold:
            return None
        chosen = spans[best]
        # the fullest mention of the same name in the sentence ("Swift" -> "Taylor Swift")
        fuller = [
            s for s in spans
            if s.label == chosen.label and s.label != NO_ENTITY and len(s.text) > len(chosen.text)
            and re.search(rf"(?<!\w){re.escape(chosen.text)}(?!\w)", s.text)
        ]  # fmt: skip
        chosen = max(fuller, key=lambda s: len(s.text)) if fuller else chosen
        if chosen.label != NO_ENTITY and _wants_several(question):
            chosen = _with_conjuncts(sentence, chosen, spans)
        chosen.score = float(probs[best])
        return chosen


_SEVERAL = re.compile(r"\b(which|what|name) (two|three|four|both)\b|\bboth\b", re.I)
_JOINED = re.compile(r"\s*(,\s*(and\s+)?|and\s+|&\s*)")


def _wants_several(question: Question) -> bool:
    """The question asks for more than one ("which two automakers", "which countries")."""
    if _SEVERAL.search(question.text):
        return True
    word = question.focus_word
    return word is not None and any(t.lower_ == word and t.tag_ in ("NNS", "NNPS") for t in question.parse)


def _with_conjuncts(sentence: str, chosen: Span, spans: list[Span]) -> Span:
    """The chosen name with the names of its kind it is listed with ("Honda and Nissan")."""
    same = sorted((s for s in spans if s.label == chosen.label), key=lambda s: s.start)
    start, end = chosen.start, chosen.end
    for s in same:  # after it
        if s.start >= end and _JOINED.fullmatch(sentence[end : s.start]):
            end = s.end
    for s in reversed(same):  # before it
        if s.end <= start and _JOINED.fullmatch(sentence[s.end : start]):
            start = s.start
    if (start, end) == (chosen.start, chosen.end):
        return chosen
    return Span(sentence[start:end], start, end, chosen.label, modifier=chosen.modifier)


# a title in quotes: "Oppenheimer", 'How the Grinch Stole Christmas!' (a single quote that closes a
# possessive, "Seuss' ", is no opening one: it follows a letter)
_QUOTED = re.compile(r"(?<!\w)[\"“‘'](?P<title>[A-Z0-9][^\"“”‘’']{1,80}?)[\"”’'](?!\w)")
QUOTED = "QUOTED"  # the label of a quoted title that is no entity of its own


def _quoted(question: Question, sentence: str, spans: list[Span]) -> list[Span]:
    """The titles a sentence gives in quotes, as spans of their own: news writes a film's, a book's or a
    show's title in quotes, where spaCy's small model tags a word of it or nothing ("Grinch")."""
    have = {(s.start, s.end) for s in spans}
    return [
        Span(text, start, end, QUOTED)
        for start, end, text in quoted_titles(sentence)
        if (start, end) not in have and not _asked(text, question)
    ]


def quoted_titles(sentence: str) -> list[tuple[int, int, str]]:
    """The text in quotes that may be a title (a capital or a digit first, twelve words at most), with its
    offsets in the sentence."""
    out = []
    for m in _QUOTED.finditer(sentence):
        start = m.start("title")
        text = m.group("title").rstrip(" ,")
        if len(text.split()) <= 12:
            out.append((start, start + len(text), text))
    return out


def _is_title(token: Any, entity: Any) -> bool:
    """A capitalised word before a person's name that modifies it ("President", "Gov.", "Coach")."""
    return bool(
        entity.label_ == "PERSON"
        and token.dep_ == "compound"
        and entity.start <= token.head.i < entity.end
        and token.text[:1].isupper()
    )


_WINDOW = 6  # tokens either side of a span read for the question's words
_WH = {"who", "whom", "whose", "what", "which", "where", "when", "how"}


def _around_wh(question: Question) -> tuple[set[str], set[str]]:
    """The question's content words just before its wh-phrase and just after it ("travel to | which US
    state | to learn how"): an answer stands where the sentence repeats them on the same sides
    ("bound for Fort Sill in | Oklahoma | to learn how")."""
    doc = question.parse
    wh = next((t.i for t in doc if t.lower_ in _WH), None)
    if wh is None:
        return set(), set()
    end = wh + 1
    focus = set((question.focus_phrase or "").split())
    while end < len(doc) and (doc[end].lower_ in focus or doc[end].pos_ in ("ADJ", "DET")):
        end += 1  # past the words naming the kind asked for ("which US state")
    terms = set(question.terms)

    def content(tokens: Any) -> set[str]:
        return {k for t in tokens if (k := stem(t.text.lower())) in terms}

    return content(doc[max(0, wh - 4) : wh]), content(doc[end : end + 4])


def _rarity(text: str, corpus: Corpus) -> float:
    """How rare the span's most distinctive word is in the corpus (its idf over the most a word can have):
    an answer names something specific; "U.S." or "America", in a fair share of any news corpus's
    sentences, is seldom what a quiz asks for."""
    words = stem_set(text)
    if not words:
        return 0.0
    return max(corpus.idf(w) for w in words) / math.log(1 + max(corpus.sentences, 1))


def _in_title(span: Span, headline: frozenset[str]) -> bool:
    """The span's words, or a person's or organisation's last word (a surname, a team's nickname), stand
    in its article's headline (`headline`: its stems): a story's headline names what it is about ("... to
    train in Oklahoma"; "drones" for the span "drone")."""
    words = stems(span.text)
    if not words or not headline:
        return False
    return set(words) <= headline or (span.label in ("PERSON", "ORG") and words[-1] in headline)


def _share(wanted: set[str], found: set[str]) -> float:
    return len(wanted & found) / len(wanted) if wanted else 0.0


def _votes(candidates: list[Any], found: list[list[Any]], model: ReaderModel, key: str) -> list[float]:
    """Per candidate: how many other documents among the candidates name one of its entities of the kind
    asked for (log scale, weighted by that kind's fit). News repeats the answer across sources: the
    team that won is named by every report of the game; a team merely mentioned, by one."""
    by_document: dict[str, list[str]] = {}
    for c in candidates:
        by_document.setdefault(c.passage.document_id, []).append(c.sentence.text.lower())
    texts = ["\0".join(t) for t in by_document.values()]  # no name holds a NUL
    seen: dict[str, int] = {}
    out = []
    for ents in found:
        best = 0.0
        for e in ents:
            name = e.text.lower()
            if len(name) < 3:
                continue
            if name not in seen:
                seen[name] = sum(name in text for text in texts)
            best = max(best, model.label_fit(key, e.label_) * math.log1p(max(seen[name] - 1, 0)))
        out.append(best)
    return out


class _Entity(NamedTuple):
    """What the reader reads of an entity `Span`, as plain values."""

    text: str
    label_: str
    start: int
    end: int


def _entities(doc: Any) -> tuple[_Entity, ...]:
    """A parsed sentence's entities, kept on the `Doc` like `_token_keys`: `doc.ents` builds its spans
    anew on every call and a span's text a `Token` object per token, which for every candidate of every
    question was 15% of the reading time (news dev, in-process profile)."""
    ents: tuple[_Entity, ...] | None = doc.user_data.get("verity_ents")
    if ents is None:
        ents = tuple(_Entity(e.text, e.label_, e.start, e.end) for e in doc.ents)
        doc.user_data["verity_ents"] = ents
    return ents


def _token_keys(doc: Any) -> tuple[list[str], bool]:
    """A parsed sentence's token stems and whether it has a verb, kept on the `Doc` (the parser caches
    corpus sentences' docs): walking a `Doc` makes a Python object per token, and the reader asks for
    these of every candidate of every question."""
    keys: tuple[list[str], bool] | None = doc.user_data.get("verity_keys")
    if keys is None:
        tokens = list(doc)
        keys = ([stem(t.text.lower()) for t in tokens], any(t.pos_ in ("VERB", "AUX") for t in tokens))
        doc.user_data["verity_keys"] = keys
    return keys


def _near_fit(keys: list[str], ents: list[Any], terms: set[str], model: ReaderModel, key: str) -> float:
    """The best fit of an entity of the kind asked for, discounted by its distance in words from the
    question's own words in the sentence: an answer stands next to what the question says about it."""
    anchors = [i for i, k in enumerate(keys) if k in terms]
    if not anchors:
        return 0.0
    best = 0.0
    for e in ents:
        gap = min(min(abs(a - e.start), abs(a - (e.end - 1))) for a in anchors)
        best = max(best, model.label_fit(key, e.label_) / (1.0 + gap / 4))
    return best


@lru_cache(maxsize=50_000)
def _furniture(sentence: str) -> bool:
    """Page furniture ("Share this", "Getty Images"): a corpus sentence is read for every question that
    retrieves it, and this search of a dozen alternatives was 4% of the Python time of a request."""
    return _FURNITURE.search(sentence) is not None


def _log_age(as_of: date, published: date | None) -> float | None:
    """An article's age on `as_of`, on a log scale where ten years is 1 (None: undated)."""
    if published is None:
        return None
    return math.log1p(max((as_of - published).days, 0)) / math.log(3650)
