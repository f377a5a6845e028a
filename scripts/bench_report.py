"""Render the results of `scripts/bench.py` as docs/BENCHMARKS.md: the machine, the targets, the figures.

Nothing here measures or types in a figure: every number comes from the results of one run. The prose
that says what would close a missed target is chosen by which stage the run measured as the cost.
"""

from __future__ import annotations

import os
import platform
import time
from importlib import metadata
from pathlib import Path
from typing import Any

LIBRARIES = [
    "torch", "sentence-transformers", "transformers", "chromadb", "llama-index-core",
    "llama-index-vector-stores-chroma", "bm25s", "threadpoolctl", "spacy", "fastapi", "uvicorn", "httpx",
    "numpy",
]  # fmt: skip
PROFILE_LINES = 45


def machine() -> dict[str, Any]:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = next(
        (ln.split(":", 1)[1].strip() for ln in cpuinfo.splitlines() if ln.startswith("model name")), "?"
    )
    flags = next((ln.split(":", 1)[1].split() for ln in cpuinfo.splitlines() if ln.startswith("flags")), [])
    meminfo = {ln.split(":")[0]: ln.split()[1] for ln in Path("/proc/meminfo").read_text().splitlines()}
    versions = {}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    import torch

    return {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "cpu": model,
        "cpus": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)),
        "virtualised": "hypervisor" in flags,
        "vector": " ".join(
            f for f in ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile") if f in flags
        ),
        "ram_gib": int(meminfo.get("MemTotal", "0")) / 1024 / 1024,
        "python": platform.python_version(),
        "os": platform.platform(),
        "torch_threads": torch.get_num_threads(),
        "loadavg": os.getloadavg(),
        "versions": versions,
    }


def _ms(x: float) -> str:
    return f"{x:,.1f}"


def _fresh_pass(n: dict[str, Any]) -> list[str]:
    """The concurrency-8 pass on a fresh server (`bench_news._first_pass`), when the run has one."""
    f = n.get("c8_fresh")
    if not f:
        return []
    return [
        "",
        "**Concurrency 8 on a fresh server.** The run above follows the concurrency-1 pass over the same "
        "questions, so the corpus sentences their answers rest on had been read before (their parses, "
        "the reader's features and the span vectors of the short answer are built on first touch and "
        f"kept). One pass of the dev questions behind `{f['lead']}` on a server that had answered nothing "
        f"but its warm-up: **{f['rate']:.1f} requests/s** ({f['requests']} requests in {f['wall']:.1f} s, "
        f"{_count(f['errors'], 'error')}), {f['server_cpu_ms']:.1f} ms of server CPU per request. "
        "No target is set on it: issue 11's is the run above.",
    ]


def _count(n: int, what: str) -> str:
    return f"{n:,} {what}{'' if n == 1 else 's'}"


def _yes(ok: bool | None) -> str:
    return "not measured" if ok is None else ("**met**" if ok else "**missed**")


def _profile(text: str) -> str:
    lines = [ln for ln in text.splitlines() if ln.strip()]
    start = next((i for i, ln in enumerate(lines) if ln.lstrip()[:1].isdigit()), 0)
    body = lines[start : start + PROFILE_LINES]
    more = len(lines) - start - len(body)
    return "```\n" + "\n".join(body) + (f"\n... ({more} more lines)" if more > 0 else "") + "\n```\n"


def targets(r: dict[str, Any]) -> list[tuple[str, str, bool | None]]:
    rows = _seeds_targets(r["http"]) if "http" in r else []
    if _news_ran(r):
        rows += _news_targets(r["news"])
    if "scale" in r:
        rows += _scale_targets(r["scale"]["runs"])
    return rows


def _news_ran(r: dict[str, Any]) -> bool:
    return "news" in r and "skipped" not in r["news"]


def _news_targets(n: dict[str, Any]) -> list[tuple[str, str, bool | None]]:
    c1, floor, i = n["c1"]["all"], n["floor"]["p50"], n["index"]
    p50, p95 = c1["p50"] / floor, c1["p95"] / floor
    errors = len(n["c8_errors"]) + len(n["c1_errors"])
    work = n["counter_after"]
    share = i["index_rate"] / i["raw_rate"]
    return [
        (
            "news: `/v1/ask` p50 ≤ 4× the floor, fresh server, never-seen questions, concurrency 1",
            f"{p50:.1f}× ({_ms(c1['p50'])} ms vs {_ms(floor)} ms)",
            p50 <= 4,
        ),
        (
            "news: `/v1/ask` p95 ≤ 8× the floor (its p50), concurrency 1",
            f"{p95:.1f}× ({_ms(c1['p95'])} ms vs {_ms(floor)} ms)",
            p95 <= 8,
        ),
        (
            "news: ≥ 50 requests/s at concurrency 8, never-seen questions, no errors",
            f"{n['c8_rate']:.1f} requests/s, {_count(len(n['c8_errors']), 'error')} "
            f"({len(n['c1_errors'])} at concurrency 1)",
            n["c8_rate"] >= 50 and errors == 0,
        ),
        (
            "news: indexing ≥ 75% of raw encode throughput of the sentences it embeds",
            f"{share:.0%} ({i['index_rate']:.1f} vs {i['raw_rate']:.1f} sentences/s)",
            share >= 0.75,
        ),
        (
            "news: corpus sentences embedded or parsed while answering = 0",
            ", ".join(f"{int(v):,} {k}" for k, v in sorted(work.items())) or "counter not exported",
            bool(work) and not any(work.values()),
        ),
    ]


def _seeds_targets(h: dict[str, Any]) -> list[tuple[str, str, bool | None]]:
    ratio = h["http"]["p50"] / h["floor"]["p50"]
    return [
        (
            "seeds: `/v1/ask` p50 ≤ 3× the floor, concurrency 1",
            f"{ratio:.1f}× ({_ms(h['http']['p50'])} ms vs {_ms(h['floor']['p50'])} ms)",
            ratio <= 3,
        ),
        (
            "seeds: ≥ 50 answered requests/s, concurrency 8",
            f"{h['c8_rate']:.1f} requests/s ({h['c8_answered_rate']:.1f}/s with status `answered`)",
            h["c8_rate"] >= 50,
        ),
    ]


def _scale_targets(runs: dict[str, Any]) -> list[tuple[str, str, bool | None]]:
    rows: list[tuple[str, str, bool | None]] = []
    shares = {n: run["index"]["sentence_rate"] / run["index"]["raw_rate"] for n, run in runs.items()}
    rows.append(
        (
            "indexing ≥ 75% of raw encode throughput (generated corpus)",
            ", ".join(f"{s:.0%} at {int(n):,}" for n, s in shares.items()) or "no size run",
            all(s >= 0.75 for s in shares.values()) if shares else None,
        )
    )
    small, big = runs.get("1000"), runs.get("100000")
    if small and big:
        k = big["serve"]["ask_p50"] / small["serve"]["ask_p50"]
        rows.append(
            (
                "query p50 at 100k passages ≤ 2× p50 at 1k",
                f"{k:.2f}× ({_ms(big['serve']['ask_p50'] * 1000)} ms vs "
                f"{_ms(small['serve']['ask_p50'] * 1000)} ms)",
                k <= 2,
            )
        )
    else:
        rows.append(("query p50 at 100k passages ≤ 2× p50 at 1k", "100k (or 1k) not run: see Scale", None))
    if big:
        rows.append(
            (
                "peak memory serving at 100k passages ≤ 2 GiB",
                f"{big['serve']['peak_mib'] / 1024:.2f} GiB (indexing, not part of the target, peaks at "
                f"{big['index']['peak_mib'] / 1024:.2f} GiB)",
                big["serve"]["peak_mib"] <= 2048,
            )
        )
    else:
        rows.append(("peak memory serving at 100k passages ≤ 2 GiB", "100k not run: see Scale", None))
    return rows


def render(r: dict[str, Any]) -> str:
    m, m2 = r["machine_start"], r["machine_end"]
    parts = r.get("parts", ["seeds", "news", "scale"])
    left = [p for p in ("seeds", "news", "scale") if p not in parts]
    out = [
        "# Benchmarks\n",
        f"Written by `make bench` (`{r['command']}`) on {m['date']}, in {r['seconds'] / 60:.0f} minutes. "
        "Every figure below was measured in that one run, each beside its floor; nothing is typed in by "
        "hand. "
        "Absolute times drift between runs and with whatever else the machine is doing (see the load "
        "average); the ratios are the point, and each is taken from measurements interleaved in the same "
        "run. Raw results: `test-output/bench.json`."
        + (f" Code measured: commit `{r['revision']}`." if r.get("revision") else "")
        + (
            f" This run measured only {', '.join(parts)} (`--parts`); {', '.join(left)} "
            f"{'was' if len(left) == 1 else 'were'} not run, so {'its' if len(left) == 1 else 'their'} "
            "figures are absent here and the README's table still shows the last whole run's."
            if left
            else ""
        )
        + "\n",
        "## Machine\n",
        "| | |\n|---|---|",
        f"| CPU | {m['cpu']}{' (virtualised)' if m['virtualised'] else ''}, {m['cpus']} cores "
        f"({m['usable_cpus']} usable), {m['vector']} |",
        f"| RAM | {m['ram_gib']:.1f} GiB |",
        f"| OS / Python | {m['os']} / Python {m['python']} |",
        f"| torch threads | {m['torch_threads']} |",
        f"| load average (1/5/15 min) | at start {' / '.join(f'{x:.1f}' for x in m['loadavg'])}; "
        f"at end {' / '.join(f'{x:.1f}' for x in m2['loadavg'])} |",
        "| libraries | " + ", ".join(f"{k} {v}" for k, v in m["versions"].items()) + " |",
        "",
        "## Targets\n",
        "| target | measured | |\n|---|---|---|",
    ]
    out += [f"| {name} | {value} | {_yes(ok)} |" for name, value, ok in targets(r)]
    out.append("")
    if "http" in r:
        out += [*_http(r["http"], r["breakdown"]), *_cold(r["http"])]
    if "news" in r:
        out += _news(r["news"])
    if "scale" in r:
        out += [*_indexing(r["scale"]), *_scale(r["scale"])]
    out += _misses(r)
    return "\n".join(out) + "\n"


def readme_block(r: dict[str, Any]) -> str:
    """The README's headline figures (between its `bench:start` / `bench:end` markers)."""
    m = r["machine_start"]
    lines = [
        f"From `make bench` on {m['date']} ({m['cpu']}, {m['usable_cpus']} cores; load average "
        f"{m['loadavg'][0]:.1f} at the start). Full tables, the machine and profiles: "
        "[docs/BENCHMARKS.md](docs/BENCHMARKS.md).",
        "",
        "| target | measured | |",
        "|---|---|---|",
        *(f"| {name} | {value} | {_yes(ok)} |" for name, value, ok in targets(r)),
    ]
    return "\n".join(lines)


def _http(h: dict[str, Any], b: dict[str, Any]) -> list[str]:
    floor = h["floor"]["p50"]
    rows = [
        ("**`/v1/ask` over HTTP, concurrency 1**: a new question", h["http"]),
        ("`/v1/ask`, concurrency 1: fresh server, each question's first request", h["fresh"]),
        ("`/v1/ask`, concurrency 1: the same question again, verbatim", h["repeat"]),
        ("`/v1/ask` over HTTP, concurrency 8 (per request), a new question", h["c8"]),
        ("llama-index stock path: `VectorStoreIndex(...).as_retriever().retrieve(q)`", h["stock"]),
        ("**floor**: `SentenceTransformer.encode([q])` + one `collection.query`", h["floor"]),
    ]
    statuses = ", ".join(f"{n} {s}" for s, n in h["first_statuses"].items())
    out = [
        "## `/v1/ask` latency and throughput (seeds corpus, dev questions)\n",
        f"`verity serve` as a subprocess on the seeds corpus; the {h['questions']} `answer`, `unanswerable` "
        f"and `false_premise` questions of `seeds/eval-dev.jsonl` ({statuses}). Every corpus sentence's "
        "embedding and parse is stored at index time; the server caches those of the questions it has "
        "seen; "
        "the questions of concurrent requests share one model forward and one spaCy `pipe` call "
        "(`index/batching.py`), each forward on one torch thread (`VERITY_SERVE_THREADS=1`, the default). "
        "A live server has seen most corpus sentences but rarely the question, so after one pass over the "
        "questions (the *fresh server* row) every measured request is a *new question*: round r asks each "
        "question with r spaces before its `?`, a string the server has never seen but the same tokens "
        f"for the model and the same answer ({h['same_answers']} of {h['http']['n']} answers identical "
        "to the verbatim question's, checked in the run). "
        f"Concurrency 1: {h['rounds']} rounds; in each, every question over HTTP (one keep-alive "
        "connection), then the floor and the stock path for the same strings on a copy of the server's "
        "Chroma store, so all three see the same machine load. "
        f"Both in-process paths retrieve k = {h['k']}, the dense retriever's k. Concurrency 8: "
        f"{h['c8']['n']} new questions from 8 threads sharing one httpx client. The server's per-client "
        "rate limit is off (`VERITY_RATE_LIMIT_PER_MINUTE=0`): this measures capacity.\n",
        "| path | requests | p50 ms | p95 ms | p99 ms | p50 ÷ floor |\n|---|---|---|---|---|---|",
    ]
    for name, p in rows:
        out.append(
            f"| {name} | {p['n']} | {_ms(p['p50'])} | {_ms(p['p95'])} | {_ms(p['p99'])} "
            f"| {p['p50'] / floor:.1f}× |"
        )
    out += [
        "",
        f"Throughput at concurrency 8: **{h['c8_rate']:.1f} requests/s** ({h['c8']['n']} requests in "
        f"{h['c8_wall']:.1f} s; {', '.join(f'{n} {s}' for s, n in h['c8_statuses'].items())}), "
        f"{h['c8_answered_rate']:.1f}/s with status `answered` (every request was answered with a 200: "
        "an answer, or a refusal that says why; "
        f"{h['first_statuses'].get('refused', 0) / h['questions']:.0%} of the dev questions are meant "
        "to be refused). "
        + (
            f"The server used {h['c8_server_cpu_ms']:.1f} ms of CPU per request (all its threads and its "
            "parse worker's; the 8 client threads run in the bench process on the same cores). "
            if "c8_server_cpu_ms" in h
            else ""
        )
        + f"Server peak RSS (with its parse worker's): {h['server_peak_mib']:,.0f} MiB.\n",
        "### Where an answer's time goes (in-process, one request at a time)\n",
        "The pipeline built in the bench process on a copy of the same store, every dev question asked "
        "once verbatim, then measured as a new question (as above): "
        f"`Verity.ask` p50 {_ms(b['ask']['p50'])} ms. "
        "Stages are inclusive (the premise check contains its retrievals and model forwards).\n",
        "| stage | ms per question | calls per question |\n|---|---|---|",
    ]
    out += [f"| {name} | {_ms(ms)} | {calls:.2f} |" for name, (ms, calls) in b["stages"].items()]
    return [*out, ""]


def _cold(h: dict[str, Any]) -> list[str]:
    warm = ", ".join(f"{s:.1f}" for s in h["cold_indexed"])
    return [
        "## Cold start\n",
        "From spawning `verity serve` to the first 200 from `/healthz` (the server listens at once; ready "
        "means the models are loaded, the in-process BM25 index is built from Chroma and one question "
        "has been answered).\n",
        "| store | seconds |\n|---|---|",
        f"| empty: indexes `seeds/` first | {h['cold_empty']:.1f} |",
        f"| already indexed (3 starts) | {warm} |",
        "",
    ]


def _indexing(s: dict[str, Any]) -> list[str]:
    out = [
        "## Indexing throughput\n",
        "Each size indexed by `Verity.index` in a fresh process (load, clean, split, embed, write to Chroma, "
        "near-duplicate detection; the BM25 index is rebuilt by the next query, not here), "
        "then the same passages (all, or a fixed random sample of "
        f"{s['encode_sample']:,}) encoded by the same loaded `SentenceTransformer` with the same batch size, "
        "nothing else. *Model share* is the part of the indexing time spent inside the encoder, measured "
        "during indexing; it includes the time a forward is held up by the writer thread (below). The "
        "raw encode is of the very sentences the indexer embedded (`bench_scale.py`), all of them or a "
        "fixed sample. The indexer embeds and parses each distinct sentence text once (`index/indexer.py`), "
        "so *sentences* counts the texts it embedded, of all the corpus's sentences; the generated "
        "corpus's templates repeat many sentences verbatim (real news far fewer: see the news corpus "
        "above).\n",
        "| passages | documents | sentences embedded (of all) | indexing s | indexing sentences/s "
        "| raw encode sentences/s (n) "
        "| ratio | model share |\n|---|---|---|---|---|---|---|---|",
    ]
    for n, run in s["runs"].items():
        i = run["index"]
        out.append(
            f"| {int(n):,} | {i['documents']:,} | {i['sentences']:,} ({_all_sentences(i):,}) | "
            f"{i['index_seconds']:.1f} | {i['sentence_rate']:.1f} | "
            f"{i['raw_rate']:.1f} ({i['raw_sentences']:,}) | "
            f"{i['sentence_rate'] / i['raw_rate']:.0%} | {i['encode_share']:.0%} |"
        )
    return [*out, ""]


def _scale(s: dict[str, Any]) -> list[str]:
    out = [
        "## Scale (generated corpus)\n",
        "`scripts/gen_corpus.py`: news-like articles assembled from per-topic sentence templates with "
        "generated people, organisations, places, dates and figures (seed 0), one passage per paragraph, so "
        "the passage count is exact. Per size: one process indexes, a fresh one opens the store as the "
        "service does and asks 40 generated questions (4 out of scope) through `Verity.ask`: once on the "
        "fresh server, then each as a new question (as over HTTP above; the p50 the target compares), then "
        "verbatim again. *Retrieve* is the search alone (dense + BM25 + fusion, question embedding "
        "cached).\n",
        "| passages | near-dup passages | open s (models / BM25 rebuild) | ask p50 ms: new question "
        "(fresh server / repeated) | retrieve p50 ms | peak RSS MiB serving | peak RSS MiB indexing |"
        "\n|---|---|---|---|---|---|---|",
    ]
    for n, run in s["runs"].items():
        i, v = run["index"], run["serve"]
        out.append(
            f"| {int(n):,} | {i['duplicates']:,} | {v['load_seconds']:.1f} / {v['rebuild_seconds']:.1f} | "
            f"**{_ms(v['ask_p50'] * 1000)}** ({_ms(v['ask_fresh_p50'] * 1000)} / "
            f"{_ms(v['ask_repeat_p50'] * 1000)}) | {_ms(v['retrieve_p50'] * 1000)} | {v['peak_mib']:,.0f} | "
            f"{i['peak_mib']:,.0f} |"
        )
    if s["skipped"]:
        out += ["", "Not run in this run (over the time budget; `make bench SCALE=...` and "
                "`--budget-minutes` choose):", ""]  # fmt: skip
        out += [f"- {int(n):,} passages: {why}" for n, why in s["skipped"].items()]
    return [*out, ""]


def _news(n: dict[str, Any]) -> list[str]:
    if "skipped" in n:
        return ["## News corpus\n", f"Not run: {n['skipped']}.", ""]
    i, c1, floor = n["index"], n["c1"], n["floor"]
    f50 = floor["p50"]
    sliced = (
        f" A slice of it: the first {n['articles']:,} articles (`--news-articles`)." if n["articles"] else ""
    )
    limited = "; a slice: `--news-questions`" if n["limit"] else ""
    asked = ", ".join(f"{v} {k}" for k, v in n["questions"].items())
    statuses = "; ".join(
        f"{name}: " + ", ".join(f"{c} {s}" for s, c in sorted(st.items()))
        for name, st in n["statuses"].items()
    )
    rows = [
        ("`/v1/ask`, concurrency 1: `answerable.jsonl`", c1.get("answerable")),
        ("`/v1/ask`, concurrency 1: `unanswerable.jsonl`", c1.get("unanswerable")),
        ("**`/v1/ask`, concurrency 1: both sets**", c1["all"]),
        ("`/v1/ask`, concurrency 8 (per request)", n["c8"] or None),
    ]
    floors = n.get("floors") or {str(n.get("floor_threads", "?")): floor}
    for threads, p in sorted(floors.items()):
        chosen = str(threads) == str(n.get("floor_threads", threads))
        name = f"`SentenceTransformer.encode([q])` + one `collection.query`, torch threads {threads}"
        rows.append((f"**floor**: {name}" if chosen else f"floor, not chosen: {name}", p))
    leads = ", ".join(f"“{x.strip()}”" for x in n["leads"])
    before, after = n["counter_before"], n["counter_after"]
    work = ", ".join(f"`{k}` {int(v):,}" for k, v in sorted(after.items())) or "not exported"
    out = [
        "## News corpus (`../shared/news/dev`): a fresh server, questions it has never seen\n",
        f"`{n['corpus']}` indexed into a store of its own, then `verity serve` started on it "
        "(`VERITY_RATE_LIMIT_PER_MINUTE=0`: this measures capacity, not the per-client limiter)." + sliced,
        "",
        f"**Concurrency 1.** Every question of `dev/answerable.jsonl` and `dev/unanswerable.jsonl` once "
        f"({asked}{limited}), with its `as_of`, over HTTP on one keep-alive connection: none had been "
        "asked before (the server's only earlier question is its own warm-up). After each request the "
        "floor for the same string, in the bench process, on a copy of the server's Chroma store: the "
        f"same passage collection ({i['passages']:,} passages), k = the dense retriever's k; measured "
        "on one torch thread (as the server runs a forward, `VERITY_SERVE_THREADS=1`) and on torch's "
        "default, and the floor is the one with the lower p50 in the run. Statuses: "
        f"{statuses}. Errors: {len(n['c1_errors'])}.",
        "",
        f"**Concurrency 8.** {n['c8_requests']:,} questions from 8 threads sharing one httpx client, each "
        f"a dev question behind a lead-in ({leads}; one pass over the questions per lead-in, "
        "`--news-c8-rounds`): strings the server has never seen, so its question caches miss as they do "
        "for a new user's question, and their answers rest on the same stored corpus sentences.",
        "",
        "| path | requests | p50 ms | p95 ms | p99 ms | p50 ÷ floor | p95 ÷ floor |\n"
        "|---|---|---|---|---|---|---|",
    ]
    for name, p in rows:
        if p:
            out.append(
                f"| {name} | {p['n']} | {_ms(p['p50'])} | {_ms(p['p95'])} | {_ms(p['p99'])} "
                f"| {p['p50'] / f50:.1f}× | {p['p95'] / f50:.1f}× |"
            )
    out += [
        "",
        "The ratios divide by the floor's p50 (its p95 is in its row). "
        f"Throughput at concurrency 8: **{n['c8_rate']:.1f} requests/s** ({n['c8_requests']:,} requests in "
        f"{n['c8_wall']:.1f} s; {', '.join(f'{c} {s}' for s, c in n['c8_statuses'].items())}; "
        f"**{_count(len(n['c8_errors']), 'error')}**"
        + (f": {', '.join(sorted(set(n['c8_errors']))[:5])}" if n["c8_errors"] else "")
        + f"). The server used {n['c8_server_cpu_ms']:.1f} ms of CPU per request (all its threads and its "
        "parse worker's; the 8 client threads run in the bench process on the same cores). "
        f"Server peak RSS (with its parse worker's): {n['server_peak_mib']:,.0f} MiB.",
        *_fresh_pass(n),
        "",
        f"**Query-time work** (`verity_query_time_sentences_total` from `/metrics`, corpus sentences "
        f"embedded or parsed while answering): after the run {work}; before the first question "
        + (", ".join(f"`{k}` {int(v):,}" for k, v in sorted(before.items())) or "not exported")
        + ".",
        "",
        "**Cold start**, spawning `verity serve` on the indexed store to the first 200 from `/healthz` "
        "(models loaded, the in-process BM25 index built from Chroma, one question answered): "
        + ", ".join(f"{s:.1f} s" for s in n["cold"])
        + " (two starts; the second server is the one measured above).",
        "",
        "### Indexing the news corpus\n",
        "`Verity.index` in a fresh process, into an empty store, as `verity index` runs it: clean, split, "
        "embed every sentence (a passage's vector is the mean of its sentences'; one single-threaded "
        "forward per core, `Embedder.encode_streams`), parse every sentence with spaCy on the writer "
        "thread while the model embeds it, write passages and sentences to Chroma, near-duplicates. "
        "Beside it the raw `SentenceTransformer.encode` of "
        + (
            "the same sentence texts "
            if i["raw_sentences"] >= i["sentences"]
            else f"a fixed random sample of {i['raw_sentences']:,} of the same sentence texts "
            "(`--news-encode-sample`) "
        )
        + ("(checked: the very texts the indexer handed the model) " if i["same_texts"] else "")
        + f"with the same loaded model and batch size ({i['batch_size']}), nothing else: every other "
        "sentence before indexing, the rest after, so that a change in the machine's load weighs on both. "
        "*Model share* and *parse share* are the parts of the indexing time spent inside the encoder and "
        "inside spaCy (the two run at once, on different threads); *cores* is the CPU time the process "
        "used per second of wall time.",
        "",
        "| documents | passages | sentences embedded (of all) | indexing s | sentences/s "
        "| raw encode sentences/s (before / after) | ratio | model share | parse share "
        "| cores: indexing / raw |\n"
        "|---|---|---|---|---|---|---|---|---|---|",
        f"| {i['documents']:,} | {i['passages']:,} | {i['sentences']:,} "
        f"({_all_sentences(i):,}) | {i['index_seconds']:.1f} | "
        f"{i['index_rate']:.1f} | {i['raw_rate']:.1f} ({i['raw_rates'][0]:.1f} / {i['raw_rates'][1]:.1f}) | "
        f"**{i['index_rate'] / i['raw_rate']:.0%}** | {i['encode_share']:.0%} | {i['parse_share']:.0%} | "
        f"{i['index_cores']:.2f} / {i['raw_cores']:.2f} |",
        "",
        (
            f"The raw rate after indexing was {i['raw_rates'][1] / i['raw_rates'][0]:.2f}× the rate before "
            "it: the machine's load changed during the run (other work on the same cores), and the "
            "ratio, which sets indexing beside both halves together, is as uncertain as that spread. "
            if not 0.8 <= i["raw_rates"][1] / i["raw_rates"][0] <= 1.25
            else ""
        )
        + f"Loading and cleaning the articles took {i['load_seconds']:.1f} s more (before indexing, not "
        f"counted). Load average over the indexing: {i['loadavg'][0][0]:.1f} at the start, "
        f"{i['loadavg'][1][0]:.1f} at the end. Peak RSS of the indexing process: {i['peak_mib']:,.0f} MiB.",
        "",
    ]
    return out


def _close_news(r: dict[str, Any], missed: list[str]) -> list[str]:
    n = r["news"]
    out = ["### News corpus"]
    if any("floor" in m for m in missed):
        c1 = n["c1"]["all"]
        out.append(
            f"**Concurrency 1.** A never-seen question took {_ms(c1['p50'])} ms at p50 and "
            f"{_ms(c1['p95'])} ms at p95 against the floor's {_ms(n['floor']['p50'])} ms: "
            f"{c1['p50'] - n['floor']['p50']:,.0f} ms over the floor at p50 is the rest of the pipeline "
            "(question analysis, BM25 and fusion, reading the stored sentences of the candidates, "
            "scoring, the premise check, verification). The query-time counter above says whether any of "
            "it was corpus work that indexing should have done."
        )
    if any("requests/s" in m for m in missed):
        cpus, rate, cpu = r["machine_start"]["usable_cpus"], n["c8_rate"], n["c8_server_cpu_ms"]
        out.append(
            f"**Concurrency 8.** 50 requests/s on {cpus} cores leaves {cpus * 1000 / 50:.0f} ms of CPU per "
            f"request; the server used {cpu:.0f} ms per request, so at {rate:.1f} requests/s it kept "
            f"{rate * cpu / 1000:.1f} of the {cpus} cores busy (the bench's client threads and whatever "
            "else runs on the machine share them: see the load average)."
            + (f" Errors: {', '.join(sorted(set(n['c8_errors']))[:5])}." if n["c8_errors"] else "")
        )
    if any("indexing" in m for m in missed):
        i = n["index"]
        speed = i["index_rate"] / i["encode_share"] / i["raw_rate"] if i["encode_share"] else 0.0
        out.append(
            f"**Indexing.** The model took {i['encode_share']:.0%} of the indexing time and, while it ran, "
            f"embedded at {speed:.0%} of its raw speed; spaCy parsed on the writer thread for "
            f"{i['parse_share']:.0%} of the time, beside the model on the same "
            f"{r['machine_start']['usable_cpus']} cores (the process used {i['index_cores']:.2f} cores "
            f"while indexing, {i['raw_cores']:.2f} "
            "in the raw encode). With the cores full, the CPU time of the parse and the writes is what "
            "the model loses. Measured alone on 1,500 news sentences (2 cores): the model's streams "
            "13–15 core-s, spaCy's parse 6.5–7.5 core-s (a third of all the work), the raw encode 7.5–10 s "
            "of wall time; so even a perfect overlap leaves indexing at about three quarters of raw "
            "before any Chroma write. What would close it: a cheaper analysis (spaCy's NER, with its own "
            "token vectors, is about half of the parse), or more cores."
        )
    if any("embedded or parsed" in m for m in missed):
        out.append(
            "**Query-time work.** Corpus sentences were embedded or parsed while answering: the stored "
            "sentence records did not cover what the answerer read (see `index/analysis.py` and the "
            "server log for an outdated-index line)."
        )
    return [x for p in out for x in (p, "")]


def package_shares(profiler: Any) -> dict[str, float]:
    """Share of a pyinstrument profile's time by the package whose code was running (self time)."""
    root = profiler.last_session.root_frame()
    if root is None or not root.time:
        return {}
    totals: dict[str, float] = {}
    stack = [(child, "other") for child in root.children]  # the root's own time is no code of ours
    while stack:
        frame, parent = stack.pop()
        path = frame.file_path or ""
        package = parent if not path or path.startswith("<") else _package(path)
        own = frame.time - sum(child.time for child in frame.children)
        totals[package] = totals.get(package, 0.0) + own
        stack.extend((child, package) for child in frame.children)
    total = sum(totals.values()) or 1.0
    return {k: v / total for k, v in sorted(totals.items(), key=lambda kv: -kv[1])}


def _package(path: str) -> str:
    if "site-packages/" in path:
        return path.split("site-packages/", 1)[1].split("/", 1)[0].removesuffix(".py")
    repo = str(Path(__file__).resolve().parent.parent) + "/"
    if path.startswith(repo):
        return f"{path[len(repo) :].split('/', 1)[0]}/ (Verity)"
    if not path.startswith("/"):  # compiled (Cython) code names its source relative to the package
        return path.split("/", 1)[0]
    return "python (stdlib)" if "/lib/python3" in path else "other"


def _shares(shares: dict[str, float], top: int = 8) -> str:
    inside = {k: v for k, v in shares.items() if k != "other"}  # "other": samples outside any frame
    total = sum(inside.values()) or 1.0
    return ", ".join(f"{name} {share / total:.0%}" for name, share in list(inside.items())[:top])


def _misses(r: dict[str, Any]) -> list[str]:
    rows = targets(r)
    missed = [name for name, _, ok in rows if ok is False]
    if not missed:
        return ["## Profiles\n", "Every target measured in this run was met; no profile needed.", ""]
    out = ["## Missed targets: profiles and what would close them\n"]
    news = [m for m in missed if m.startswith("news")]
    missed = [m for m in missed if not m.startswith("news")]
    if news:
        out += _close_news(r, news)
    b, runs = r.get("breakdown", {}), r.get("scale", {}).get("runs", {})
    if "http" in r and any("floor" in m or "requests/s" in m for m in missed):
        out += [
            "### `/v1/ask` latency and throughput\n",
            "pyinstrument, `Verity.ask` in-process over the dev questions (new questions), top of the tree:",
            "",
            _profile(b.get("profile", "")),
            f"Time by package (self time): {_shares(b.get('packages', {}))}.\n",
            *_close_latency(r, missed),
        ]
    if any("indexing" in m for m in missed) and "index_profile" in r:
        out += [
            "### Indexing\n",
            "pyinstrument, `Verity.index` of a generated 1,000-passage corpus, top of the tree:\n",
            _profile(r["index_profile"]["profile"]),
            f"Time by package (self time): {_shares(r['index_profile'].get('packages', {}))}.\n",
            *_close_indexing(r),
        ]
    if any("100k" in m for m in missed) and "100000" in runs:
        serve = runs["100000"]["serve"]
        out += [
            "### 100k passages\n",
            "pyinstrument, `Verity.ask` at 100k passages (new questions), top of the tree:\n",
            _profile(serve.get("profile", "")),
            f"Time by package (self time): {_shares(serve.get('packages', {}))}; at 1k: "
            f"{_shares(runs.get('1000', {}).get('serve', {}).get('packages', {}))}.\n",
            *_close_scale(r, missed),
        ]
    return out


def _close_latency(r: dict[str, Any], missed: list[str]) -> list[str]:
    h, m = r["http"], r["machine_start"]
    c1, floor, mean = h["http"]["p50"], h["floor"]["p50"], h["http"]["mean"]
    out = []
    if any("floor" in x for x in missed):
        stages = r["breakdown"]["stages"]
        model = next((v[0] for k, v in stages.items() if k.startswith("model")), 0.0)
        rest = {k: v[0] for k, v in stages.items() if not k.startswith("model")}
        worst = max(rest, key=lambda k: rest[k]) if rest else "?"
        out.append(
            f"**Concurrency 1.** A new question costs one model forward (the floor's own cost; "
            f"{model:.0f} ms per question in the stage table) and then the rest of the pipeline: "
            f"{c1 - floor:.0f} ms over the floor at p50. The largest stage after the model is *{worst}* "
            f"({rest.get(worst, 0.0):.0f} ms per question); what would close the gap is taking that stage "
            "off the path of a new question: caching what it computes per corpus passage instead of per "
            "question, or running it on the question's own retrieval instead of a retrieval of its own."
        )
    if any("requests/s" in x for x in missed):
        cpus, rate = m["usable_cpus"], h["c8_rate"]
        cpu = h.get("c8_server_cpu_ms")
        busy = (
            f"The server used {cpu:.0f} ms of CPU per request, so at {rate:.1f} requests/s it kept "
            f"{rate * cpu / 1000:.1f} of the {cpus} cores busy: "
            if cpu
            else ""
        )
        out.append(
            f"**Concurrency 8.** 50 requests/s on {cpus} cores leaves {cpus * 1000 / 50:.0f} ms of CPU per "
            f"request, and no more than 20 ms of it holding the GIL. One request at a time "
            f"took {mean:.0f} ms on average, nearly all of it CPU; eight clients got {rate:.1f}/s."
            " In place already: the questions of concurrent requests share one embedding "
            "forward and one spaCy `pipe` call "
            "(`index/batching.py`), a question's forward runs through a TorchScript trace of the model "
            "that holds no GIL while it runs (`index/embed.py`), each forward runs on one torch thread "
            "and numpy's BLAS and the OpenMP "
            "pool on one as well (`VERITY_SERVE_THREADS=1`; with a thread per core their idle threads spin "
            "and a forward's threads wait on each other whenever another request holds a core), stems are "
            "cached per sentence and the stored records of recently read passages are kept in memory. "
            f"{busy}{'the' if busy else 'The'} rest of the pipeline is Python under one GIL — "
            "the question's spaCy parse, the retrievers and Chroma's client, the reader's signals, the "
            "verifier, FastAPI — which the profile above shows beside the model: everything but the "
            "traced forward holds the GIL, so one process cannot keep both cores busy. What would close "
            "it: (1) less Python per request — a lighter question analysis than a full spaCy parse "
            "(tagger and entities only, parsing only the sentences a check needs), the reader's signal "
            "loops vectorised; (2) processes instead of threads: `verity serve --workers N` on a Chroma "
            "server (`VERITY_WORKERS`) runs N processes, each with its own GIL, but each batches only its "
            "own requests, pays the Chroma server's HTTP hop, and holds its own models (the server's "
            f"peak RSS here: {h['server_peak_mib']:,.0f} MiB)."
        )
    return [*out, ""]


def _all_sentences(i: dict[str, Any]) -> int:
    """All the corpus's sentences, of which the indexer embedded the distinct ones (`sentences`); results
    written before that figure was recorded count the embedded ones."""
    return int(i.get("all_sentences") or i["sentences"])


def _close_indexing(r: dict[str, Any]) -> list[str]:
    runs = r["scale"]["runs"]
    parts = []
    for n, run in runs.items():
        i = run["index"]
        in_model = i["encode_share"] * i["index_seconds"] / i["sentences"]  # seconds per sentence
        parts.append(
            f"at {int(n):,} passages the model took {i['encode_share']:.0%} of the indexing time and ran at "
            f"{1 / in_model / i['raw_rate']:.0%} of its raw speed"
        )
    return [
        f"Where the time goes: {'; '.join(parts)}. A writer thread parses each group (spaCy, one "
        "core) while the model embeds it, then stores it and looks its passages up for near-duplicates "
        "once the model has started on the next group: chromadb's embedded client holds the GIL through "
        "a whole upsert, so a write begun while the model's next group was being tokenised held it up "
        "for as long as the write lasted, and each stream now runs its share of a group in one scripted "
        "TorchScript call that takes the GIL only to start and to return. Each distinct sentence is "
        "embedded and parsed once a run (the generated corpus repeats its template sentences: about "
        "half are repeats; the news corpus 2%), and the forwards run in bfloat16 where the CPU has it. "
        "What is left is the writer's share of the same two cores: where the model took less than all of "
        "the indexing time, it waited for the writer (the parse of a group plus its Chroma writes and "
        "near-duplicate lookups, which grow with the store), and where it ran below its raw speed the "
        "writer's work took part of its cores. What would close it at 100k passages: a cheaper parse "
        "(spaCy's NER is half of it), the near-duplicate lookups batched against a smaller candidate set, "
        "or, against a Chroma server (`VERITY_CHROMA_URL`), writes that are network waits.",
        "",
    ]


def _close_scale(r: dict[str, Any], missed: list[str]) -> list[str]:
    runs = r["scale"]["runs"]
    small, big = runs["1000"], runs["100000"]
    out = []
    if any("p50" in x for x in missed):
        out.append(
            f"Query p50 grew {big['serve']['ask_p50'] / small['serve']['ask_p50']:.1f}× from 1k to 100k; "
            f"retrieval alone {big['serve']['retrieve_p50'] / small['serve']['retrieve_p50']:.1f}×. What "
            "would close it: what grows is what scans the corpus per query — the profile above: bm25s "
            "scores every passage holding a query term and selects the top k among all of them, once for "
            "the question and once for each premise (near-duplicates read beside a hit are capped at 3); "
            "an inverted index that stops early (block-max WAND) or a BM25 search over a sample of "
            "candidate passages from the dense list would keep it near the 1k cost."
        )
    if any("memory" in x for x in missed):
        out.append(
            f"Peak memory at 100k: {big['serve']['peak_mib']:,.0f} MiB serving, of which "
            f"{big['serve']['model_rss_mib']:,.0f} MiB is the process with its models loaded and the rest "
            "the in-process index (passage table, BM25, sentence document frequencies) and what Chroma "
            "holds of the collections it has opened (their vector indexes); the pages its reads free are "
            "given back (`index/heap.py`). Indexing peaks at "
            f"{big['index']['peak_mib']:,.0f} MiB. What would close it: keep the passage table in Chroma "
            "and only ids and BM25 in memory."
        )
    return [*out, ""]
