"""The one answering pipeline. Every adapter (HTTP routes, CLI, eval, Slack) calls `Verity.ask()`.

Its stages, each a module of this package with a typed input and output:

    understand (question, history, as_of → Understanding: analysis, follow-up, time scope, premises)
    → retrieve (→ Hits: dense + BM25 fused, among the articles published by as_of)
    → read (→ Candidates: each sentence with its signals and the learned reader's score)
    → compose (→ Composition: the sentences that answer, or a refusal)
    → verify (the premises, and an LLM's sentences when one answers: → Judgement)
    → respond (→ AskResponse, the response contract)

`Verity` owns the models and the store, runs the stages in that order and indexes documents; the HTTP,
Slack and CLI adapters stay outside this package.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from index.analysis import Analyzer
from index.documents import Document
from index.embed import Embedder
from index.heap import release_freed
from index.indexer import IndexSummary, index_documents
from index.store import UNAVAILABLE, ChromaStore, StoredDocument, connect
from service.answering.compose import Composition, ExtractiveComposer
from service.answering.llm import LLMAnswerer, LLMUnavailable
from service.answering.question import Question
from service.answering.read import SentenceReader
from service.answering.reader import Reader, ReaderModel
from service.answering.respond import Responder, shown_sentences
from service.answering.retrieve import Hit, HybridRetriever
from service.answering.text import Parser, QueryTimeWork
from service.answering.understand import Understanding, understand
from service.answering.verify import Judgement, Verifier
from service.config import Settings
from service.errors import BadRequest, NotFound, StoreUnavailable
from service.schemas import AskResponse, Turn, VerifyResponse

log = logging.getLogger("verity")


@dataclass(frozen=True)
class StreamEvent:
    """One server-sent event: `sentence` ({index, text, citations}) or `done` (the full AskResponse)."""

    event: str
    data: dict[str, Any]


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
        self.sentences = SentenceReader(self.embedder, self.parser, self.reader)
        self.composer = ExtractiveComposer(self.parser, settings.answer, self.reader)
        self.verifier = Verifier(self.sentences, self.parser)
        self.responder = Responder(self.reader)
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
        release_freed()  # what the rebuild and the first query (Chroma loading its index) freed

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
        asked = self._check_text(question, "question")
        started = time.perf_counter()
        understood = understand(asked, history or [], as_of or date.today(), self.parser)
        try:
            self.retriever.prepare([understood.text, *(p.statement for p in understood.premises)])
            refusal = self._check_premises(understood)
            if refusal is not None:
                return refusal
            hits = self.retriever.retrieve(understood.text, understood.as_of)
            corpus = self.retriever.corpus
            candidates = self.sentences.read(understood.question, hits, corpus, understood.scope)
            composition = self.composer.compose(understood.question, candidates, corpus)
            if self.llm is not None and composition.refusal != "out_of_scope":
                response = self._llm_answer(understood.question, hits, composition)
            else:
                response = self.responder.answer(understood.question, composition, corpus)
        except UNAVAILABLE as exc:
            raise StoreUnavailable(f"the vector store is unavailable: {exc}") from exc
        ms = round(1000 * (time.perf_counter() - started), 1)
        log.debug("ask", extra={"status": response.status, "ms": ms})
        return response

    def ask_stream(
        self, question: str, history: list[Turn] | None = None, as_of: date | None = None
    ) -> Iterator[StreamEvent]:
        """The answer as events: its short answer (when it has one), each verified sentence as it is
        ready, then the full response.

        Only sentences that passed verification are ever yielded, each as the answer shows it (a side of a
        disagreement with its source), so the streamed sentences read as the `answer`; a refusal yields
        only `done`.
        """
        response = self.ask(question, history, as_of)
        if response.status == "answered":
            if response.short_answer is not None:  # adapters lead with it ("**Eagles** — ...")
                yield StreamEvent("short_answer", response.short_answer.model_dump())
            for i, (claim, text) in enumerate(zip(response.claims, shown_sentences(response), strict=True)):
                yield StreamEvent("sentence", {"index": i, "text": text, "citations": claim.citations})
        yield StreamEvent("done", response.model_dump())

    def _check_text(self, text: str, what: str) -> str:
        text = text.strip()
        if not text:
            raise BadRequest(f"{what} must not be empty")
        if len(text) > self.settings.max_question_chars:
            raise BadRequest(f"{what} is longer than {self.settings.max_question_chars} characters")
        return text

    def _check_premises(self, understood: Understanding) -> AskResponse | None:
        """Refuse when what the question takes for granted is contradicted (or, if essential, unsupported)."""
        for premise in understood.premises:
            hits = self.retriever.retrieve(premise.statement, understood.as_of)
            judgement = self.verifier.verify(premise.statement, hits, self.retriever.corpus)
            refusal = self.responder.premise_refusal(premise, judgement)
            if refusal is not None:
                refusal.resolved_question = understood.text
                return refusal
        return None

    def verify(self, claim: str) -> VerifyResponse:
        """POST /v1/verify: the verdict on a claim, with the sentences it rests on."""
        return self.responder.verdict(self.judge(claim))

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
            fallback = self.responder.answer(question, composition, self.retriever.corpus)
            fallback.note = f"The LLM server could not be used ({exc}); this is the extractive answer."
            return fallback
        generated = LLMAnswerer.verify(
            text, sources, composition.candidates, self.verifier, self.retriever.corpus
        )
        if not generated.sentences:
            fallback = self.responder.answer(question, composition, self.retriever.corpus)
            why = (
                "found no answer in the sources"
                if generated.no_answer
                else "wrote nothing the sources support"
            )
            fallback.note = f"The LLM {why}; this is the extractive answer."
            fallback.removed = self.responder.removed(generated)
            return fallback
        return self.responder.generated(question, generated)


def _model_path(path: Path) -> Path:
    """A relative model path is relative to the project root (where `models/` is committed)."""
    if path.is_absolute() or path.exists():
        return path
    return Path(__file__).resolve().parents[2] / path
