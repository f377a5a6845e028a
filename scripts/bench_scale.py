"""The scale benchmark's workers: each size is indexed in one fresh process and served from another.

    .venv/bin/python scripts/bench_scale.py index --passages N --dir DIR [--encode-sample S]
    .venv/bin/python scripts/bench_scale.py serve --dir DIR [--profile]
    .venv/bin/python scripts/bench_scale.py profile-index --passages N --dir DIR

Run by `scripts/bench.py`, one process per size and step, so peak memory (`VmHWM`) is that step's
alone. `index` generates the corpus (`gen_corpus.py`), loads it as `verity index` does and indexes it
into `DIR/data`, then times the raw `SentenceTransformer.encode` of the same sentences the indexer embedded
(all of them, or a fixed random sample of `--encode-sample`) with the same loaded model and batch size.
`serve` opens that store as the service does (models, then the in-process BM25 index rebuilt from Chroma)
and asks the generated questions through the whole pipeline. Each writes its figures to `DIR/<step>.json`.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_report  # noqa: E402  (sibling scripts)
import gen_corpus  # noqa: E402


def variant(question: str, r: int) -> str:
    """The question with `r` spaces before its final "?": a string the service has not cached, with the
    same tokens for the model, the same analysis and the same answer."""
    return question[:-1] + " " * r + question[-1] if question.endswith("?") else question + " " * r


def status_mib(field: str, pid: int | str = "self") -> float:
    """A memory figure of `/proc/<pid>/status` in MiB: `VmRSS` now, `VmHWM` its peak.

    The peak is `VmHWM`, not `ru_maxrss`: a child's `ru_maxrss` starts from its parent's resident size
    when it was spawned (Linux keeps the larger across the exec), so every worker's peak would read at
    least the bench process's."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return 0.0


def peak_mib() -> float:
    return status_mib("VmHWM")


def rss_mib() -> float:
    return status_mib("VmRSS")


def settings(root: Path) -> Any:
    from service.config import Settings

    return Settings(data_dir=root / "data", corpus_dir=root / "corpus", _env_file=None)  # type: ignore[call-arg]


def index(passages: int, root: Path, encode_sample: int, seed: int) -> dict[str, Any]:
    from index.loaders import load_documents
    from index.split import split_passages
    from service.answering.pipeline import Verity

    started = time.perf_counter()
    questions = gen_corpus.write_corpus(passages, root / "corpus" / "corpus.jsonl", seed)
    (root / "questions.json").write_text(json.dumps(questions))
    generated = time.perf_counter() - started
    documents = load_documents(root / "corpus")
    verity = Verity(settings(root))
    model_mib = rss_mib()
    pieces = [p for d in documents for p in split_passages(d, verity.settings.sentences_per_passage)]
    texts = [p.text for p in pieces]
    verity.embedder.encode(texts[:256])  # a warm model for both measurements: first batches run slow
    encode_seconds = 0.0
    encode = verity.embedder.encode
    embedded: list[str] = []  # the very texts the indexer hands the model (each passage's sentences)

    def timed_encode(texts: list[str], **options: Any) -> Any:  # how much of indexing is the model
        nonlocal encode_seconds
        embedded.extend(texts)
        t = time.perf_counter()
        try:
            return encode(texts, **options)
        finally:
            encode_seconds += time.perf_counter() - t

    verity.embedder.encode = timed_encode  # type: ignore[method-assign,assignment]
    t = time.perf_counter()
    summary = verity.index(documents, progress=False)
    seconds = time.perf_counter() - t
    verity.embedder.encode = encode  # type: ignore[method-assign]
    pool = embedded
    sample = pool if len(pool) <= encode_sample else random.Random(seed).sample(pool, encode_sample)
    model = verity.embedder.llama._model  # the loaded SentenceTransformer, called directly
    t = time.perf_counter()
    model.encode(sample, batch_size=verity.settings.embed_batch_size, show_progress_bar=False)
    raw_seconds = time.perf_counter() - t
    return {
        "passages": summary.passages,
        "documents": summary.documents,
        "duplicates": summary.duplicates,
        "generate_seconds": generated,
        "index_seconds": seconds,
        "indexer_seconds": summary.seconds,
        "encode_share": encode_seconds / seconds if seconds else 0.0,
        "index_rate": summary.passages / seconds,  # passages/s (the budget's estimate)
        "sentences": len(embedded),  # each distinct sentence text once (the indexer's memo)
        "all_sentences": sum(len(p.sentences) for p in pieces),
        "sentence_rate": len(embedded) / seconds,  # sentences embedded per second of indexing
        "raw_sentences": len(sample),
        "raw_seconds": raw_seconds,
        "raw_rate": len(sample) / raw_seconds,  # raw encode of a sample of the same sentences
        "model_rss_mib": model_mib,
        "peak_mib": peak_mib(),
    }


def serve(root: Path, profile: bool) -> dict[str, Any]:
    from service.answering.pipeline import Verity

    questions: list[str] = json.loads((root / "questions.json").read_text())
    t = time.perf_counter()
    verity = Verity(settings(root))
    loaded = time.perf_counter() - t
    model_mib = rss_mib()
    t = time.perf_counter()
    verity.retriever.refresh(force=True)  # the passage table and BM25, rebuilt from Chroma
    rebuilt = time.perf_counter() - t
    verity.warm_up()
    ready_mib = rss_mib()
    fresh, new, again, retrieval = [], [], [], []
    statuses: dict[str, int] = {}
    for q in questions:  # a fresh server: the corpus sentences these questions reach are scored once
        t = time.perf_counter()
        response = verity.ask(q)
        fresh.append(time.perf_counter() - t)
        statuses[response.status] = statuses.get(response.status, 0) + 1
    for q in questions:  # the measure: a new question (a string never seen) on warm corpus caches
        t = time.perf_counter()
        verity.ask(variant(q, 1))
        new.append(time.perf_counter() - t)
    for q in questions:
        t = time.perf_counter()
        verity.ask(q)
        again.append(time.perf_counter() - t)
    for q in questions:  # the search alone: the question's embedding is cached by now
        t = time.perf_counter()
        verity.retriever.retrieve(q)
        retrieval.append(time.perf_counter() - t)
    out: dict[str, Any] = {
        "questions": len(questions),
        "statuses": statuses,
        "load_seconds": loaded,
        "rebuild_seconds": rebuilt,
        "ask_fresh_p50": statistics.median(fresh),
        "ask_p50": statistics.median(new),
        "ask_repeat_p50": statistics.median(again),
        "retrieve_p50": statistics.median(retrieval),
        "model_rss_mib": model_mib,
        "ready_rss_mib": ready_mib,
        "peak_mib": peak_mib(),
    }
    if profile:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.001)
        profiler.start()
        for q in questions:
            verity.ask(variant(q, 2))  # new questions, as measured above
        profiler.stop()
        out["profile"] = profiler.output_text(unicode=False, color=False, show_all=False)
        out["packages"] = bench_report.package_shares(profiler)
    return out


def profile_index(passages: int, root: Path, seed: int) -> dict[str, Any]:
    from pyinstrument import Profiler

    from index.loaders import load_documents
    from service.answering.pipeline import Verity

    gen_corpus.write_corpus(passages, root / "corpus" / "corpus.jsonl", seed)
    documents = load_documents(root / "corpus")
    verity = Verity(settings(root))
    profiler = Profiler(interval=0.002)
    profiler.start()
    verity.index(documents, progress=False)
    profiler.stop()
    return {
        "profile": profiler.output_text(unicode=False, color=False, show_all=False),
        "packages": bench_report.package_shares(profiler),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("step", choices=["index", "serve", "profile-index"])
    parser.add_argument("--dir", type=Path, required=True)
    parser.add_argument("--passages", type=int, default=1000)
    parser.add_argument("--encode-sample", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    if args.step == "index":
        result = index(args.passages, args.dir, args.encode_sample, args.seed)
    elif args.step == "serve":
        result = serve(args.dir, args.profile)
    else:
        result = profile_index(args.passages, args.dir, args.seed)
    (args.dir / f"{args.step}.json").write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
