"""The one answering pipeline. Every adapter (HTTP routes, CLI, eval) calls `Verity.ask()`.

question → analyse → retrieve (dense + BM25, fused) → compose (extractive) → response with citations.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Collection, Iterator
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

from index.analysis import Analyzer
from index.documents import Document, Passage, Sentence
from index.embed import Embedder
from index.indexer import IndexSummary, index_documents
from index.store import UNAVAILABLE, ChromaStore, StoredDocument, connect
from service.config import Settings
from service.errors import BadRequest, NotFound, StoreUnavailable
from service.extractive import Candidate, Composition, ExtractiveComposer
from service.followup import resolve
from service.llm import LLMAnswerer, LLMUnavailable
from service.premise import Presupposition, presuppositions
from service.question import AnswerType, Question, analyse
from service.reader import Reader, ReaderModel
from service.retrieval import Hit, HybridRetriever
from service.schemas import (
    AskResponse,
    Citation,
    Claim,
    Conflict,
    Refusal,
    Removed,
    ShortAnswer,
    Turn,
    VerifyResponse,
)
from service.text import Parser, QueryTimeWork, stem_set
from service.timescope import scope_of
from service.verifier import Judgement, Verifier

log = logging.getLogger("verity")

_NO_SHORT_ANSWER = {AnswerType.REASON, AnswerType.MANNER, AnswerType.CONDITION, AnswerType.DEFINITION}
_KIND_WORDS = {
    AnswerType.PERSON: "who it was",
    AnswerType.DATE: "when it happened",
    AnswerType.TIME: "the time of day",
    AnswerType.NUMBER: "the number asked for",
    AnswerType.AGE: "the age asked for",
    AnswerType.PLACE: "where it happened",
}


@dataclass(frozen=True)
class StreamEvent:
    """One server-sent event: `sentence` ({index, text, citations}) or `done` (the full AskResponse)."""

    event: str
    data: dict[str, Any]


@dataclass
class _Cited:
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


class Verity:
    def __init__(self, settings: Settings, models: Verity | None = None) -> None:
        """Load the models (or share those of `models`, as tests do) and open the store of `settings`."""
        self.settings = settings
        self.embedder: Embedder
        self.analyzer: Analyzer
        self.work: QueryTimeWork
        self.parser: Parser
        self.reader: Reader
        if models is not None:
            self.embedder, self.analyzer, self.work = models.embedder, models.analyzer, models.work
            self.parser, self.reader = models.parser, models.reader
        else:
            self.embedder = Embedder(settings.embed_model, settings.embed_batch_size)
            self.analyzer = Analyzer(settings.spacy_model)
            self.work = QueryTimeWork()
            self.parser = Parser(self.analyzer, self.work)
            model = ReaderModel.load(_model_path(settings.reader_model))
            self.reader = Reader(model, self.parser, self.embedder)
        self.store = ChromaStore(
            connect(settings.data_dir / "chroma", settings.chroma_url), settings.collection
        )
        self.outdated = 0  # stored documents of an older index schema (`check_schema`)
        self.retriever = HybridRetriever(self.store, self.embedder, settings.retrieval)
        self.composer = ExtractiveComposer(self.embedder, self.parser, settings.answer, self.reader)
        self.verifier = Verifier(self.composer, self.parser)
        self.llm: LLMAnswerer | None = None
        if settings.llm_base_url:
            key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
            self.llm = LLMAnswerer(
                settings.llm_base_url, settings.llm_model, key, settings.llm_timeout, settings.llm_max_tokens
            )

    # -- corpus --------------------------------------------------------------------------------------
    def index(
        self,
        documents: list[Document],
        prune: bool = False,
        progress: bool = True,
        keep: Collection[str] = (),
    ) -> IndexSummary:
        """Index `documents`; with `prune`, remove stored ones that are not among them nor in `keep`."""
        summary = index_documents(
            documents,
            self.store,
            self.embedder,
            self.analyzer,
            sentences_per_passage=self.settings.sentences_per_passage,
            duplicate_threshold=self.settings.duplicate_threshold,
            prune=prune,
            keep=keep,
            progress=progress,
        )
        # the passage table and BM25 are rebuilt from Chroma by the next query, not here: a
        # `verity index` run never queries, and a server sees its own write on its next request
        self.retriever.invalidate()
        return summary

    def documents(self) -> list[StoredDocument]:
        try:
            return self.store.list_documents()
        except UNAVAILABLE as exc:
            raise StoreUnavailable(f"the vector store is unavailable: {exc}") from exc

    def document(self, document_id: str) -> StoredDocument:
        found = self._get_document(document_id)
        if found is None:
            raise NotFound(f"no document with id {document_id!r}")
        return found

    def document_text(self, document_id: str) -> str | None:
        found = self._get_document(document_id)
        return found.document.text if found else None

    def _get_document(self, document_id: str) -> StoredDocument | None:
        try:
            return self.store.get_document(document_id)
        except UNAVAILABLE as exc:
            raise StoreUnavailable(f"the vector store is unavailable: {exc}") from exc

    def warm_up(self) -> None:
        self.check_schema()
        self.retriever.refresh(force=True)
        self.ask("warm up")

    def check_schema(self) -> int:
        """Count the stored documents written by a version with another index schema (logged once).

        Such an index still answers (what is not stored is computed and counted, see `QueryTimeWork`),
        but slowly; /healthz reports it until `verity index` rewrites it.
        """
        self.outdated = len(self.store.outdated())
        if self.outdated:
            log.warning(
                "the index was written by an older version of Verity (%d documents): rerun `verity index`",
                self.outdated,
            )
        return self.outdated

    # -- answering -----------------------------------------------------------------------------------
    def ask(self, question: str, history: list[Turn] | None = None, as_of: date | None = None) -> AskResponse:
        """Answer from the corpus as of `as_of` (default today): later articles are not used."""
        question = self._check_text(question, "question")
        as_of = as_of or date.today()
        started = time.perf_counter()
        asked = question
        question = resolve(question, history or [], self.parser)
        analysed = analyse(question, self.parser)
        if question != asked:  # words brought in from the conversation were found there: not "absent"
            own = stem_set(asked)
            analysed = replace(analysed, nouns=tuple(n for n in analysed.nouns if n in own))
        premises = presuppositions(question, self.parser)
        try:
            self.retriever.prepare([question, *(p.statement for p in premises)])
            refusal = self._check_premises(premises, as_of)
            if refusal is not None:
                refusal.resolved_question = question
                return refusal
            hits = self.retriever.retrieve(question, as_of)
            corpus = self.retriever.corpus
            composition = self.composer.compose(analysed, hits, corpus, scope_of(question, as_of))
            if self.llm is not None and composition.refusal != "out_of_scope":
                response = self._llm_answer(analysed, hits, composition)
            else:
                response = self._respond(analysed, composition)
        except UNAVAILABLE as exc:
            raise StoreUnavailable(f"the vector store is unavailable: {exc}") from exc
        ms = round(1000 * (time.perf_counter() - started), 1)
        log.debug("ask", extra={"status": response.status, "ms": ms})
        return response

    def ask_stream(
        self, question: str, history: list[Turn] | None = None, as_of: date | None = None
    ) -> Iterator[StreamEvent]:
        """The answer as events: each verified sentence as it is ready, then the full response.

        Only sentences that passed verification are ever yielded; a refusal yields no sentence events.
        """
        response = self.ask(question, history, as_of)
        if response.status == "answered":
            for i, claim in enumerate(response.claims):
                yield StreamEvent("sentence", {"index": i, "text": claim.text, "citations": claim.citations})
        yield StreamEvent("done", response.model_dump())

    def _check_text(self, text: str, what: str) -> str:
        text = text.strip()
        if not text:
            raise BadRequest(f"{what} must not be empty")
        if len(text) > self.settings.max_question_chars:
            raise BadRequest(f"{what} is longer than {self.settings.max_question_chars} characters")
        return text

    def _check_premises(self, premises: list[Presupposition], as_of: date) -> AskResponse | None:
        """Refuse when what the question takes for granted is contradicted (or, if essential, unsupported)."""
        for premise in premises:
            judgement = self.verifier.verify(
                premise.statement, self.retriever.retrieve(premise.statement, as_of), self.retriever.corpus
            )
            if judgement.verdict == "refuted":
                cited = self._cited()
                quoted = " ".join(f"{c.sentence.text} [{self._cite(cited, c)}]" for c in judgement.evidence)
                message = (
                    f"The question assumes something the articles contradict ({judgement.explanation}). "
                    f"They report: {quoted}"
                )
                return AskResponse(
                    status="refused",
                    answer=message,
                    citations=cited.items,
                    refusal=Refusal(reason="false_premise", message=message),
                )
            if judgement.verdict == "not_enough_info" and premise.strong:
                cited = self._cited()
                related = [c for c in judgement.evidence if c.dense >= 0.5]
                quoted = " ".join(f"{c.sentence.text} [{self._cite(cited, c)}]" for c in related)
                message = (
                    "The question assumes something the articles do not say "
                    f"(“{premise.statement.rstrip('.')}”), so Verity cannot answer it."
                    + (f" The closest they come: {quoted}" if quoted else "")
                )
                return AskResponse(
                    status="refused",
                    answer=message,
                    citations=cited.items,
                    refusal=Refusal(reason="insufficient_evidence", message=message),
                )
        return None

    def verify(self, claim: str) -> VerifyResponse:
        """POST /v1/verify: the verdict on a claim, with the sentences it rests on."""
        judgement = self.judge(claim)
        cited = self._cited()
        for c in judgement.evidence:
            self._cite(cited, c)
        return VerifyResponse(
            verdict=judgement.verdict,  # type: ignore[arg-type]
            evidence=cited.items,
            explanation=judgement.explanation,
        )

    def judge(self, claim: str) -> Judgement:
        """Verify a claim against evidence retrieved for it."""
        claim = self._check_text(claim, "claim")
        try:
            hits = self.retriever.retrieve(claim)
            return self.verifier.verify(claim, hits, self.retriever.corpus)
        except UNAVAILABLE as exc:
            raise StoreUnavailable(f"the vector store is unavailable: {exc}") from exc

    def _llm_answer(self, question: Question, hits: list[Hit], composition: Composition) -> AskResponse:
        """The LLM's answer, sentence by sentence verified; the extractive answer when none survives."""
        assert self.llm is not None
        sources = hits[:6]
        try:
            text = self.llm.generate(question.text, sources)
        except LLMUnavailable as exc:
            log.warning("LLM unavailable, answering extractively: %s", exc)
            fallback = self._respond(question, composition)
            fallback.note = f"The LLM server could not be used ({exc}); this is the extractive answer."
            return fallback
        generated = LLMAnswerer.verify(
            text, sources, composition.candidates, self.verifier, self.retriever.corpus
        )
        removed = [Removed(text=t, reason=r) for t, r in generated.removed]
        if not generated.sentences:
            fallback = self._respond(question, composition)
            why = (
                "found no answer in the sources"
                if generated.no_answer
                else "wrote nothing the sources support"
            )
            fallback.note = f"The LLM {why}; this is the extractive answer."
            fallback.removed = removed
            return fallback
        cited = self._cited()
        parts, claims = [], []
        for sentence, support in generated.sentences:
            numbers = list(dict.fromkeys(self._cite(cited, c) for c in support))
            parts.append(f"{sentence} {''.join(f'[{n}]' for n in numbers)}")
            claims.append(Claim(text=sentence, citations=numbers, verdict="supported"))
        return AskResponse(
            status="answered",
            answer=" ".join(parts),
            citations=cited.items,
            claims=claims,
            resolved_question=question.text,
            answerer="llm",
            removed=removed,
        )

    def _respond(self, question: Question, composition: Composition) -> AskResponse:
        if composition.refusal is not None:
            cited = self._cited()
            message = self._refusal_message(question, composition, cited)
            return AskResponse(
                status="refused",
                answer=message,
                citations=cited.items,
                refusal=Refusal(reason=composition.refusal, message=message),  # type: ignore[arg-type]
                resolved_question=question.text,
            )
        cited = self._cited()
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
            if self.composer.needs_previous(c) and c.previous is not None:
                key = (c.passage.document_id, c.previous.start)
                if key not in shown:
                    shown.add(key)
                    n = cited.cite(c.passage, c.previous)
                    parts.append(f"{c.previous.text} [{n}]")
                    claims.append(Claim(text=c.previous.text, citations=[n], verdict="supported"))
            shown.add(c.key)
            numbers = [self._cite(cited, c)] + [self._cite(cited, d) for d in c.corroborating]
            markers = "".join(f"[{n}]" for n in dict.fromkeys(numbers))
            said = c.sentence.text
            if c.key in disputed:
                day = self.retriever.corpus.published.get(c.passage.document_id)
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
                    citations=[self._cite(cited, c) for c in sides],
                )
            )
        short = self._short_answer(question, composition, cited)
        apart = self._cited()  # near misses: numbered after the answer's citations, not among them
        for c in composition.related:
            self._cite(apart, c)
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

    def _short_answer(
        self, question: Question, composition: Composition, cited: _Cited
    ) -> ShortAnswer | None:
        """The exact span of the leading sentence that answers, for questions that ask for one."""
        top = composition.best
        if top is None or question.answer_type in _NO_SHORT_ANSWER:
            return None
        ranked = sorted(composition.candidates, key=lambda c: c.score, reverse=True)[:5]
        span = self.reader.short_answer(
            question, top.sentence.text, [c.sentence.text for c in ranked], top.score
        )
        if span is None:
            return None
        start = top.sentence.start + span.start
        return ShortAnswer(
            text=span.text, citation=self._cite(cited, top), start=start, end=start + len(span.text)
        )

    def _cited(self) -> _Cited:
        return _Cited([])

    @staticmethod
    def _cite(cited: _Cited, c: Candidate) -> int:
        return cited.cite(c.passage, c.sentence)

    def _refusal_message(self, question: Question, composition: Composition, cited: _Cited) -> str:
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
            f"“{c.sentence.text}” [{self._cite(cited, c)}] ({c.time_reason or 'does not answer it'})"
            for c in closest
            if c.time_reason or c.score >= self.reader.model.threshold / 3
        ]
        if rejected:
            message += " The closest it found: " + "; ".join(rejected) + "."
        return message


def _model_path(path: Path) -> Path:
    """A relative model path is relative to the project root (where `models/` is committed)."""
    if path.is_absolute() or path.exists():
        return path
    return Path(__file__).resolve().parents[1] / path
