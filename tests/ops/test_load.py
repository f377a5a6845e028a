"""Load: 500 questions at concurrency 16 against the served app and its Chroma server. Every one must
succeed, and each answer must be exactly the answer to the same question asked alone (concurrency must
not leak state between requests: retriever refreshes, caches, spaCy and BM25 shared across threads)."""

from __future__ import annotations

import json
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from itertools import cycle, islice
from typing import Any

import httpx
from ops_topology import BOLTON, SEEDS, Topology

REQUESTS = 500
CONCURRENCY = 16


def questions() -> list[str]:
    """Ten questions of the project's eval set, of every kind (answers, refusals, false premises)."""
    items = [json.loads(line) for line in (SEEDS / "eval.jsonl").read_text().splitlines() if line.strip()]
    by_kind: dict[str, list[str]] = {}
    for item in items:
        if item.get("question") and not item.get("history"):
            by_kind.setdefault(item["kind"], []).append(item["question"])
    picked = [BOLTON]
    while len(picked) < 10 and any(by_kind.values()):
        for asked in by_kind.values():
            if asked and len(picked) < 10:
                picked.append(asked.pop(0))
    return picked


def test_500_concurrent_questions_all_succeed_with_the_answers_given_alone(topology: Topology) -> None:
    asked = questions()
    assert len(set(asked)) == 10, asked
    alone: dict[str, Any] = {}
    for question in asked:
        response = topology.ask(question)
        assert response.status_code == 200, response.text
        alone[question] = response.json()
    assert {body["status"] for body in alone.values()} == {"answered", "refused"}, alone

    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    timeout = httpx.Timeout(120.0, connect=5.0)
    with httpx.Client(base_url=topology.api.url, limits=limits, timeout=timeout) as client:

        def ask(question: str) -> tuple[str, int, Any]:
            response = client.post("/v1/ask", json={"question": question})
            body = response.json() if response.status_code == 200 else response.text
            return question, response.status_code, body

        started = time.monotonic()
        with ThreadPoolExecutor(CONCURRENCY) as pool:
            results = list(pool.map(ask, islice(cycle(asked), REQUESTS)))
        seconds = time.monotonic() - started

    statuses = Counter(status for _, status, _ in results)
    assert statuses == {200: REQUESTS}, (statuses, [r for r in results if r[1] != 200][:3])
    different = [(q, body) for q, _, body in results if body != alone[q]]
    assert not different, f"{len(different)} answers differ from the answer given alone: {different[0]}"
    print(f"\n{REQUESTS} requests at concurrency {CONCURRENCY}: {seconds:.1f}s, {REQUESTS / seconds:.1f}/s")
