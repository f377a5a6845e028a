"""Bring a Chroma store in line with a set of documents: embed and write what changed, drop what left.

Unchanged documents (same content hash) are skipped, so re-indexing writes nothing. Changed documents go
through in groups of whole documents (about `_GROUP` passages, which bounds memory on large corpora; a
quarter of a smaller run, so that its writes too overlap the model's work), in two threads:

- the caller's thread: the model embeds a group's sentences in one call (a passage's vector is the
  normalised mean of its sentences': one forward per sentence serves both the passage index and the
  answerer's sentence scoring). The call runs one single-threaded, low-priority forward per core
  (`Embedder.encode_streams`), so the writer takes a core whenever it wants one and the model the rest;
- the writer thread: parses the same group's sentences with spaCy (`nlp.pipe`, `index/analysis.py`)
  while they are embedded (for a run of several groups, in a worker process, `ParseWorker`, which
  parses the next group while this one is written), then, once the model has started on the next group
  (`_Writer.open`), looks its passages up for near-duplicates (`index/dedup.py`: the links go out with
  the new passages, nothing already stored is rewritten) and stores the group — a few large Chroma writes
  in which every document atomically replaces its previous version (see `ChromaStore.put_documents`) —
  while the model embeds the next group.

The model and the parse are the cost, about two to one in CPU time on news sentences. A sentence met
again in the same run (wire copy carried by several outlets, a boilerplate line, a templated page) is
embedded and parsed once: the model's side and the parse's each keep what they computed for the last
`_MEMO` distinct sentence texts (`_Memo`, `_Parses`), so only texts not seen reach the model or spaCy. A
repeat gets what computing it again would give, up to the rounding of the batch its vector was computed
in. Against a Chroma server the writes are network waits; the embedded client's Rust calls hold the GIL,
so what counts is that they are few and large (a write call costs ~20 ms whatever its size).
"""

from __future__ import annotations

import functools
import logging
import queue
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import numpy as np
from tqdm import tqdm

from index.analysis import Analyzer, ParseWorker
from index.dates import with_published
from index.dedup import find_duplicates
from index.documents import Document, Passage
from index.embed import Embedder
from index.split import split_passages
from index.store import ChromaStore, Version, content_hash, passage_id

log = logging.getLogger("verity")
_GROUP = 2048  # passages embedded (one model call) and written (one batch of writes) per round
_MIN_GROUP = 256  # a smaller run's groups: a quarter of it, at least this many passages
_MEMO = 32_768  # distinct sentence texts whose vector (and, on the writer, parse) a run keeps for reuse

T = TypeVar("T")
Item = tuple[Document, str, list[Passage]]  # a document to write, its content hash, its passages
# a group for the writer: its documents, the future of its sentence vectors, its number, its parses
_Job = tuple[list[Item], Future[np.ndarray], int, Callable[[], list[str]]]


@dataclass
class IndexSummary:
    documents: int = 0
    unchanged: int = 0
    written: int = 0
    removed: int = 0
    passages: int = 0
    duplicates: int = 0
    seconds: float = 0.0

    def __str__(self) -> str:
        return (
            f"{self.documents} documents ({self.written} written, {self.unchanged} unchanged, "
            f"{self.removed} removed), {self.passages} passages written, {self.duplicates} near-duplicate "
            f"passages, {self.seconds:.1f}s"
        )


def index_documents(
    documents: Iterable[Document],
    store: ChromaStore,
    embedder: Embedder,
    analyzer: Analyzer,
    *,
    sentences_per_passage: int = 3,
    duplicate_threshold: float = 0.9,
    prune: bool = False,
    keep: Collection[str] = (),
    progress: bool = True,
) -> IndexSummary:
    """Index `documents`; with `prune`, also delete stored documents that are not among them nor in
    `keep` (the ids of inputs that failed this time: their stored version stays)."""
    started = time.perf_counter()
    docs = [with_published(d) for d in documents]
    ids = [d.id for d in docs]
    if len(set(ids)) != len(ids):
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        raise ValueError(f"duplicate document ids: {', '.join(dupes[:5])}")
    stored = store.document_digests()
    outdated = store.outdated()  # written with another index schema: rewritten whatever their hash
    summary = IndexSummary(documents=len(docs))
    todo: list[Item] = []
    for doc in docs:
        digest = content_hash(doc)
        if stored.get(doc.id) == digest and doc.id not in outdated:
            summary.unchanged += 1
        else:
            todo.append((doc, digest, split_passages(doc, sentences_per_passage)))
    if prune:
        wanted = set(ids) | set(keep)
        for doc_id in stored:
            if doc_id not in wanted:
                store.delete_document(doc_id)
                summary.removed += 1

    total = sum(len(p) for _, _, p in todo)
    bar = tqdm(total=total, unit="passage", desc="indexing", disable=not progress or total == 0)
    # a run of several groups parses in a worker process, the next group while this one is written
    worker = ParseWorker(analyzer.model) if total > _GROUP else None
    pending = {doc.id for doc, _, _ in todo}
    writer = _Writer(store, analyzer, duplicate_threshold, summary, bar, pending, worker)
    embed: _Memo[np.ndarray] = _Memo(lambda texts, started: list(embedder.encode(texts, started=started)))
    try:
        for number, group in enumerate(_groups(todo, _group_size(total)), start=1):
            vectors: Future[np.ndarray] = Future()
            try:  # the writer parses the group's sentences while the model embeds them
                writer.submit(group, vectors, number)  # waits while the writer is one group behind
                rows = embed(_texts(group), started=functools.partial(writer.open, number))
                writer.open(number)  # (when the model had nothing to embed)
                vectors.set_result(np.stack(rows) if rows else np.zeros((0, 384), dtype=np.float32))
            except BaseException as exc:  # the writer must not wait for vectors that never come
                vectors.set_exception(exc)
                raise
        writer.finish()
    finally:
        writer.stop()
        if worker is not None:
            worker.close()
        bar.close()
    summary.seconds = time.perf_counter() - started
    return summary


def _texts(group: list[Item]) -> list[str]:
    return [s.text for _, _, passages in group for p in passages for s in p.sentences]


class _Memo(Generic[T]):
    """`compute` over a list of texts, each distinct text computed once: what it gave for the last `size`
    distinct texts is kept (least recently used dropped first). One thread's: no lock."""

    def __init__(self, compute: Callable[..., Sequence[T]], size: int = _MEMO) -> None:
        self.compute = compute
        self.size = size
        self.kept: OrderedDict[str, T] = OrderedDict()

    def __call__(self, texts: list[str], **options: Any) -> list[T]:
        """The results for `texts`, in order; `options` go to `compute` when it runs."""
        found: dict[str, T] = {}
        for text in dict.fromkeys(texts):
            if text in self.kept:
                self.kept.move_to_end(text)
                found[text] = self.kept[text]
        fresh = [text for text in dict.fromkeys(texts) if text not in found]
        if fresh:
            found.update(zip(fresh, self.compute(fresh, **options), strict=True))
            self.kept.update((text, found[text]) for text in fresh)
            while len(self.kept) > self.size:
                self.kept.popitem(last=False)
        return [found[text] for text in texts]


class _Parses:
    """The writer's parses (`Analyzer.analyse`), each distinct text once a run like `_Memo`, in two steps:
    `start` when a group is handed to the writer, the parses themselves when it writes the group. With a
    `ParseWorker` the parse runs in the worker from `start`, so the next group is parsed while this one is
    written; without one, in the writer's thread when it asks (while the model embeds the same group).
    `start` runs in the caller's thread and the parses are read in the writer's: one lock for the memo."""

    def __init__(self, analyzer: Analyzer, worker: ParseWorker | None, size: int = _MEMO) -> None:
        self.analyzer = analyzer
        self.worker = worker
        self.size = size
        self.kept: OrderedDict[str, str] = OrderedDict()
        self.waiting: dict[str, tuple[Future[list[str]], int]] = {}  # started, not read yet
        self._lock = threading.Lock()

    def start(self, texts: list[str]) -> Callable[[], list[str]]:
        """Start on the texts no earlier group brought; the returned call gives the parses of all."""
        with self._lock:
            for text in dict.fromkeys(texts):
                if text in self.kept:
                    self.kept.move_to_end(text)  # not dropped before this group reads it
            fresh = [t for t in dict.fromkeys(texts) if t not in self.kept and t not in self.waiting]
            parsed: Future[list[str]] = self.worker.submit(fresh) if self.worker and fresh else Future()
            self.waiting.update((text, (parsed, i)) for i, text in enumerate(fresh))

        def parses() -> list[str]:
            if fresh and self.worker is None:
                parsed.set_result(self.analyzer.analyse(fresh))
            with self._lock:
                found = {t: self.kept[t] for t in dict.fromkeys(texts) if t in self.kept}
                mine = {t: self.waiting[t] for t in dict.fromkeys(texts) if t not in found}
            # an earlier group's futures are done first (the writer goes in order); a text stays waiting
            # until it is kept, so a group started meanwhile does not parse it again
            found.update((t, future.result()[i]) for t, (future, i) in mine.items())
            with self._lock:
                for t in mine:
                    self.kept[t] = found[t]
                    self.waiting.pop(t, None)
                while len(self.kept) > self.size:
                    self.kept.popitem(last=False)
            return [found[t] for t in texts]

        return parses


def _group_size(total: int) -> int:
    """`_GROUP`, or for a run of fewer than four of them a quarter of the run (at least `_MIN_GROUP`): the
    writes of one group overlap only the embedding of the next, so a run in one group (1,000 passages)
    embedded everything, then wrote everything."""
    return min(_GROUP, max(_MIN_GROUP, total // 4))


def _groups(todo: list[Item], size: int) -> Iterator[list[Item]]:
    """Whole documents, about `size` passages at a time (a longer document is a group of its own).

    The last group is kept to about `size / 4`: only its writes cannot overlap the model's work, since
    the group before it is written while it is embedded.
    """
    tail = size // 4
    left = sum(len(p) for _, _, p in todo)
    group: list[Item] = []
    passages = 0
    for item in todo:
        group.append(item)
        passages += len(item[2])
        if passages >= size or (passages >= tail and 0 < left - passages <= tail):
            yield group
            left -= passages
            group, passages = [], 0
    if group:
        yield group


class _Writer:
    """A thread that parses and writes groups to the store, one at a time, while the caller embeds them.

    A group comes with the future of its sentence vectors: the writer parses the group's sentences while
    the caller embeds them, then waits for the vectors and writes, while the caller embeds the next group.
    At most one group waits for it (memory stays bounded). Its first error stops it: the caller gets that
    exception on its next `submit` or at `finish`, and no later group is written. A document is written
    atomically or not at all (`ChromaStore.put_documents`), so stopping between groups loses nothing that
    was reported as written.
    """

    _DONE = None

    def __init__(
        self,
        store: ChromaStore,
        analyzer: Analyzer,
        threshold: float,
        summary: IndexSummary,
        bar: tqdm,
        pending: set[str],
        worker: ParseWorker | None = None,
    ) -> None:
        self.store = store
        self.analyzer = analyzer
        self.threshold = threshold
        self.summary = summary
        self.bar = bar
        self.pending = pending  # documents still to write: their stored passages are on the way out
        self.found: set[str] = set()  # passages this run found a near-duplicate of (either side)
        self.error: BaseException | None = None
        self._queue: queue.Queue[_Job | None] = queue.Queue(maxsize=1)
        self._cancelled = threading.Event()
        self._opened = 0  # the groups (numbered from 1) whose writes may start: see `open`
        self._gate = threading.Condition()
        self._parses = _Parses(analyzer, worker)
        self._thread = threading.Thread(target=self._run, name="verity-index-writer", daemon=True)
        self._thread.start()

    def submit(self, group: list[Item], vectors: Future[np.ndarray], number: int) -> None:
        self._raise_if_failed()
        self._queue.put((group, vectors, number, self._parses.start(_texts(group))))

    def open(self, number: int) -> None:
        """The model has started on group `number`: the writes of the groups before it may run.

        A group is stored once the next one's forwards run, not as soon as its own vectors are there:
        the embedded Chroma client holds the GIL through a whole write, and the model's next group is
        tokenised (Python, GIL) right after the previous one is embedded, so a write started then held
        the model up for as long as it lasted (about a core idle for the length of every write)."""
        with self._gate:
            self._opened = max(self._opened, number)
            self._gate.notify_all()

    def finish(self) -> None:
        """Wait until every submitted group is written; raise the writer's error, if any."""
        self.open(sys.maxsize)
        self._queue.put(self._DONE)
        self._thread.join()
        self._raise_if_failed()

    def stop(self) -> None:
        """Stop after the group being written (no-op once finished): the caller failed or was interrupted."""
        if not self._thread.is_alive():
            return
        self._cancelled.set()
        self.open(sys.maxsize)
        while True:  # drop what waits, so the writer sees the end right after its current group
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        self._queue.put(self._DONE)
        self._thread.join()

    def _raise_if_failed(self) -> None:
        if self.error is not None:
            raise self.error

    def _run(self) -> None:
        while (job := self._queue.get()) is not self._DONE:
            if self.error is not None or self._cancelled.is_set():
                continue  # drain until the end marker; the caller stops submitting
            try:
                self._write(*job)
            except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
                self.error = exc

    def _write(
        self, group: list[Item], embedded: Future[np.ndarray], number: int, parses: Callable[[], list[str]]
    ) -> None:
        analyses = parses()
        sentence_vectors = embedded.result()
        with self._gate:
            self._gate.wait_for(lambda: self._opened > number)
        batch = []
        at = 0
        for doc, digest, passages in group:
            n = sum(len(p.sentences) for p in passages)
            mine = sentence_vectors[at : at + n]
            batch.append(
                Version(doc, digest, passages, _passage_vectors(passages, mine), mine, analyses[at : at + n])
            )
            at += n
        # each new passage against the passages stored so far (but not the old versions of documents
        # this group or a later one replaces) and the others of this group, before it is written: its
        # links go out with it, and a pair across groups is found when the later one is looked up
        new_ids = [passage_id(v.document, v.digest, p.position) for v in batch for p in v.passages]
        new_docs = [v.document.id for v in batch for _ in v.passages]
        vectors = np.concatenate([v.embeddings for v in batch])
        pairs = find_duplicates(self.store, new_ids, new_docs, vectors, self.threshold, skip=self.pending)
        for pid, passage in zip(new_ids, (p for v in batch for p in v.passages), strict=True):
            passage.duplicate_of = sorted(pairs.get(pid, ()))
            for other in passage.duplicate_of:
                self.found.update((pid, other))
        self.store.put_documents(batch)
        self.pending.difference_update(doc.id for doc, _, _ in group)
        self.summary.written += len(group)
        self.summary.passages += len(new_ids)
        self.summary.duplicates = len(self.found)
        self.bar.update(len(new_ids))
        if self.bar.disable:  # no terminal for the bar: progress goes to the log instead
            log.info(
                "indexing: %d documents, %d/%d passages written",
                self.summary.written,
                self.summary.passages,
                self.bar.total,
            )


def _passage_vectors(passages: list[Passage], sentence_vectors: np.ndarray) -> np.ndarray:
    """Each passage's vector: the normalised mean of its sentences' vectors."""
    dim = sentence_vectors.shape[1] if sentence_vectors.ndim == 2 else 384
    out = np.zeros((len(passages), dim), dtype=np.float32)
    at = 0
    for i, passage in enumerate(passages):
        n = len(passage.sentences)
        mean = sentence_vectors[at : at + n].mean(axis=0)
        out[i] = mean / (np.linalg.norm(mean) or 1.0)
        at += n
    return out
