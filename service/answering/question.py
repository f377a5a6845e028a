"""What a question asks for: the kind of answer (a person, a date, a number, a place...) and its key
terms, so the answerer can tell a sentence that answers from one that merely shares the topic.

Built on spaCy's parse of the question; the rules are about English question forms, not about any
particular question.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from service.answering.text import STOPWORDS, Parser, normalize_token, stem


class AnswerType(StrEnum):
    PERSON = "person"
    DATE = "date"
    TIME = "time"
    NUMBER = "number"
    AGE = "age"
    PLACE = "place"
    REASON = "reason"
    DEFINITION = "definition"
    CONDITION = "condition"
    NAME = "name"
    MANNER = "manner"
    ANY = "any"


# Nouns that frame a question rather than name what it is about ("what is the name of ...").
FRAME_NOUNS = frozenset(
    "name kind type sort thing way part role reason time year date day month number amount place "
    "city country town location happen happened condition conditions circumstance circumstances "
    "size length width height weight distance exact".split()
)
QUESTION_VERBS = frozenset("do did does happen happened take took make made get got".split())

_TYPE_PATTERNS: list[tuple[re.Pattern[str], AnswerType]] = [
    (re.compile(r"\bname of\b|\bwhat (is|was) (it|the \w+) (called|named)\b"), AnswerType.NAME),
    (re.compile(r"\bhow old\b|\bwhat age\b|\bhis age\b|\bher age\b"), AnswerType.AGE),
    (re.compile(r"\bwhat time\b|\btime of day\b|\bwhat hour\b"), AnswerType.TIME),
    (re.compile(r"\bhow (many|much)\b|\bwhat (number|amount)\b"), AnswerType.NUMBER),
    (
        re.compile(r"\bwhen\b|\b(what|which) ((exact|precise|specific) )?(year|date|month|day)\b"),
        AnswerType.DATE,
    ),
    (
        re.compile(r"\bwhere\b|\b(what|which) (city|country|town|place|province|location|base)\b"),
        AnswerType.PLACE,
    ),
    (re.compile(r"\b(what|which|under what|on what) (conditions?|circumstances?)\b"), AnswerType.CONDITION),
    (re.compile(r"^\s*(who|whom)\s+(is|was|are|were)\s+[A-Z]"), AnswerType.DEFINITION),
    (re.compile(r"\b(who|whom)\b"), AnswerType.PERSON),
    (re.compile(r"\bwhy\b"), AnswerType.REASON),
    (re.compile(r"^\s*how (did|do|does|was|were|is|are|has|have|had)\b"), AnswerType.MANNER),
]


@dataclass(frozen=True)
class Question:
    text: str
    answer_type: AnswerType
    terms: tuple[str, ...]  # stems of the content words
    verbs: tuple[str, ...]  # the subset of terms that are verbs (paraphrased more often than nouns)
    nouns: tuple[str, ...]  # stems of the nouns and names (the subset that must be on topic)
    entities: tuple[str, ...]  # entity strings named in the question
    focus: str | None  # stem of the noun naming the kind of answer ("what measure", "the name of the base")
    focus_word: str | None  # that noun as written, lower-cased ("measure", "base")
    focus_phrase: str | None  # with the words before it that narrow it ("us state", "pharmacy chain")
    parse: Any = field(compare=False, repr=False)


def answer_type_of(text: str) -> AnswerType:
    probe = text.strip()
    for pattern, kind in _TYPE_PATTERNS:
        target = probe if kind is AnswerType.DEFINITION else probe.lower()
        if pattern.search(target):
            return kind
    return AnswerType.ANY


def analyse(text: str, parser: Parser) -> Question:
    doc = parser(text)
    terms: list[str] = []
    nouns: list[str] = []
    verbs: list[str] = []
    for token in doc:
        word = normalize_token(token.text)
        if (
            not word
            or word in STOPWORDS
            or not any(c.isalnum() for c in word)
            or token.tag_ in {"WDT", "WP", "WRB"}
        ):
            continue
        if token.pos_ not in {"NOUN", "PROPN", "VERB", "ADJ", "NUM", "ADV"}:
            continue
        if (token.pos_ == "VERB" and word in QUESTION_VERBS) or word in FRAME_NOUNS:
            continue
        s = stem(word)
        if s not in terms:
            terms.append(s)
        if token.pos_ == "VERB" and s not in verbs:
            verbs.append(s)
        head_noun = (
            token.dep_ not in {"compound", "amod", "npadvmod", "nmod"} and word.isalpha() and len(word) > 2
        )
        asked_for = any(c.tag_ == "WDT" for c in token.children)  # "what measure": the answer's category
        if token.pos_ in {"NOUN", "PROPN"} and head_noun and not asked_for and s not in nouns:
            nouns.append(s)
    entities = tuple(e.text for e in doc.ents)
    kind = answer_type_of(text)
    token = _focus(doc, kind)
    focus_word = str(token.text.lower()) if token is not None else None
    focus = stem(focus_word) if focus_word else None
    phrase = _narrowed(doc, token) if token is not None else None
    return Question(
        text, kind, tuple(terms), tuple(verbs), tuple(nouns), entities, focus, focus_word, phrase, doc
    )


def _narrowed(doc: Any, token: Any) -> str:
    """The focus noun with the modifiers right before it: "which US state" -> "us state", "which
    Pacific nation" -> "pacific nation" (what a span is compared with: Vanuatu, not its capital)."""
    first = token.i
    while (
        first > 0
        and doc[first - 1].pos_ in ("NOUN", "PROPN", "ADJ", "ADV")
        and doc[first - 1].tag_ not in ("WDT", "WP", "WRB")
    ):
        first -= 1
    return " ".join(t.text.lower() for t in doc[first : token.i + 1])


def _focus(doc: Any, kind: AnswerType) -> Any | None:
    """The noun the answer must name: "the name of the base" -> base; "the rocket's name" -> rocket;
    "what measure" -> measure."""
    for token in doc:
        if kind in (AnswerType.NAME, AnswerType.ANY) and token.text.lower() == "name":
            for child in token.children:
                if child.dep_ == "prep" and child.text.lower() == "of":
                    target = next((g for g in child.children if g.dep_ == "pobj"), None)
                    if target is not None:
                        return target
                if child.dep_ == "poss" and child.pos_ == "NOUN":
                    return child
        if token.pos_ == "NOUN" and any(c.tag_ == "WDT" for c in token.children):
            return token
    # the parse missed it ("which fast-food chain is", "what animal that was"): the last noun of the
    # words that follow "which" / "what" up to the first that cannot be part of their noun phrase
    wh = next((t for t in doc if t.lower_ in ("which", "what") and t.tag_ in ("WDT", "WP")), None)
    last = None
    for token in doc[wh.i + 1 :] if wh is not None else ():
        if token.pos_ == "NOUN":
            last = token
        elif not (token.pos_ in ("PROPN", "ADJ", "NUM") or token.text == "-"):
            break
    return last
