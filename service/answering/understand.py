"""Stage 1 — understand the question: what it asks, about when, and what it takes for granted.

Input: the question as asked, the conversation so far and the day it is asked (`as_of`). Output: an
`Understanding` — the question with a follow-up resolved against the conversation (`followup.py`), its
analysis (`question.py`: answer type, focus, key terms), its time scope (`timescope.py`: a year, an
edition, "this week" read against `as_of`) and its presuppositions (`premise.py`), which the pipeline
checks before it answers.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

from service.answering.followup import resolve
from service.answering.premise import Presupposition, presuppositions
from service.answering.question import Question, analyse
from service.answering.text import Parser, stem_set
from service.answering.timescope import TimeScope, scope_of
from service.schemas import Turn


@dataclass(frozen=True)
class Understanding:
    question: Question  # the resolved question, analysed
    scope: TimeScope
    premises: list[Presupposition]
    as_of: date

    @property
    def text(self) -> str:
        """The resolved question (the asked one when it is not a follow-up)."""
        return self.question.text


def understand(asked: str, history: list[Turn], as_of: date, parser: Parser) -> Understanding:
    text = resolve(asked, history, parser)
    question = analyse(text, parser)
    if text != asked:  # words brought in from the conversation were found there: not "absent"
        own = stem_set(asked)
        question = replace(question, nouns=tuple(n for n in question.nouns if n in own))
    return Understanding(question, scope_of(text, as_of), presuppositions(text, parser), as_of)
