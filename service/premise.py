"""What a question takes for granted. "Why did X do Y?" presupposes "X did Y"; "How many A were B?"
presupposes that some A were B; "Given that P, who ...?" states P outright. The pipeline verifies each
presupposition before answering, so a question resting on a claim the corpus contradicts is refused with
the correction instead of being answered.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_AUX = r"(did|does|do|was|were|is|are|has|have|had|would|could|will)"
_GIVEN = re.compile(
    r"^(given that|since|considering that|now that|assuming that|because|after|as)\s+"
    r"(?P<premise>[^,?]{12,}),\s*(?P<rest>.+)$",
    re.I,
)
_WHY = re.compile(rf"^(why|how come)\s+({_AUX}\s+)?(?P<clause>.+)$", re.I)
_HOW_MANY = re.compile(r"^how (many|much)\s+(?P<clause>.+)$", re.I)
_WH_AUX = re.compile(rf"^(when|where|how|what year|in what year|which year)\s+{_AUX}\s+(?P<clause>.+)$", re.I)


@dataclass(frozen=True)
class Presupposition:
    statement: str
    strong: bool  # the question makes no sense unless this holds (why-questions, stated premises)


def presuppositions(question: str) -> list[Presupposition]:
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
                found.append(Presupposition(clause[0].upper() + clause[1:] + ".", strong))
            break
    return found
