"""Follow-up questions: rewrite a question that leans on the conversation into a standalone one.

Extractive mode (no LLM): pronouns are replaced by the entities of the previous turns ("he" → the last
person named, "it" → the thing the previous question was about), and a short question that names
nothing of its own ("How did the U.S. retaliate?") carries the previous question's names and dates along.
The pipeline answers (and premise-checks) the resolved question and echoes it as `resolved_question`.
"""

from __future__ import annotations

import re
from typing import Any

from service.schemas import Turn
from service.text import Parser

_PERSON = {"he", "him", "his", "she", "her", "hers"}
_GROUP = {"they", "them", "their"}
_THING = {"it", "its", "this", "that"}
_CONTEXT_LABELS = {"PERSON", "ORG", "GPE", "LOC", "FAC", "EVENT", "DATE", "NORP"}


def resolve(question: str, history: list[Turn], parser: Parser) -> str:
    if not history:
        return question
    turns = [parser(t.content) for t in reversed(history[-4:])]  # most recent first
    users = [parser(t.content) for t in reversed(history[-4:]) if t.role == "user"]
    doc = parser(question)
    out: list[str] = []
    replaced = False
    for token in doc:
        low = token.text.lower()
        sub = None
        if token.pos_ == "PRON" or low in _THING:
            if low in _PERSON:
                sub = _latest(turns, {"PERSON"})
            elif low in _GROUP:
                sub = _latest(turns, {"ORG", "NORP", "GPE"})
            elif low in _THING and token.dep_ != "det" and users:
                sub = _topic(users[0])
        if sub:
            replaced = True
            possessive = low in {"his", "her", "their", "its"}
            out.append((f"{sub}'s" if possessive else sub) + token.whitespace_)
        else:
            out.append(token.text_with_ws)
    resolved = "".join(out)
    own = [t for t in doc if t.pos_ in {"NOUN", "PROPN", "NUM"}]
    if not replaced and len(own) <= 2 and users:
        names = [e.text for e in users[0].ents if e.label_ in _CONTEXT_LABELS and e.text not in resolved]
        if names:
            resolved = re.sub(r"\?\s*$", "", resolved.strip()) + f" ({', '.join(names)})?"
    return resolved


def _latest(turns: list[Any], labels: set[str]) -> str | None:
    for doc in turns:
        for ent in doc.ents:
            if ent.label_ in labels:
                return str(ent.text)
    return None


def _topic(doc: Any) -> str | None:
    """What a question was about: its object (or prepositional object), with its modifiers."""
    for dep in ("pobj", "dobj", "attr", "nsubj"):
        for token in doc:
            if token.dep_ == dep and token.pos_ in {"NOUN", "PROPN"} and token.ent_type_ != "PERSON":
                text = " ".join(t.text for t in token.subtree).strip(" ?")
                if text.lower() not in {"what", "which", "who"}:
                    return text
    return None
