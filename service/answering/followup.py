"""Follow-up questions: rewrite a question that leans on the conversation into a standalone one.

Extractive mode (no LLM): pronouns are replaced by the entities of the previous turns ("he" → the last
person named, "it" → the thing the previous question was about), and a short question that names
nothing of its own ("How did the U.S. retaliate?") carries the previous question's names and dates along.
The pipeline answers (and premise-checks) the resolved question and echoes it as `resolved_question`.
"""

from __future__ import annotations

import re
from typing import Any

from service.answering.text import Parser
from service.schemas import Turn

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
        referring = token.tag_ not in {"WDT", "WP", "WP$"} and token.dep_ not in {"det", "mark", "expl"}
        if referring and (token.pos_ == "PRON" or low in _THING):
            if low in _PERSON:
                sub = _latest(turns, {"PERSON"})
            elif low in _GROUP:
                sub = _latest(turns, {"ORG", "NORP", "GPE"})
            elif low in _THING and users:
                sub = _topic(users[0])
        if sub:
            replaced = True
            possessive = low in {"his", "her", "their", "its"}
            out.append((f"{sub}'s" if possessive else sub) + token.whitespace_)
        else:
            out.append(token.text_with_ws)
    resolved = "".join(out)
    own = [t for t in doc if t.pos_ in {"NOUN", "PROPN", "NUM"}]
    said = " ".join(t.content for t in history).lower()
    new_names = [e for e in doc.ents if e.text.lower() not in said]  # a name of its own: it stands alone
    if not replaced and not new_names and len(own) <= 3 and users:
        names = [e.text for e in users[0].ents if e.label_ in _CONTEXT_LABELS and e.text not in resolved]
        if names:
            resolved = re.sub(r"\?\s*$", "", resolved.strip()) + f" ({', '.join(names)})?"
    return resolved


def _latest(turns: list[Any], labels: set[str]) -> str | None:
    """The most recent mention: a named entity of these kinds, or a turn's named subject."""
    for doc in turns:
        for ent in doc.ents:
            if ent.label_ in labels:
                return str(ent.text)
        if "PERSON" in labels:  # the small model misses some names ("Abu Mahdi al-Mohandes was killed")
            for token in doc:
                if token.dep_ in {"nsubj", "nsubjpass"} and token.pos_ == "PROPN":
                    name = [t.text for t in token.subtree if t.dep_ == "compound" or t is token]
                    return " ".join(name).replace(" - ", "-")
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
