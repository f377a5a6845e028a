"""What a question takes for granted. "Why did X do Y?" presupposes "X did Y"; "How many A were B?"
presupposes that some A were B; "Given that P, who ...?" states P outright. The pipeline verifies each
presupposition before answering, so a question resting on a claim the corpus contradicts is refused with
the correction instead of being answered.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_AUX = r"(did|does|do|was|were|is|are|has|have|had|would|could|will)"
_GIVEN = re.compile(
    r"^(given that|since|considering that|now that|assuming that|because|after|as)\s+"
    r"(?P<premise>[^,?]{12,}),\s*(?P<rest>.+)$",
    re.I,
)
_WHY = re.compile(r"^(why|how come)\s+(?P<clause>.+)$", re.I)
_HOW_MANY = re.compile(r"^how (many|much)\s+(?P<clause>.+)$", re.I)
# a statement whose subject only the conversation can tell ("that idea was dropped", "he resigned"):
# nothing in the articles can support it as worded, so it is never grounds to refuse
_ANAPHOR = re.compile(r"^(it|that|this|these|those|they|he|she|his|her|its|their)\b", re.I)
_WH_AUX = re.compile(rf"^(when|where|how|what year|in what year|which year)\s+(?P<clause>{_AUX}\s+.+)$", re.I)


@dataclass(frozen=True)
class Presupposition:
    statement: str
    strong: bool  # the question makes no sense unless this holds (why-questions, stated premises)


def presuppositions(question: str, parse: Any = None) -> list[Presupposition]:
    """`parse` (a callable returning a spaCy Doc) lets "did X do Y" become the statement "X did do Y"."""
    q = re.sub(r"\s+", " ", question.strip()).rstrip("?.! ").strip()
    found: list[Presupposition] = []
    given = _GIVEN.match(q)
    if given:
        found.append(Presupposition(given.group("premise").strip(), True))
        q = given.group("rest").strip()
    for pattern, strong in ((_WHY, True), (_HOW_MANY, False), (_WH_AUX, False)):
        m = pattern.match(q)
        if m:
            clause = m.group("clause").strip()
            if len(clause.split()) >= 3:
                statement = _declarative(clause, parse) if parse is not None else clause
                # a clause left in question form ("were there ...") or naming its subject by a pronoun
                # the question does not resolve is too unreliable to refuse on
                reliable = strong and not re.match(_AUX, statement, re.I) and not _ANAPHOR.match(statement)
                found.append(Presupposition(statement[0].upper() + statement[1:] + ".", reliable))
            break
    return found


def _declarative(clause: str, parse: Any) -> str:
    """ "did Trump fire Pompeo" -> "Trump did fire Pompeo"; "was he killed" -> "he was killed"."""
    first = clause.split(" ", 1)[0]
    if not re.fullmatch(_AUX, first, re.I):
        return clause
    doc = parse(f"Why {clause}?")  # parsed as the question it came from: spaCy handles the inversion
    subject = next((t for t in doc if t.dep_ in {"nsubj", "nsubjpass", "expl"} and t.left_edge.i == 2), None)
    if subject is not None:
        right = subject.right_edge.i + 1
    else:  # the small parser misreads "did Trump fire" as a noun compound: fall back on a named subject
        named = next((e for e in doc.ents if e.start == 2), None)
        if named is None:
            return clause
        right = named.end
    return f"{doc[2:right].text} {first.lower()} {doc[right:].text}".rstrip("?").strip()
