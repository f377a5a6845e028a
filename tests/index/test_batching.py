"""Opportunistic batching: concurrent callers share one model call, each gets its own results."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from index.batching import Batcher
from index.embed import Embedder


def _until(condition, seconds: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_a_lone_caller_runs_at_once() -> None:
    calls: list[list[str]] = []
    batcher: Batcher[str] = Batcher(lambda texts: calls.append(list(texts)) or [t.upper() for t in texts])
    assert batcher(["a", "b", "a"]) == {"a": "A", "b": "B"}
    assert calls == [["a", "b"]]  # each text once


def test_callers_waiting_behind_a_call_share_the_next_one() -> None:
    calls: list[list[str]] = []
    gate = threading.Event()

    def run(texts: list[str]) -> list[str]:
        calls.append(list(texts))
        if len(calls) == 1:
            gate.wait(5)
        return [t.upper() for t in texts]

    batcher: Batcher[str] = Batcher(run)
    results: dict[str, dict[str, str]] = {}
    first = threading.Thread(target=lambda: results.update(first=batcher(["a"])))
    first.start()
    _until(lambda: len(calls) == 1)
    later = [threading.Thread(target=lambda x=x: results.update({x: batcher([x, "shared"])})) for x in "bcd"]
    for thread in later:
        thread.start()
    _until(lambda: len(batcher._waiting) == 3)
    gate.set()
    for thread in [first, *later]:
        thread.join(5)
    assert len(calls) == 2 and sorted(calls[1]) == ["b", "c", "d", "shared"]  # one call for three callers
    assert results["first"] == {"a": "A"}
    for x in "bcd":
        assert results[x] == {x: x.upper(), "shared": "SHARED"}


def test_a_failed_call_fails_every_caller_in_it_and_not_the_next() -> None:
    gate = threading.Event()
    started = threading.Event()

    def run(texts: list[str]) -> list[str]:
        if texts == ["slow"]:
            started.set()
            gate.wait(5)
        if "bad" in texts:
            raise ValueError("bad text")
        return texts

    batcher: Batcher[str] = Batcher(run)
    errors: list[BaseException] = []

    def ask(texts: list[str]) -> None:
        try:
            batcher(texts)
        except ValueError as exc:
            errors.append(exc)

    slow = threading.Thread(target=ask, args=(["slow"],))
    slow.start()
    started.wait(5)
    failing = [threading.Thread(target=ask, args=(t,)) for t in (["bad"], ["fine"])]
    for thread in failing:
        thread.start()
    _until(lambda: len(batcher._waiting) == 2)
    gate.set()
    for thread in [slow, *failing]:
        thread.join(5)
    assert len(errors) == 2  # "fine" shared the failing call
    assert batcher(["fine"]) == {"fine": "fine"}


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return Embedder()


def test_concurrent_questions_get_the_vectors_they_get_alone(embedder: Embedder) -> None:
    questions = [f"Who signed agreement number {i} in the capital?" for i in range(24)]
    alone = embedder.encode(questions)  # float32, one batch
    with ThreadPoolExecutor(8) as pool:
        together = np.stack(list(pool.map(lambda q: embedder.encode_cached([q])[0], questions)))
    graph = embedder.query_graph()
    if graph is not None and graph.bf16:  # questions in bfloat16 (index/embed.py): its rounding, no more
        cosines = together @ alone.T
        assert float(np.diag(cosines).min()) >= 0.9995
        assert (cosines.argmax(axis=1) == np.arange(len(questions))).all()  # each caller got its own
    else:
        np.testing.assert_allclose(together, alone, atol=1e-5)
