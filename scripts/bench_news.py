"""The news-corpus benchmark: `../shared/news/dev` indexed into a store of its own, then served over HTTP.

    .venv/bin/python scripts/bench.py --parts news                    # this part alone (about 30 min)
    .venv/bin/python scripts/bench.py --parts news --news-articles 60 --news-questions 20 --out /tmp/b.md
    .venv/bin/python scripts/bench_news.py index --corpus DIR --data DIR --out JSON   # the indexing worker

Run by `scripts/bench.py` when `../shared/news` is there (`--news-dir` points elsewhere):

1. Indexing, in a fresh process (`index` below, so its peak memory is its own): the corpus loaded as
   `verity index` loads it, then `Verity.index` into an empty store; the texts the indexer hands the model
   (every corpus sentence) are recorded as it embeds them. Beside it, the raw `SentenceTransformer.encode`
   of the same sentence texts with the same loaded model and batch size: half of them (every other one)
   before indexing and the other half after, so that a change in the machine's load during the run
   weighs on both sides alike.
2. Cold start: `verity serve` on that store, spawn to the first 200 from `/healthz`, twice; the second
   server is the one measured, before it has answered anything but its own warm-up.
3. Concurrency 1: every question of `dev/answerable.jsonl` and `dev/unanswerable.jsonl` once, with its
   `as_of`, over HTTP; after each request the floor for the same string (the question embedded by the
   bundled model plus one Chroma query of a copy of the server's passage collection: `bench.Floor`), so
   both see the same machine load: once on one torch thread (the server's `VERITY_SERVE_THREADS`
   default) and once on torch's default; the floor is whichever has the lower p50 in the run.
4. Concurrency 8 from 8 threads: questions the server has never seen, made by a rule: each dev question
   behind a lead-in of `LEADS` ("Quick question: Which state ...?"), one pass per lead-in. The server's
   caches are keyed by the question's text, so each is a new question to it. Then a fresh server for one
   more pass (`_first_pass`): the same questions behind another lead-in, on a server that has not read
   the sentences their answers rest on (the run before follows the concurrency-1 pass, which had).
5. `verity_query_time_sentences_total` read from `/metrics` after the run: corpus sentences embedded or
   parsed while answering, 0 on a current index.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import bench_scale  # a sibling script: scripts/ is on the path whether bench.py imports this or it runs
import httpx

ROOT = Path(__file__).resolve().parent.parent
NEWS = ROOT.parent / "shared" / "news"
SETS = ("answerable", "unanswerable")
# never-seen questions at concurrency 8: a dev question behind one of these, one pass per lead-in
LEADS = ("Quick question: ", "I'd like to know: ", "Please tell me: ", "One more: ")
FRESH_LEAD = "Tell me: "  # the fresh server's pass (`_first_pass`), unlike any of `LEADS`
_COUNTER = re.compile(r'^verity_query_time_sentences_total\{work="(\w+)"\}\s+(\S+)', re.M)


def available(news: Path) -> bool:
    return (news / "dev" / "corpus").is_dir() and all((news / "dev" / f"{s}.jsonl").is_file() for s in SETS)


def questions(news: Path, limit: int = 0) -> list[dict[str, Any]]:
    """The dev questions of both sets, each with its set's name; `limit` keeps about half from each."""
    out: list[dict[str, Any]] = []
    for i, name in enumerate(SETS):
        rows = [json.loads(ln) for ln in (news / "dev" / f"{name}.jsonl").read_text().splitlines() if ln]
        keep = len(rows) if not limit else (limit + 1 - i) // 2
        out += [{"set": name, "question": r["question"], "as_of": r.get("as_of")} for r in rows[:keep]]
    return out


def corpus(news: Path, work: Path, articles: int) -> Path:
    """The dev corpus folder, or a folder holding its first `articles` articles."""
    source = news / "dev" / "corpus"
    if not articles:
        return source
    folder = work / "corpus"
    folder.mkdir(parents=True, exist_ok=True)
    lines = (source / "articles.jsonl").read_text().splitlines(keepends=True)
    (folder / "articles.jsonl").write_text("".join(lines[:articles]))
    return folder


def counters(metrics: str) -> dict[str, float]:
    return {work: float(n) for work, n in _COUNTER.findall(metrics)}


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def index_worker(corpus_dir: Path, data: Path, sample: int = 0) -> dict[str, Any]:
    """Index `corpus_dir` into `data` as `verity index` does; raw-encode the same sentence texts beside it
    (all of them, or a fixed random `sample` of them)."""
    import os

    from index.loaders import load_documents
    from index.split import split_passages
    from service.answering.pipeline import Verity
    from service.config import Settings

    t = time.perf_counter()
    documents = load_documents(corpus_dir)
    load_seconds = time.perf_counter() - t
    settings = Settings(data_dir=data, corpus_dir=corpus_dir, _env_file=None)  # type: ignore[call-arg]
    verity = Verity(settings)
    spp = settings.sentences_per_passage
    sentences = [s.text for d in documents for p in split_passages(d, spp) for s in p.sentences]
    texts = list(dict.fromkeys(sentences))  # what the indexer embeds: each distinct sentence once
    model = verity.embedder.llama._model  # the loaded SentenceTransformer, called directly for "raw"
    batch = settings.embed_batch_size
    verity.embedder.encode(texts[:256])  # a warm model for both measurements: first batches run slow
    verity.analyzer.parse(texts[:64])

    def raw(half: list[str]) -> tuple[float, float]:
        t, cpu = time.perf_counter(), _cpu()
        model.encode(half, batch_size=batch, show_progress_bar=False)
        return time.perf_counter() - t, _cpu() - cpu

    raw_texts = texts if not sample or sample >= len(texts) else random.Random(0).sample(texts, sample)
    halves = (raw_texts[0::2], raw_texts[1::2])
    raw_before = raw(halves[0])
    embedded: list[str] = []
    spent = {"encode": 0.0, "parse": 0.0}
    encode, analyse = verity.embedder.encode, verity.analyzer.analyse

    def timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(batch_texts: list[str], **options: Any) -> Any:
            if name == "encode":
                embedded.extend(batch_texts)
            t = time.perf_counter()
            try:
                return fn(batch_texts, **options)
            finally:
                spent[name] += time.perf_counter() - t

        return wrapper

    verity.embedder.encode = timed("encode", encode)  # type: ignore[method-assign]
    verity.analyzer.analyse = timed("parse", analyse)  # type: ignore[method-assign]
    load_before, t, cpu = os.getloadavg(), time.perf_counter(), _cpu()
    summary = verity.index(documents, prune=True, progress=False)
    seconds, index_cpu, load_after = time.perf_counter() - t, _cpu() - cpu, os.getloadavg()
    verity.embedder.encode, verity.analyzer.analyse = encode, analyse  # type: ignore[method-assign]
    raw_after = raw(halves[1])
    raw_seconds = raw_before[0] + raw_after[0]
    n = len(embedded)
    return {
        "documents": summary.documents,
        "passages": summary.passages,
        "duplicates": summary.duplicates,
        "sentences": n,
        "same_texts": set(embedded) == set(texts),
        "all_sentences": len(sentences),
        "load_seconds": load_seconds,
        "index_seconds": seconds,
        "index_rate": n / seconds,
        "index_cores": index_cpu / seconds,
        "encode_share": spent["encode"] / seconds,
        "parse_share": spent["parse"] / seconds,  # on the writer thread, beside the model
        "raw_sentences": len(raw_texts),
        "raw_seconds": raw_seconds,
        "raw_rate": len(raw_texts) / raw_seconds,
        "raw_rates": [len(h) / s for h, (s, _) in zip(halves, (raw_before, raw_after), strict=True)],
        "raw_cores": (raw_before[1] + raw_after[1]) / raw_seconds,
        "batch_size": batch,
        "loadavg": [load_before, load_after],
        "peak_mib": bench_scale.peak_mib(),
    }


def run_index(corpus_dir: Path, data: Path, log: Path, env: dict[str, str], sample: int) -> dict[str, Any]:
    out = data.parent / "index.json"
    with log.open("wb") as f:
        code = subprocess.call(
            [sys.executable, __file__, "index", "--corpus", str(corpus_dir), "--data", str(data)]
            + ["--out", str(out), "--encode-sample", str(sample)],
            cwd=ROOT,
            env=env,
            stdout=f,
            stderr=f,
        )
    if code != 0:
        raise RuntimeError(f"bench_news.py index failed ({code}):\n{log.read_text(errors='replace')[-3000:]}")
    result: dict[str, Any] = json.loads(out.read_text())
    return result


def news_bench(
    work: Path,
    news: Path,
    make_server: Callable[[Path, Path, Path], Any],
    make_floor: Callable[[Path], Any],
    percentiles: Callable[[list[float]], dict[str, float]],
    env: dict[str, str],
    articles: int = 0,
    limit: int = 0,
    c8_rounds: int = 3,
    encode_sample: int = 0,
) -> dict[str, Any]:
    """Index, cold-start, then /v1/ask at concurrency 1 (beside the floor) and 8; see the module docstring.

    `make_server(data_dir, log, corpus_dir)` is `bench.Server`, `make_floor(chroma_dir)` `bench.Floor`.
    """
    work.mkdir(parents=True, exist_ok=True)
    source, data = corpus(news, work, articles), work / "data"
    items = questions(news, limit)
    out: dict[str, Any] = {
        "corpus": str(source),
        "articles": articles,
        "limit": limit,
        "c8_rounds": c8_rounds,
    }
    print(f"news: indexing {source} ...", flush=True)
    out["index"] = run_index(source, data, work / "index.log", env, encode_sample)
    shutil.copytree(data / "chroma", work / "floor-chroma")  # the same collection, for the floor
    cold = []
    server_log = work / "server.log"  # of the server running: the fresh pass's has its own
    try:
        for i in range(2):
            print(f"news: cold start {i + 1}/2 ...", flush=True)
            server = make_server(data, work / "server.log", source)
            cold.append(server.start())
            if i == 0:
                server.stop()
        out["cold"] = cold
        out.update(_ask(server, items, make_floor(work / "floor-chroma"), percentiles, c8_rounds))
        out["server_peak_mib"] = server.peak_mib()
        server.stop()
        print("news: concurrency 8 on a fresh server, one pass ...", flush=True)
        server_log = work / "server-fresh.log"
        server = make_server(data, server_log, source)
        server.start()
        out["c8_fresh"] = _first_pass(server, items)
    except Exception:
        print(server_log.read_text(errors="replace")[-3000:], file=sys.stderr)
        raise
    finally:
        server.stop()
    out["questions"] = {s: sum(it["set"] == s for it in items) for s in SETS}
    return out


def _first_pass(server: Any, items: list[dict[str, Any]]) -> dict[str, Any]:
    """One pass of the dev questions at concurrency 8 (behind `FRESH_LEAD`) on a server that has answered
    nothing but its warm-up: the questions are new and so are the corpus sentences their answers rest on,
    whose parses, reader features and span vectors the server builds on first touch and then keeps. The
    main concurrency-8 run follows the concurrency-1 pass over the same questions, so it measures a server
    that has read those sentences before."""
    jobs = [(FRESH_LEAD + it["question"], it["as_of"]) for it in items]
    with httpx.Client(timeout=300) as client:
        results, wall, used = _at_concurrency_8(server, client, jobs)
    return {
        "requests": len(jobs),
        "wall": wall,
        "rate": len(jobs) / wall,
        "server_cpu_ms": 1000 * used / len(jobs),
        "errors": sum(code != 200 for _, code, _ in results),
        "lead": FRESH_LEAD,
    }


def _post(client: httpx.Client, url: str, question: str, as_of: str | None) -> tuple[int, str]:
    """`/v1/ask`: the HTTP status and the response's status (or what went wrong)."""
    try:
        r = client.post(f"{url}/v1/ask", json={"question": question, "as_of": as_of})
    except httpx.HTTPError as exc:
        return 0, type(exc).__name__
    return r.status_code, str(r.json().get("status")) if r.status_code == 200 else r.text[:200]


def _at_concurrency_8(
    server: Any, client: httpx.Client, jobs: list[tuple[str, str | None]]
) -> tuple[list[tuple[float, int, str]], float, float]:
    """`jobs` from 8 threads sharing `client`: each request's (seconds, HTTP status, status), the wall
    time and the server's CPU seconds (its parse worker's included)."""

    def one(job: tuple[str, str | None]) -> tuple[float, int, str]:
        t = time.perf_counter()
        code, status = _post(client, server.url, *job)
        return time.perf_counter() - t, code, status

    started, cpu = time.perf_counter(), server.cpu_seconds()
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(one, jobs))
    return results, time.perf_counter() - started, server.cpu_seconds() - cpu


def _ask(
    server: Any,
    items: list[dict[str, Any]],
    floor: Any,
    percentiles: Callable[[list[float]], dict[str, float]],
    c8_rounds: int,
) -> dict[str, Any]:
    import torch

    threads = sorted({1, torch.get_num_threads()})
    times: dict[str, list[float]] = {**{f"floor@{n}": [] for n in threads}, **{s: [] for s in SETS}}
    statuses: dict[str, dict[str, int]] = {s: {} for s in SETS}
    errors: list[str] = []
    with httpx.Client(timeout=300) as client:
        before = counters(client.get(f"{server.url}/metrics").text)
        for n in threads:
            torch.set_num_threads(n)
            for q in ("warm up the floor", "a question nobody asks?", "What happened this week?"):
                floor(q)
        print(f"news: concurrency 1, {len(items)} questions ...", flush=True)
        for it in items:
            t = time.perf_counter()
            code, status = _post(client, server.url, it["question"], it["as_of"])
            took = time.perf_counter() - t
            for n in threads:
                torch.set_num_threads(n)
                t = time.perf_counter()
                floor(it["question"])
                times[f"floor@{n}"].append(time.perf_counter() - t)
            torch.set_num_threads(threads[-1])
            if code != 200:
                errors.append(f"{code}: {status}")
                continue
            times[it["set"]].append(took)
            statuses[it["set"]][status] = statuses[it["set"]].get(status, 0) + 1

        jobs = [(lead + it["question"], it["as_of"]) for lead in LEADS[:c8_rounds] for it in items]
        print(f"news: concurrency 8, {len(jobs)} never-seen questions ...", flush=True)
        c8, wall, c8_cpu = _at_concurrency_8(server, client, jobs)
        after = counters(client.get(f"{server.url}/metrics").text)
    ok = [t for t, code, _ in c8 if code == 200]
    c8_errors = [f"{code}: {s}" for _, code, s in c8 if code != 200]
    both = times["answerable"] + times["unanswerable"]
    floors = {n: percentiles(times[f"floor@{n}"]) for n in threads}
    fastest = min(threads, key=lambda n: floors[n]["p50"])
    return {
        "c1": {**{s: percentiles(times[s]) for s in SETS if times[s]}, "all": percentiles(both)},
        "floor": floors[fastest],
        "floor_threads": fastest,
        "floors": floors,
        "statuses": statuses,
        "c1_errors": errors,
        "c8": percentiles(ok) if ok else {},
        "c8_requests": len(c8),
        "c8_wall": wall,
        "c8_rate": len(c8) / wall,
        "c8_ok_rate": len(ok) / wall,
        "c8_server_cpu_ms": 1000 * c8_cpu / len(c8),
        "c8_statuses": {
            s: sum(x == s for _, c, x in c8 if c == 200) for s in sorted({x for _, c, x in c8 if c == 200})
        },
        "c8_errors": c8_errors,
        "counter_before": before,
        "counter_after": after,
        "leads": list(LEADS[:c8_rounds]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("step", choices=["index"])
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--encode-sample", type=int, default=0, help="sentences raw-encoded (0: all)")
    args = parser.parse_args()
    result = index_worker(args.corpus, args.data, args.encode_sample)
    args.out.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
