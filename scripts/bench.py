"""Measure Verity and write docs/BENCHMARKS.md: every figure beside its floor, measured in the same run.

    make bench                                   # seeds and news over HTTP, then scale at 1k, 10k, 100k
    make bench SCALE=1000,10000,100000,300000    # opt in to larger sizes
    .venv/bin/python scripts/bench.py --scale 1000 --budget-minutes 10 --out /tmp/b.md
    .venv/bin/python scripts/bench.py --parts news          # the news corpus alone (about 30 minutes)
    .venv/bin/python scripts/bench.py --scale none          # seeds and news, no generated sizes
    .venv/bin/python scripts/bench.py --parts news --news-articles 60 --news-questions 20 --out /tmp/b.md

`--parts` chooses among `seeds`, `news` and `scale` (default: all three); `--scale none` (or an empty
`--scale ""`) runs no generated size. A run of only some parts, or of a slice of the news corpus, writes
its report (say which parts ran) but leaves the README's figures alone: those come from a whole run.

1. `/v1/ask` over HTTP: `verity serve` as a subprocess (temp `VERITY_DATA_DIR`, free `VERITY_PORT`)
   on the seeds corpus, the dev questions at concurrency 1 and 8. Beside it, in rounds that alternate
   with the HTTP requests: the floor (raw `SentenceTransformer.encode([q])` + one `collection.query`)
   and llama-index's stock path (`VectorStoreIndex` over the same Chroma collection,
   `as_retriever().retrieve()`), both on a copy of the server's store.
2. Cold start: `verity serve` to a ready `/healthz`, on an empty store (indexes seeds/) and an indexed one.
3. News (`bench_news.py`, when `../shared/news` is there): the dev corpus indexed into a store of its own,
   beside raw encode of the sentences it embeds; a fresh server's cold start; the dev questions, never
   seen, at concurrency 1 beside the floor on the same collection, and at concurrency 8; the query-time
   work counter from `/metrics`.
4. Scale (`bench_scale.py`, a fresh process per size and step): a generated corpus (`gen_corpus.py`) at
   each size: indexing time and sentences/s beside raw encode of the same sentences, query p50, peak memory.
   A size whose estimated time would overrun `--budget-minutes` is skipped, and the report says so.
5. A pyinstrument profile for every target missed, with what would close it (`bench_report.py`).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_news  # noqa: E402  (sibling scripts)
import bench_report  # noqa: E402
import bench_scale  # noqa: E402
from bench_scale import variant  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
REPORT = ROOT / "docs" / "BENCHMARKS.md"  # the README's figures follow this report only
PASSED: dict[str, str] = {}  # VERITY_* settings every process of the run gets (`--reader-model`)


def percentiles(seconds: list[float]) -> dict[str, float]:
    ms = np.asarray(seconds) * 1000
    return {
        "n": len(seconds),
        "p50": float(np.percentile(ms, 50)),
        "p95": float(np.percentile(ms, 95)),
        "p99": float(np.percentile(ms, 99)),
        "mean": float(ms.mean()),
    }


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without the caller's VERITY_* settings (an LLM URL would change what is measured)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VERITY_")}
    env.update(HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false", **PASSED)
    env.update(extra)
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """`verity serve` on a free port with its own data dir; `start()` returns seconds to a ready /healthz."""

    def __init__(self, data_dir: Path, log: Path, corpus_dir: Path = ROOT / "seeds", **env: str) -> None:
        self.data_dir, self.log, self.corpus_dir, self.env = data_dir, log, corpus_dir, env
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 900) -> float:
        env = clean_env(
            VERITY_DATA_DIR=str(self.data_dir),
            VERITY_PORT=str(self.port),
            VERITY_CORPUS_DIR=str(self.corpus_dir),
            VERITY_LOG_LEVEL="warning",
            VERITY_RATE_LIMIT_PER_MINUTE="0",  # a benchmark measures capacity, not the per-client limiter
            **self.env,
        )
        self.data_dir.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        with self.log.open("ab") as log:  # cwd: the data dir, so no developer's .env is read
            self.process = subprocess.Popen(
                [str(BIN / "verity"), "serve"], cwd=self.data_dir, env=env, stdout=log, stderr=log
            )
        with httpx.Client(timeout=5) as client:
            while time.perf_counter() - started < timeout:
                if self.process.poll() is not None:
                    raise RuntimeError(f"verity serve exited ({self.process.returncode}); see {self.log}")
                try:
                    health = client.get(f"{self.url}/healthz")
                except httpx.TransportError:
                    health = None
                if health is not None and health.status_code == 200:
                    return time.perf_counter() - started
                if health is not None and _failed(health):  # it will not become ready: say why now
                    self.stop()
                    raise RuntimeError(f"verity serve is not ready: {health.text}; see {self.log}")
                time.sleep(0.02)
        raise TimeoutError(f"verity serve not ready after {timeout}s; see {self.log}")

    def peak_mib(self) -> float:
        """The peak RSS of the server and of its child processes (its parse worker), added up."""
        assert self.process is not None
        total = 0.0
        for pid in _family(self.process.pid):
            with contextlib.suppress(OSError):  # a child gone meanwhile
                total += bench_scale.status_mib("VmHWM", pid)
        return total

    def cpu_seconds(self) -> float:
        """User + system CPU time so far of the server and of its child processes (its parse worker)."""
        assert self.process is not None
        total = 0
        for pid in _family(self.process.pid):
            with contextlib.suppress(OSError):  # a child gone meanwhile
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])
        return total / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


def _family(pid: int) -> list[int]:
    """A process and its descendants (Linux: each thread's `children` file in /proc)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        for children in Path(f"/proc/{p}/task").glob("*/children"):
            with contextlib.suppress(OSError):
                todo.extend(int(c) for c in children.read_text().split())
    return out


def _failed(health: httpx.Response) -> bool:
    try:
        body = health.json()
    except ValueError:
        return False
    detail = str(body.get("detail", ""))
    return body.get("status") == "outdated" or (
        detail.startswith("startup failed") and "retrying" not in detail
    )


class Floor:
    """The floor of one answer: the question embedded by the bundled model (`SentenceTransformer.encode`,
    no cache) plus one `collection.query` of the passage collection, k = the dense retriever's k. Opened
    on a copy of a server's Chroma store, so the server's collection and this one are the same size."""

    def __init__(self, chroma_dir: Path) -> None:
        import chromadb
        from chromadb.config import Settings as ChromaSettings
        from sentence_transformers import SentenceTransformer

        from index.embed import default_model_path
        from service.config import RetrievalSettings

        self.k = RetrievalSettings().dense_top_k
        client = chromadb.PersistentClient(
            path=str(chroma_dir), settings=ChromaSettings(anonymized_telemetry=False)
        )
        self.collection = client.get_collection("verity")
        self.model = SentenceTransformer(default_model_path(), device="cpu")

    def __call__(self, question: str) -> None:
        self.collection.query(query_embeddings=self.model.encode([question]), n_results=self.k)


def dev_questions() -> list[str]:
    items = [
        json.loads(line) for line in (ROOT / "seeds" / "eval-dev.jsonl").read_text().splitlines() if line
    ]
    return [it["question"] for it in items if it["kind"] in ("answer", "unanswerable", "false_premise")]


def http_bench(work: Path, rounds: int, c8_rounds: int) -> dict[str, Any]:
    """Cold starts, then /v1/ask at concurrency 1 (alternating with the floor and the stock path) and 8."""
    questions = dev_questions()
    data, log = work / "http", work / "server.log"
    out: dict[str, Any] = {"questions": len(questions), "rounds": rounds}
    server = Server(data, log)
    print("cold start on an empty store (indexes seeds/) ...", flush=True)
    out["cold_empty"] = server.start()
    server.stop()
    shutil.copytree(data / "chroma", work / "floor-chroma")  # the same collection, for the in-process paths
    warm = []
    for i in range(3):
        print(f"cold start on the indexed store ({i + 1}/3) ...", flush=True)
        server = Server(data, log)
        warm.append(server.start())
        if i < 2:
            server.stop()
    out["cold_indexed"] = warm
    try:
        out.update(_latency(server, questions, work / "floor-chroma", rounds, c8_rounds))
        out["server_peak_mib"] = server.peak_mib()
    finally:
        server.stop()
    return out


def _latency(
    server: Server, questions: list[str], chroma_dir: Path, rounds: int, c8_rounds: int
) -> dict[str, Any]:
    from llama_index.core import VectorStoreIndex
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding
    from llama_index.vector_stores.chroma import ChromaVectorStore

    from index.embed import default_model_path

    floor = Floor(chroma_dir)
    k = floor.k
    stock = VectorStoreIndex.from_vector_store(
        ChromaVectorStore(chroma_collection=floor.collection),
        embed_model=HuggingFaceEmbedding(model_name=default_model_path(), device="cpu"),
    ).as_retriever(similarity_top_k=k)

    def http(q: str) -> tuple[str, str]:
        r = http_client.post(f"{server.url}/v1/ask", json={"question": q})
        r.raise_for_status()
        body = r.json()
        return str(body["status"]), str(body["answer"])

    times: dict[str, list[float]] = {"fresh": [], "http": [], "repeat": [], "floor": [], "stock": []}
    answers: dict[str, tuple[str, str]] = {}
    same = 0
    with httpx.Client(timeout=300) as http_client:
        for q in questions[:3]:  # load what each path loads lazily; the server warmed itself up
            floor(q)
            stock.retrieve(q)
        print("concurrency 1, first sight of each question ...", flush=True)
        for q in questions:
            t = time.perf_counter()
            answers[q] = http(q)
            times["fresh"].append(time.perf_counter() - t)
        for r in range(1, rounds + 1):
            print(f"concurrency 1, round {r}/{rounds} ...", flush=True)
            for q in questions:
                t = time.perf_counter()
                got = http(variant(q, r))
                times["http"].append(time.perf_counter() - t)
                same += got == answers[q]
            for name, call in (("floor", floor), ("stock", stock.retrieve)):
                for q in questions:
                    v = variant(q, r)
                    t = time.perf_counter()
                    call(v)
                    times[name].append(time.perf_counter() - t)
        for q in questions:
            t = time.perf_counter()
            http(q)
            times["repeat"].append(time.perf_counter() - t)

        print("concurrency 8 ...", flush=True)
        jobs = [variant(q, r) for r in range(rounds + 1, rounds + 1 + c8_rounds) for q in questions]
        c8: list[tuple[float, str]] = []

        def one(q: str) -> tuple[float, str]:
            t = time.perf_counter()
            status, _ = http(q)
            return time.perf_counter() - t, status

        started, cpu = time.perf_counter(), server.cpu_seconds()
        with ThreadPoolExecutor(8) as pool:
            c8 = list(pool.map(one, jobs))
        wall = time.perf_counter() - started
        c8_cpu = server.cpu_seconds() - cpu
    out: dict[str, Any] = {name: percentiles(ts) for name, ts in times.items()}
    statuses = [status for status, _ in answers.values()]
    out["first_statuses"] = {s: statuses.count(s) for s in sorted(set(statuses))}
    out["same_answers"] = same
    out["c8"] = percentiles([t for t, _ in c8])
    out["c8_wall"] = wall
    out["c8_rate"] = len(c8) / wall
    out["c8_server_cpu_ms"] = 1000 * c8_cpu / len(c8)  # per request, all of the server's threads
    out["c8_answered_rate"] = sum(s == "answered" for _, s in c8) / wall
    out["c8_statuses"] = {s: sum(x == s for _, x in c8) for s in sorted({s for _, s in c8})}
    out["k"] = k
    return out


def breakdown(work: Path, profile: bool) -> dict[str, Any]:
    """The pipeline in-process on a copy of the server's store: time per stage, and a profile."""
    from index.embed import limit_threads
    from service.answering.pipeline import Verity
    from service.config import Settings

    data = work / "inproc"
    shutil.copytree(work / "floor-chroma", data / "chroma")
    settings = Settings(data_dir=data, corpus_dir=ROOT / "seeds", _env_file=None)  # type: ignore[call-arg]
    verity = Verity(settings)
    # on the threads `verity serve` runs with (service/http/app.py); the rest of the bench keeps its own
    restore = limit_threads(settings.serve_threads) if settings.serve_threads else None
    try:
        return _breakdown(verity, profile)
    finally:
        if restore is not None:
            restore()


def _breakdown(verity: Any, profile: bool) -> dict[str, Any]:
    verity.warm_up()
    questions = dev_questions()
    for q in questions:  # the corpus sentences these questions reach, scored and parsed once
        verity.ask(q)
    spent: dict[str, list[float]] = {}

    def timed(name: str, fn: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            t = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                spent.setdefault(name, []).append(time.perf_counter() - t)

        return wrapper

    stages = {
        "premise check (its retrievals included)": (verity, "_check_premises"),
        "retrieve: dense + BM25 + fusion (each call)": (verity.retriever, "retrieve"),
        "read: candidates, signals, learned reader": (verity.sentences, "read"),
        "compose: select sentences": (verity.composer, "compose"),
        "model forward (Embedder.encode: the traced graph for a question)": (verity.embedder, "encode"),
        "spaCy parse (cache misses)": (verity.parser._batcher, "_run"),
    }
    originals = {name: getattr(obj, attr) for name, (obj, attr) in stages.items()}
    for name, (obj, attr) in stages.items():
        setattr(obj, attr, timed(name, originals[name]))
    asks = []
    for q in questions:
        t = time.perf_counter()
        verity.ask(variant(q, 1))  # a new question, as measured over HTTP
        asks.append(time.perf_counter() - t)
    for name, (obj, attr) in stages.items():
        setattr(obj, attr, originals[name])
    n = len(questions)
    out: dict[str, Any] = {
        "ask": percentiles(asks),
        "stages": {name: (sum(ts) * 1000 / n, len(ts) / n) for name, ts in spent.items()},
    }
    if profile:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.001)
        profiler.start()
        for q in questions:
            verity.ask(variant(q, 2))
        profiler.stop()
        out["profile"] = profiler.output_text(unicode=False, color=False, show_all=False)
        out["packages"] = bench_report.package_shares(profiler)
    return out


def scale_step(step: str, root: Path, *args: str) -> dict[str, Any]:
    log = root / f"{step}.log"
    root.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as f:
        code = subprocess.call(
            [sys.executable, str(ROOT / "scripts" / "bench_scale.py"), step, "--dir", str(root), *args],
            cwd=ROOT,
            env=clean_env(),
            stdout=f,
            stderr=f,
        )
    if code != 0:
        tail = log.read_text(errors="replace")[-3000:]
        raise RuntimeError(f"bench_scale.py {step} failed ({code}):\n{tail}")
    result: dict[str, Any] = json.loads((root / f"{step}.json").read_text())
    return result


def scale_bench(
    work: Path, sizes: list[int], deadline: float, budget: float, encode_sample: int
) -> dict[str, Any]:
    runs: dict[str, Any] = {}
    skipped: dict[str, str] = {}
    rate: float | None = None
    for n in sizes:
        left = deadline - time.monotonic()
        # at the last size's indexing rate: index n, raw-encode the sample, and ~2 min to open and ask
        need = (n + min(n, encode_sample)) / rate * 1.1 + 120 if rate else 0.0
        if need > left:
            skipped[str(n)] = (
                f"estimated {need / 60:.0f} min at the {rate:.0f} passages/s indexed at the previous size; "
                f"{max(left, 0) / 60:.0f} min of the {budget:.0f}-minute budget left"
            )
            print(f"scale {n}: skipped ({skipped[str(n)]})", flush=True)
            continue
        print(f"scale {n}: indexing ...", flush=True)
        root = work / f"scale-{n}"
        indexed = scale_step("index", root, "--passages", str(n), "--encode-sample", str(encode_sample))
        print(f"scale {n}: serving ...", flush=True)
        served = scale_step("serve", root, "--profile")
        runs[str(n)] = {"index": indexed, "serve": served}
        rate = indexed["index_rate"]
        shutil.rmtree(root / "data", ignore_errors=True)
    return {"runs": runs, "skipped": skipped, "encode_sample": encode_sample}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--parts", default="seeds,news,scale", help="which parts to run: seeds, news, scale (comma-separated)"
    )
    parser.add_argument(
        "--scale", default="1000,10000,100000", help="passage counts, comma-separated; none (or '') for none"
    )
    parser.add_argument(
        "--budget-minutes", type=float, default=30, help="skip scale sizes that would overrun"
    )
    parser.add_argument(
        "--rounds", type=int, default=4, help="passes over the dev questions at concurrency 1"
    )
    parser.add_argument(
        "--c8-rounds", type=int, default=8, help="passes over the dev questions at concurrency 8"
    )
    parser.add_argument(
        "--encode-sample", type=int, default=3000, help="passages raw-encoded per size (at most)"
    )
    parser.add_argument("--news-dir", type=Path, default=bench_news.NEWS, help="the shared news data")
    parser.add_argument(
        "--news-articles", type=int, default=0, help="index only the first N articles (0: all 583)"
    )
    parser.add_argument(
        "--news-questions", type=int, default=0, help="about N dev questions, half from each set (0: all)"
    )
    parser.add_argument(
        "--news-c8-rounds",
        type=int,
        default=3,
        choices=range(1, len(bench_news.LEADS) + 1),
        help="passes over the dev questions at concurrency 8, each with its own lead-in",
    )
    parser.add_argument(
        "--news-encode-sample",
        type=int,
        default=6000,
        help="sentences raw-encoded beside news indexing, a fixed random sample (0: all of them)",
    )
    parser.add_argument(
        "--reader-model",
        type=Path,
        help="the reader artifact every process uses (default: models/reader.json)",
    )
    parser.add_argument("--out", type=Path, default=REPORT)
    parser.add_argument("--render", type=Path, metavar="JSON", help="only re-render the report from results")
    args = parser.parse_args()
    if args.render:
        earlier = json.loads(args.render.read_text())
        earlier.setdefault("parts", ["seeds", "scale"])  # results of a run from before the news part
        args.out.write_text(bench_report.render(earlier))
        if args.out.resolve() == REPORT and whole(earlier):
            update_readme(earlier)
        return
    if args.reader_model:
        PASSED["VERITY_READER_MODEL"] = os.environ["VERITY_READER_MODEL"] = str(args.reader_model.resolve())
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    if not parts or set(parts) - {"seeds", "news", "scale"}:
        parser.error(f"--parts: choose among seeds, news, scale (got {args.parts!r})")
    scale = args.scale.strip().lower()
    sizes = [] if scale in ("", "none") else [int(s) for s in scale.split(",") if s.strip()]
    if not sizes and "scale" in parts:
        parts.remove("scale")  # no generated size: the report says the scale part was not run
    started = time.monotonic()
    deadline = started + args.budget_minutes * 60
    results: dict[str, Any] = {
        "command": " ".join(["scripts/bench.py", *sys.argv[1:]]),
        "parts": parts,
        "revision": revision(),
        "machine_start": bench_report.machine(),
    }
    with tempfile.TemporaryDirectory(prefix="verity-bench-") as tmp:
        work = Path(tmp)
        if "seeds" in parts:
            results["http"] = http_bench(work, args.rounds, args.c8_rounds)
            h = results["http"]
            missed_latency = h["http"]["p50"] > 3 * h["floor"]["p50"] or h["c8_rate"] < 50
            print("in-process breakdown ...", flush=True)
            results["breakdown"] = breakdown(work, profile=missed_latency)
        if "news" in parts:
            results["news"] = news(work / "news", args)
        if "scale" in parts:
            results["scale"] = scale_bench(work, sizes, deadline, args.budget_minutes, args.encode_sample)
            runs = results["scale"]["runs"]
            if any(r["index"]["sentence_rate"] < 0.75 * r["index"]["raw_rate"] for r in runs.values()):
                print("profiling indexing ...", flush=True)
                results["index_profile"] = scale_step(
                    "profile-index", work / "profile-index", "--passages", "1000"
                )
        results["seconds"] = time.monotonic() - started
        results["machine_end"] = bench_report.machine()
    (ROOT / "test-output").mkdir(exist_ok=True)
    (ROOT / "test-output" / "bench.json").write_text(json.dumps(results, indent=1))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(bench_report.render(results))
    if args.out.resolve() == REPORT and whole(results):
        update_readme(results)
    print(f"wrote {args.out} ({results['seconds'] / 60:.1f} min)")


def news(work: Path, args: argparse.Namespace) -> dict[str, Any]:
    if not bench_news.available(args.news_dir):
        print(f"news: skipped ({args.news_dir} has no dev corpus and questions)", flush=True)
        return {"skipped": f"`{args.news_dir}` has no `dev/corpus` and dev questions"}
    return bench_news.news_bench(
        work,
        args.news_dir,
        lambda data, log, corpus: Server(data, log, corpus_dir=corpus),
        Floor,
        percentiles,
        clean_env(),
        articles=args.news_articles,
        limit=args.news_questions,
        c8_rounds=args.news_c8_rounds,
        encode_sample=args.news_encode_sample,
    )


def revision() -> str | None:
    """The commit measured, with a note when tracked files differ from it."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return f"{head} (with uncommitted changes)" if dirty else head


def whole(results: dict[str, Any]) -> bool:
    """Every part ran, the news corpus whole: only such a run's figures go into the README."""
    n = results.get("news", {})
    return (
        set(results["parts"]) == {"seeds", "news", "scale"} and not n.get("articles") and not n.get("limit")
    )


def update_readme(results: dict[str, Any]) -> None:
    """Replace the figures between the README's bench markers, if it has them."""
    readme = ROOT / "README.md"
    text = readme.read_text()
    start, end = "<!-- bench:start -->", "<!-- bench:end -->"
    if start in text and end in text:
        head, rest = text.split(start, 1)
        tail = rest.split(end, 1)[1]
        readme.write_text(f"{head}{start}\n{bench_report.readme_block(results)}\n{end}{tail}")


if __name__ == "__main__":
    main()
