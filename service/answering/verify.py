"""The claim verifier: is a statement supported, refuted or not addressed by the corpus?

Our own, because no off-the-shelf piece runs here that does this offline on two CPU cores: NLI
cross-encoders need a hub download (one can still be plugged in with VERITY_NLI_MODEL). Instead each
candidate evidence sentence is compared with the claim on signals we can compute and explain:

* relatedness: dense similarity (bundled embedding model) and rarity-weighted term coverage;
* consistency, from spaCy's entities and dependency parse, each with a reason a reader can check:
  - a different actor, place, date or number in the slot the claim fills ("the corpus names Bolton,
    not Mike Pompeo"),
  - a different filler for the same preposition of the same verb ("killed ... in Baghdad", not "in Tehran"),
  - an opposing predicate (approved/rejected, favored/opposed, kept/expelled, praised/denounced),
  - negation on the claim's predicate ("vowed not to attack").

A claim is supported when one sentence (with the sentence before it as context) covers it and shows no
inconsistency; refuted when a closely related sentence contradicts it and none supports it; otherwise
there is not enough information.
"""

from __future__ import annotations

import re
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Any

from index.documents import Passage, Sentence
from service.answering.question import Question, analyse
from service.answering.read import Candidate, SentenceReader
from service.answering.retrieve import Corpus, Hit
from service.answering.text import Parser, key, stem, stem_set, stems, words

_OPPOSITES: list[tuple[str, str]] = [
    (
        "approve authorize authorise accept endorse allow permit sign",
        "reject refuse deny veto decline forbid",
    ),
    ("favor favour support back urge prod push advocate want encourage", "oppose resist object discourage"),
    ("keep kept retain maintain stay remain", "expel kick remove oust withdraw withdrew evict"),
    ("praise commend applaud laud hail welcome", "denounce criticize criticise condemn slam blast decry"),
    ("increase rise rose raise grow grew expand", "decrease fall fell drop cut shrink shrank reduce"),
    ("win won", "lose lost"),
    ("confirm admit acknowledge", "deny"),
    ("resign quit", "fire dismiss"),
    ("kill", "injure wound spare"),
    ("join rejoin rejoined enter", "withdraw withdrew withdrawn leave left exit quit"),
]
_OPPOSED: dict[str, set[str]] = {}
for _a, _b in _OPPOSITES:
    for _x in _a.split():
        _OPPOSED.setdefault(stem(_x), set()).update(stem(y) for y in _b.split())
    for _x in _b.split():
        _OPPOSED.setdefault(stem(_x), set()).update(stem(y) for y in _a.split())

_SYNONYMS = [
    "authorize authorise order approve direct sanction greenlight",
    "kill assassinate eliminate murder slay",
    "fire launch shoot",
    "say tell state report claim",
    "attack strike hit bomb target",
    "urge press push prod encourage",
    "reject refuse decline",
    "expel kick oust",
]
_SAME: dict[str, set[str]] = {}
for _group in _SYNONYMS:
    _stems = {stem(w) for w in _group.split()}
    for _x in _stems:
        _SAME.setdefault(_x, set()).update(_stems)


def same_verb(a: Any, b: Any) -> bool:
    """The same predicate (two tokens): the same lemma, or near-synonyms in news usage (order/authorize)."""
    sa, sb = key(a), key(b)
    return sa == sb or sb in _SAME.get(sa, set())


_NEGATIONS = {"not", "n't", "never", "no", "none", "neither", "nor", "without"}
_ROLE_TYPES = {
    "PERSON": "actor", "ORG": "actor",
    "GPE": "place", "LOC": "place", "FAC": "place",
    "DATE": "date",
    "CARDINAL": "number", "QUANTITY": "number", "MONEY": "number", "PERCENT": "number",
}  # fmt: skip
_RELATIVE_DATE = re.compile(
    r"\b(ago|back|old|later|earlier|past|last|next|months?|weeks?|days?|years?)\b", re.I
)


_LIGHT_VERBS = {stem(w) for w in "locate situate base call name know include".split()}


@dataclass(frozen=True)
class Conflict:
    reason: str
    strength: float  # how much of the rest of the claim the contradicting sentence covers


@dataclass
class Judgement:
    verdict: str  # "supported" | "refuted" | "not_enough_info"
    evidence: list[Candidate]
    explanation: str


_IRREALIS = {
    stem(w)
    for w in "plot plan attempt try want consider debate threaten propose option could would might".split()
}


def _root_verb(doc: Any) -> Any:
    for token in doc:
        if token.dep_ == "ROOT":
            return token if token.pos_ == "VERB" else None
    return None


def _irrealis(token: Any) -> bool:
    """The verb is planned, attempted or hypothetical ("a plot to assassinate"), not reported as done."""
    if (
        token.dep_ in {"xcomp", "acl", "ccomp", "pcomp", "advcl"}
        and stem(token.head.text.lower()) in _IRREALIS
    ):
        return True
    return any(c.dep_ == "aux" and stem(c.text.lower()) in _IRREALIS for c in token.children)


def _content(tokens: Any) -> set[str]:
    return {
        stem(w) for t in tokens for w in words(t.text) if t.pos_ in {"NOUN", "PROPN", "VERB", "NUM", "ADJ"}
    }


class Verifier:
    def __init__(self, signals: SentenceReader, parser: Parser, support_coverage: float = 0.75) -> None:
        self.signals = signals  # the read stage's signals, not the learned reader (claims are not questions)
        self.parser = parser
        self.support_coverage = support_coverage

    # -- public --------------------------------------------------------------------------------------
    def verify(self, claim: str, hits: list[Hit], corpus: Corpus) -> Judgement:
        question = analyse(claim, self.parser)
        candidates = self.signals.candidates(hits, corpus)
        self.signals.score(question, candidates, corpus)
        return self.judge(question, candidates, corpus)

    def check(self, claim: str, sentences: list[str], corpus: Corpus) -> Judgement:
        """Verify a claim against given evidence sentences (not retrieved): one sentence per passage."""
        question = analyse(claim, self.parser)
        candidates = []
        for i, text in enumerate(sentences):
            sentence = Sentence(text, 0, len(text))
            passage = Passage("given", "given", i, [sentence], text, paragraph=i)
            candidates.append(Candidate(f"given:{i}", passage, sentence, 0, None))
        self.signals.score(question, candidates, corpus)
        return self.judge(question, candidates, corpus)

    def judge(self, claim: Question, candidates: list[Candidate], corpus: Corpus) -> Judgement:
        """Supported by the best-covering sentence, unless a sentence closer to the claim contradicts it."""
        ranked = sorted(candidates, key=lambda c: c.score, reverse=True)[:10]
        if not ranked:
            return Judgement("not_enough_info", [], "the corpus has nothing on this")
        support: tuple[float, Candidate] | None = None
        conflicts: list[tuple[Conflict, Candidate]] = []
        for c in ranked:
            conflict = self.conflict(claim, c, corpus)
            if conflict is not None:
                conflicts.append((conflict, c))
                continue
            covered = self.covers(claim, c, corpus)
            if covered is not None and (support is None or covered > support[0]):
                support = (covered, c)
        conflicts.sort(key=lambda pair: pair[0].strength, reverse=True)
        against = conflicts[0] if conflicts else None
        if support is not None and (against is None or support[0] >= against[0].strength):
            return Judgement("supported", [support[1]], "the corpus states this")
        if against is not None:  # the strongest contradiction, and a second one from another document
            others = [c for _, c in conflicts[1:] if c.passage.document_id != against[1].passage.document_id]
            return Judgement("refuted", [against[1], *others[:1]], against[0].reason)
        return Judgement("not_enough_info", ranked[:2], "no sentence in the corpus states this")

    def supports(self, claim: str, evidence: Candidate, corpus: Corpus) -> bool:
        """Does this one cited sentence (with its context) support the claim?"""
        if claim.strip() == evidence.sentence.text.strip():
            return True
        question = analyse(claim, self.parser)
        self.signals.score(question, [evidence], corpus)
        return (
            self.covers(question, evidence, corpus) is not None
            and self.conflict(question, evidence, corpus) is None
        )

    def covers(self, claim: Question, c: Candidate, corpus: Corpus) -> float | None:
        """The claim's coverage by this sentence when it carries the claim's terms, verb and names."""
        leans = bool(c.context) and SentenceReader.depends_on_context(c.sentence.text)
        text = f"{c.context} {c.sentence.text}" if leans else c.sentence.text
        coverage = self.signals.coverage(claim, text, corpus) * (0.9 if leans else 1.0)
        if c.dense < 0.35 or coverage < self.support_coverage * (0.9 if leans else 1.0):
            return None
        context = text
        present = stem_set(context)
        root = _root_verb(claim.parse)
        verb_ok = (
            root is None
            or key(root) in _LIGHT_VERBS
            or any(
                same_verb(root, t)
                for text in (*(c.window if leans else ()), c.sentence.text)
                for t in self.parser.sentence(text)
            )
            or c.dense >= 0.75
        )
        names_ok = all(_mentioned(e, present, context) for e in claim.parse.ents if e.label_ in _ROLE_TYPES)
        return coverage if verb_ok and names_ok else None

    # -- consistency checks --------------------------------------------------------------------------
    def conflict(self, claim: Question, c: Candidate, corpus: Corpus) -> Conflict | None:
        present = stem_set(f"{c.context} {c.sentence.text}")
        evidence = self.parser.sentence(c.sentence.text)
        # the slot check first: its reason quotes the corpus's own phrase ("killed ... in Baghdad")
        checks = (self._slot_mismatch, self._swapped_role, self._swapped_entity, self._opposed, self._negated)
        for check in checks:
            found = check(claim, evidence, present, corpus)
            if found is not None:
                return found
        return None

    def _rest(
        self, claim: Question, exclude: AbstractSet[str], present: AbstractSet[str], corpus: Corpus
    ) -> float | None:
        """Coverage of the claim's other terms: a contradiction needs the rest of the claim to match."""
        rest = [t for t in claim.terms if t not in exclude]
        covered = [t for t in rest if t in present or _SAME.get(t, set()) & present]
        weight = sum(corpus.idf(t) for t in rest) or 1.0
        ratio = sum(corpus.idf(t) for t in covered) / weight
        return ratio if len(covered) >= 2 and ratio >= 0.6 else None

    def _swapped_entity(
        self, claim: Question, evidence: Any, present: AbstractSet[str], corpus: Corpus
    ) -> Conflict | None:
        root = _root_verb(claim.parse)
        if root is not None and key(root) not in _LIGHT_VERBS:
            matches = [t for t in evidence if t.pos_ == "VERB" and same_verb(root, t)]
            if not matches or all(_irrealis(t) for t in matches):
                return None
        claim_stems = stem_set(claim.text)
        for ent in claim.parse.ents:
            role = _ROLE_TYPES.get(ent.label_)
            if role is None or (role == "date" and _RELATIVE_DATE.search(ent.text)):
                continue
            tokens = stem_set(ent.text)
            if not tokens or _mentioned(ent, present, ""):
                continue
            others = [
                e for e in evidence.ents
                if _ROLE_TYPES.get(e.label_) == role and not stem_set(e.text) <= claim_stems
                and not (role == "date" and _RELATIVE_DATE.search(e.text))
                and (root is not None or _slot(e) == _slot(ent))
            ]  # fmt: skip
            others.sort(
                key=lambda e: _slot(e) != _slot(ent)
            )  # the same slot first: "in Baghdad" for "in Tehran"
            rest = self._rest(claim, tokens, present, corpus) if others else None
            if rest is not None:
                return Conflict(f"the corpus says {others[0].text}, not {ent.text}", rest)
        return None

    def _swapped_role(
        self, claim: Question, evidence: Any, present: AbstractSet[str], corpus: Corpus
    ) -> Conflict | None:
        """Who did what: the same verb, a different named subject or object ("Jones approved", not Smith)."""
        root = _root_verb(claim.parse)
        if root is None:
            return None
        verbs = [t for t in evidence if same_verb(root, t) and not _irrealis(t)]
        for role in ({"nsubj", "agent"}, {"dobj", "nsubjpass"}):
            mine = next((c for c in root.children if c.dep_ in role and c.pos_ == "PROPN"), None)
            if mine is None:
                continue
            mine_text = " ".join(t.text for t in mine.subtree)
            fillers = [
                " ".join(t.text for t in c.subtree)
                for v in verbs
                for c in v.children
                if c.dep_ in role and c.pos_ == "PROPN"
            ]
            if not fillers or any(stem_set(f) & stem_set(mine_text) for f in fillers):
                continue
            rest = self._rest(claim, stem_set(mine_text), present, corpus)
            if rest is not None:
                return Conflict(f"the corpus says {fillers[0]}, not {mine_text}", rest)
        return None

    def _slot_mismatch(
        self, claim: Question, evidence: Any, present: AbstractSet[str], corpus: Corpus
    ) -> Conflict | None:
        verbs = [t for t in claim.parse if t.pos_ in {"VERB", "AUX"} and t.dep_ in {"ROOT", "relcl", "ccomp"}]
        for verb in verbs:
            for prep in (c for c in verb.children if c.dep_ in {"prep", "agent"}):
                mine = _content(prep.subtree)
                if not mine:
                    continue
                for other in (t for t in evidence if same_verb(verb, t) and not _irrealis(t)):
                    for oprep in (c for c in other.children if c.dep_ in {"prep", "agent"}):
                        theirs = _content(oprep.subtree)
                        if oprep.text.lower() != prep.text.lower() or not theirs or mine & theirs:
                            continue
                        rest = self._rest(claim, mine, present, corpus)
                        if rest is not None:
                            said = " ".join(t.text for t in oprep.subtree)
                            return Conflict(f"the corpus says {other.text} {said}", rest)
        return None

    def _opposed(
        self, claim: Question, evidence: Any, present: AbstractSet[str], corpus: Corpus
    ) -> Conflict | None:
        mine = {key(t): t for t in claim.parse if t.pos_ in {"VERB", "NOUN", "ADJ"}}
        against = {m: _OPPOSED[m] for m in mine if m in _OPPOSED}
        if not against:  # most claims: no word with an opposite, so no evidence token to look at
            return None
        said = stem_set(evidence.text) | {key(t) for t in evidence}
        for token in evidence:
            s = key(token)
            for m, opposites in against.items():
                claim_token = mine[m]
                if s not in opposites or m in said or _irrealis(token):
                    continue
                rest = self._rest(claim, {m}, present, corpus)
                if rest is not None:
                    return Conflict(f"the corpus says {token.text}, not {claim_token.text}", rest)
        return None

    def _negated(
        self, claim: Question, evidence: Any, present: AbstractSet[str], corpus: Corpus
    ) -> Conflict | None:
        if any(t.dep_ == "neg" or t.text.lower() in _NEGATIONS for t in claim.parse):
            return None
        terms = set(claim.terms)
        for neg in (t for t in evidence if t.dep_ == "neg" or t.text.lower() in _NEGATIONS):
            head = neg.head
            scope = [head, head.head, *(c for c in head.children if c.dep_ in {"xcomp", "ccomp", "conj"})]
            if not any(key(t) in terms or stem(t.text.lower()) in terms for t in scope):
                continue
            rest = self._rest(claim, set(), present, corpus)
            if rest is not None:
                return Conflict(f"the corpus says {neg.text} {head.text}", rest)
        return None


def _slot(ent: Any) -> tuple[str, str]:
    root = ent.root
    if root.dep_ == "pobj":
        return ("pobj", root.head.text.lower())
    return (root.dep_.replace("pass", ""), "")


def _mentioned(ent: Any, present: AbstractSet[str], context: str) -> bool:
    """A name counts as mentioned by its last word (surnames) or as an acronym; dates and numbers whole."""
    tokens = stems(ent.text)
    if not tokens:
        return True
    if ent.label_ == "PERSON" and tokens[-1] in present:
        return True
    if all(t in present for t in tokens):
        return True
    text = ent.text.replace(".", "")
    if text.isupper() and len(text) >= 2 and context:
        initials = re.findall(r"\b[A-Z]", context)
        return text in "".join(initials)
    return False
