"""Stage 6 — respond: the response contract (`service.schemas`) from what the stages decided.

Input: the `Question`, the `Composition` (or a verified LLM answer, or a premise's `Judgement`) and the
`Corpus`. Output: an `AskResponse` / `VerifyResponse` — the answer text with numbered citations (offsets
into the document, a sentence cited twice keeps one number), its claims, the short answer's exact span,
disagreements labelled with their sources' dates, related near misses apart from the answer, and for a
refusal a message that names the closest sentences rejected and why.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from index.documents import Passage, Sentence
from index.store import sentence_id
from service.answering.compose import Composition
from service.answering.llm import Generated
from service.answering.premise import Presupposition
from service.answering.question import AnswerType, Question
from service.answering.read import Candidate, SentenceReader, preload_stored
from service.answering.reader import NO_ENTITY, Reader
from service.answering.retrieve import Corpus
from service.answering.verify import Judgement
from service.schemas import (
    AskResponse,
    Citation,
    Claim,
    Conflict,
    Refusal,
    Removed,
    ShortAnswer,
    VerifyResponse,
)

_NO_SHORT_ANSWER = {AnswerType.REASON, AnswerType.MANNER, AnswerType.CONDITION, AnswerType.DEFINITION}
_KIND_WORDS = {
    AnswerType.PERSON: "who it was",
    AnswerType.DATE: "when it happened",
    AnswerType.TIME: "the time of day",
    AnswerType.NUMBER: "the number asked for",
    AnswerType.AGE: "the age asked for",
    AnswerType.PLACE: "where it happened",
}


@dataclass
class Cited:
    """Citations in order of first use; a sentence cited twice keeps one number."""

    items: list[Citation]

    def cite(self, passage: Passage, sentence: Sentence) -> int:
        document_id, title, author = passage.document_id, passage.title, passage.author
        for c in self.items:
            if c.document_id == document_id and c.start == sentence.start:
                return c.id
        n = len(self.items) + 1
        self.items.append(
            Citation(id=n, document_id=document_id, title=title, text=sentence.text,
                     start=sentence.start, end=sentence.end, author=author, published=passage.published)
        )  # fmt: skip
        return n

    def candidate(self, c: Candidate) -> int:
        return self.cite(c.passage, c.sentence)


class Responder:
    def __init__(self, reader: Reader) -> None:
        self.reader = reader  # the short answer's span model and the refusal threshold

    def answer(self, question: Question, composition: Composition, corpus: Corpus) -> AskResponse:
        """The extractive answer (or the refusal) the composition calls for."""
        if composition.refusal is not None:
            cited = Cited([])
            message = self._refusal_message(question, composition, cited)
            return AskResponse(
                status="refused",
                answer=message,
                citations=cited.items,
                refusal=Refusal(reason=composition.refusal, message=message),  # type: ignore[arg-type]
                resolved_question=question.text,
            )
        cited = Cited([])
        parts: list[str] = []
        claims: list[Claim] = []
        shown: set[tuple[str, int]] = set()
        disputed = {c.key for c in composition.disagreements}
        newest = composition.disagreements[0].key if disputed else None
        if disputed:
            parts.append("The sources disagree on this.")
        top = composition.best
        lead = [c for c in composition.sentences if top is not None and c.key == top.key]
        for c in lead + [c for c in composition.sentences if c not in lead]:
            if c.key in shown:  # already shown as the sentence another one leans on
                continue
            if (previous := _leaned_on(c)) is not None:
                key = (c.passage.document_id, previous.start)
                if key not in shown:
                    shown.add(key)
                    n = cited.cite(c.passage, previous)
                    parts.append(f"{previous.text} [{n}]")
                    claims.append(Claim(text=previous.text, citations=[n], verdict="supported"))
            shown.add(c.key)
            numbers = [cited.candidate(c)] + [cited.candidate(d) for d in c.corroborating]
            markers = "".join(f"[{n}]" for n in dict.fromkeys(numbers))
            said = c.sentence.text
            if c.key in disputed:
                day = corpus.published.get(c.passage.document_id)
                dated = f" ({day.isoformat()})" if day and c.key != newest else ""
                said = f"According to “{c.passage.title}”{dated}: {c.sentence.text}"
            parts.append(f"{said} {markers}")
            claims.append(
                Claim(text=c.sentence.text, citations=list(dict.fromkeys(numbers)), verdict="supported")
            )
        conflicts = []
        if disputed:
            sides = composition.disagreements
            conflicts.append(
                Conflict(
                    about=question.text,
                    claims=[f"{c.passage.title}: {c.sentence.text}" for c in sides],
                    citations=[cited.candidate(c) for c in sides],
                )
            )
        short = self._short_answer(question, composition, cited, corpus)
        apart = Cited([])  # near misses: numbered after the answer's citations, not among them
        for c in composition.related:
            apart.candidate(c)
        related = [r.model_copy(update={"id": r.id + len(cited.items)}) for r in apart.items]
        return AskResponse(
            status="answered",
            short_answer=short,
            answer=" ".join(parts),
            citations=cited.items,
            claims=claims,
            conflicts=conflicts,
            related=related,
            resolved_question=question.text,
        )

    def generated(self, question: Question, generated: Generated) -> AskResponse:
        """The LLM's verified sentences, each with the sentences it rests on."""
        cited = Cited([])
        parts, claims = [], []
        for sentence, support in generated.sentences:
            numbers = list(dict.fromkeys(cited.candidate(c) for c in support))
            parts.append(f"{sentence} {''.join(f'[{n}]' for n in numbers)}")
            claims.append(Claim(text=sentence, citations=numbers, verdict="supported"))
        return AskResponse(
            status="answered",
            answer=" ".join(parts),
            citations=cited.items,
            claims=claims,
            resolved_question=question.text,
            answerer="llm",
            removed=self.removed(generated),
        )

    @staticmethod
    def removed(generated: Generated) -> list[Removed]:
        """The LLM's sentences the verifier took out, each with why."""
        return [Removed(text=t, reason=r) for t, r in generated.removed]

    @staticmethod
    def premise_refusal(premise: Presupposition, judgement: Judgement) -> AskResponse | None:
        """The refusal a question's presupposition calls for: contradicted, or (if essential) unsupported."""
        cited = Cited([])
        if judgement.verdict == "refuted":
            quoted = " ".join(f"{c.sentence.text} [{cited.candidate(c)}]" for c in judgement.evidence)
            message = (
                f"The question assumes something the articles contradict ({judgement.explanation}). "
                f"They report: {quoted}"
            )
            reason = "false_premise"
        elif judgement.verdict == "not_enough_info" and premise.strong:
            related = [c for c in judgement.evidence if c.dense >= 0.5]
            quoted = " ".join(f"{c.sentence.text} [{cited.candidate(c)}]" for c in related)
            message = (
                "The question assumes something the articles do not say "
                f"(“{premise.statement.rstrip('.')}”), so Verity cannot answer it."
                + (f" The closest they come: {quoted}" if quoted else "")
            )
            reason = "insufficient_evidence"
        else:
            return None
        return AskResponse(
            status="refused",
            answer=message,
            citations=cited.items,
            refusal=Refusal(reason=reason, message=message),  # type: ignore[arg-type]
        )

    @staticmethod
    def verdict(judgement: Judgement) -> VerifyResponse:
        cited = Cited([])
        for c in judgement.evidence:
            cited.candidate(c)
        return VerifyResponse(
            verdict=judgement.verdict,  # type: ignore[arg-type]
            evidence=cited.items,
            explanation=judgement.explanation,
        )

    def _short_answer(
        self, question: Question, composition: Composition, cited: Cited, corpus: Corpus
    ) -> ShortAnswer | None:
        """The exact span that answers, for questions that ask for one: of the answer's first two sentences,
        the span whose probability times its sentence's score is highest (a sentence that leans on the one
        before it, shown with it, offers that one's spans too). The best sentence alone missed
        the answer its second sentence names ("Golden Globes 2023: 'Banshees of Inisherin' wins best
        comedy", then "Michelle Yeoh ... won"): on `make train`'s held-out months the short answer was
        right for 0.439 of the questions with an answer from the best sentence, 0.462 from these two
        (0.464 from the top three candidates, shown or not; the span's probability alone 0.440). A name
        given by one word is given in full from earlier in its article (`_full_name`)."""
        if composition.best is None or question.answer_type in _NO_SHORT_ANSWER:
            return None
        ranked = sorted(composition.candidates, key=lambda c: c.score, reverse=True)[:5]
        others = [c.sentence.text for c in ranked]
        read = self.reader.short_answer
        found = [
            (c, sentence, span)
            for c in composition.sentences[:2]
            for sentence in (c.sentence, _leaned_on(c))
            if sentence is not None
            and (span := read(question, sentence.text, others, c.score, corpus, c.passage.title)) is not None
        ]
        if not found:
            return None
        chosen, sentence, span = max(found, key=lambda one: one[2].score * one[0].score)
        passage, text, start = chosen.passage, span.text, sentence.start + span.start
        if span.label in ("PERSON", "ORG", NO_ENTITY) and span.text.istitle() and " " not in span.text:
            full = self._full_name(span.text, chosen.passage, corpus)
            if full is not None:
                passage, sentence, text, at = full
                start = sentence.start + at
        citation = cited.cite(passage, sentence)
        return ShortAnswer(text=text, citation=citation, start=start, end=start + len(text))

    def _full_name(
        self, surname: str, passage: Passage, corpus: Corpus
    ) -> tuple[Passage, Sentence, str, int] | None:
        """The full name of a person or organisation the chosen sentence names by one word ("Hurts", which
        spaCy may not even tag as a name; "Suns"), from the first sentence of the same article up to it
        that names them in full ("Jalen Hurts is feeling the love"): news names a person or a team in
        full at first mention and by surname or nickname after. Read from the stored parses only (a
        sentence stored without one is skipped: nothing is parsed here). Returns the sentence's passage,
        the sentence, the name and its offset in the sentence."""
        document = passage.document_id
        ids = [
            pid for i in range(passage.position + 1)
            if (pid := corpus.by_position.get((document, i))) is not None
        ]  # fmt: skip
        # only a passage where a capitalised word comes before the name may name it in full: its stored
        # parses are read, the others' are not
        before = re.compile(rf"[A-Z][\w.'’-]*\s+{re.escape(surname)}(?!\w)")
        for pid in ids:
            earlier = corpus.passages[pid]
            if not any(before.search(s.text) for s in earlier.sentences):
                continue
            records = preload_stored(self.reader.parser, corpus, [pid])
            for i, s in enumerate(earlier.sentences):
                record = records.get(sentence_id(pid, i))
                if record is None or not record.analysis or not before.search(s.text):
                    continue
                for e in self.reader.parser.sentence(s.text).ents:
                    words = [t for t in e if t.tag_ != "POS"]  # "Jalen Hurts'": the name without the marker
                    if e.label_ in ("PERSON", "ORG") and len(words) >= 2 and words[-1].text == surname:
                        name = s.text[words[0].idx : words[-1].idx + len(words[-1].text)]
                        return earlier, s, name, words[0].idx
        return None

    def _refusal_message(self, question: Question, composition: Composition, cited: Cited) -> str:
        """Why Verity refuses, naming the closest sentences it rejected and why (another time, no answer)."""
        if composition.refusal == "out_of_scope":
            return "The articles in this corpus do not cover this question, so Verity cannot answer it."
        wanted = _KIND_WORDS.get(question.answer_type, "what is asked")
        message = (
            "The articles discuss this topic, but none of their sentences says "
            f"{wanted}, so Verity will not guess."
        )
        closest = sorted(
            (c for c in composition.candidates if not c.restates), key=lambda c: c.score, reverse=True
        )[:2]
        rejected = [
            f"“{c.sentence.text}” [{cited.candidate(c)}] ({c.time_reason or 'does not answer it'})"
            for c in closest
            if c.time_reason or c.score >= self.reader.model.threshold / 3
        ]
        if rejected:
            message += " The closest it found: " + "; ".join(rejected) + "."
        return message


def _leaned_on(c: Candidate) -> Sentence | None:
    """The sentence before `c` when `c` leans on it ("He said ...", "But ..."): the answer shows it first,
    and its spans may hold the short answer (the name "He" stands for)."""
    return c.previous if SentenceReader.needs_previous(c) else None


_MARKERS = re.compile(r"(?:\s*\[\d+\])+\s*")


def shown_sentences(response: AskResponse) -> list[str]:
    """The answer's sentences as it shows them, one per claim: the answer is each claim's text as shown
    (a side of a disagreement "According to “Title” (date): ...", the first after the notice that the
    sources disagree) followed by its markers, so it splits at the markers. A claim's own text stands in
    should a sentence carry marker-like text of its own ("[1]") and the split not line up."""
    parts = [p.strip() for p in _MARKERS.split(response.answer) if p.strip()]
    if len(parts) != len(response.claims):
        return [c.text for c in response.claims]
    return parts
