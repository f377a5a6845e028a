"""The embedder's traced query graph computes what `SentenceTransformer.encode` computes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from index.embed import _GRAPH_MAX, Embedder, _QueryGraph

TEXTS = [
    "Who won?",
    "Which NFL team won the Super Bowl in New Orleans this year?",
    "The central bank raised its main interest rate by a quarter of a percentage point on Tuesday, its "
    "third increase this year, and said it would keep a close watch on prices.",
    "Élan, naïve café — 42% of 1,000 voters; “quoted” words!",
    "a",
]


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return Embedder()


def test_every_batch_runs_through_the_traced_graph(
    embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert embedder.query_graph() is not None  # the bundled model is transformer -> mean -> normalise
    st = embedder.llama._model
    calls: list[int] = []
    eager = st.encode
    monkeypatch.setattr(st, "encode", lambda texts, **kw: calls.append(len(texts)) or eager(texts, **kw))
    embedder.encode(TEXTS[:2])
    embedder.encode(TEXTS * 20)
    assert calls == []  # neither a question's batch nor an indexing batch reaches SentenceTransformer.encode
    monkeypatch.setattr(embedder, "streams", 1)
    embedder.encode(TEXTS * 20)
    assert calls == [len(TEXTS) * 20]  # with one stream, a large batch is SentenceTransformer.encode's


def test_a_large_batch_runs_as_single_threaded_low_priority_streams_in_the_order_given(
    embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os
    import threading

    graph = embedder.query_graph()
    assert graph is not None
    seen: list[tuple[str, int, int, list[int]]] = []
    run = type(graph).run

    def spy(self: _QueryGraph, batches: list, low_precision: bool = False) -> list[np.ndarray]:  # type: ignore[type-arg]
        nice = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        sizes = [len(ids) for ids, _, _ in batches]
        seen.append((threading.current_thread().name, torch.get_num_threads(), nice, sizes))
        return run(self, batches, low_precision)

    monkeypatch.setattr(type(graph), "run", spy)
    monkeypatch.setattr(embedder, "streams", 2)
    texts = [f"{t} ({i})" for i in range(30) for t in TEXTS]  # 150 texts: 3 batches of 64 at most
    threads_before = torch.get_num_threads()
    started: list[int] = []
    got = embedder.encode(texts, started=lambda: started.append(len(seen)))
    assert torch.get_num_threads() == threads_before  # put back
    assert started and started[0] <= 2  # called once the streams were handed their batches
    # one call per stream, each with its share of the length-sorted batches of `embed_batch_size`
    assert sorted(n for *_, sizes in seen for n in sizes) == [22, 64, 64] and len(seen) == 2
    assert {name.startswith("verity-embed") for name, *_ in seen} == {True}
    assert {threads for _, threads, _, _ in seen} == {1}
    assert min(nice for _, _, nice, _ in seen) >= 10
    assert len({name for name, *_ in seen}) == 2  # two streams at once
    want = embedder.encode_eager(texts)  # rows in the given order, in bfloat16 where the CPU has it
    assert float((got * want).sum(axis=1).min()) > 0.9995
    exact = Embedder(bf16=False)
    monkeypatch.setattr(exact, "streams", 2)
    np.testing.assert_allclose(exact.encode(texts), want, atol=2e-5)


def test_a_share_of_batches_runs_in_one_scripted_call(
    embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    graph = embedder.query_graph()
    assert graph is not None
    batches = [graph.tokenize([f"{t} <{i}>" for t in TEXTS * 12]) for i in range(3)]
    calls: list[int] = []
    scripted = graph.batches
    monkeypatch.setattr(graph, "batches", lambda b: calls.append(len(b)) or scripted(b))
    got = graph.run(batches)
    assert calls == [3]  # one call into TorchScript for all three: it takes the GIL once, not per batch
    for batch, vectors in zip(batches, got, strict=True):
        np.testing.assert_allclose(vectors, graph.run([batch])[0], atol=1e-6)


@pytest.mark.parametrize("size", [1, 3, len(TEXTS), _GRAPH_MAX])
def test_the_graph_matches_sentence_transformers(embedder: Embedder, size: int) -> None:
    texts = (TEXTS * _GRAPH_MAX)[:size]
    graph = embedder.query_graph()
    assert graph is not None
    got = graph(texts)
    want = embedder.encode_eager(texts)
    assert got.shape == want.shape == (size, 384)
    np.testing.assert_allclose(got, want, atol=2e-5)
    exact = Embedder(bf16=False)
    np.testing.assert_allclose(exact.encode(texts), want, atol=2e-5)  # encode routes small batches
    assert float((embedder.encode(texts) * want).sum(axis=1).min()) > 0.9995  # bfloat16 where it pays


def test_questions_in_bfloat16_keep_the_direction_of_their_float32_vectors(embedder: Embedder) -> None:
    texts = [f"{t} [{i}]" for i, t in enumerate(TEXTS)]  # not in the cache yet
    got = embedder.encode_cached(texts)
    want = embedder.encode_eager(texts)
    assert got.dtype == np.float32 and got.shape == want.shape
    assert float((got * want).sum(axis=1).min()) >= 0.9995
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)


def test_an_embedder_without_bfloat16_embeds_questions_in_float32(embedder: Embedder) -> None:
    exact = Embedder(bf16=False)  # what `make train` uses: the same artifact whatever the CPU
    texts = [f"{t} <{i}>" for i, t in enumerate(TEXTS)]
    np.testing.assert_allclose(exact.encode_cached(texts), embedder.encode_eager(texts), atol=2e-5)


@pytest.mark.parametrize("native", [False, True])
def test_bfloat16_is_used_only_where_the_cpu_has_it_and_the_probes_agree(
    embedder: Embedder, monkeypatch: pytest.MonkeyPatch, native: bool
) -> None:
    import index.embed as embed

    monkeypatch.setattr(embed, "_native_bf16", lambda: native)
    graph = _QueryGraph.build(embedder.llama._model, embedder.encode_eager)
    assert graph is not None
    assert graph.bf16 is native  # the probes agree on the bundled model
    monkeypatch.setattr(embed, "_BF16_MIN_COSINE", 1.0 + 1e-6)  # no bfloat16 vector can agree that well
    graph = _QueryGraph.build(embedder.llama._model, embedder.encode_eager)
    assert graph is not None and graph.bf16 is False


def test_a_long_text_is_truncated_as_sentence_transformers_truncates(embedder: Embedder) -> None:
    long = " ".join(["inflation"] * 600)  # over the model's 256 tokens
    graph = embedder.query_graph()
    assert graph is not None
    np.testing.assert_allclose(graph([long, "short"]), embedder.encode_eager([long, "short"]), atol=2e-5)


def test_another_pipeline_keeps_the_eager_path(embedder: Embedder) -> None:
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer

    transformer = Transformer(embedder.model_name)
    cls_pooled = SentenceTransformer(
        modules=[transformer, Pooling(transformer.get_embedding_dimension(), "cls"), Normalize()],
        device="cpu",
    )
    assert _QueryGraph.build(cls_pooled, embedder.encode_eager) is None  # the trace pools by the mean


def test_limit_threads_sets_every_pool_and_puts_the_previous_limits_back() -> None:
    from threadpoolctl import threadpool_info

    from index.embed import limit_threads

    torch_before = torch.get_num_threads()
    pools_before = [p["num_threads"] for p in threadpool_info()]
    restore = limit_threads(1)
    try:
        assert torch.get_num_threads() == 1
        assert all(p["num_threads"] == 1 for p in threadpool_info())
    finally:
        restore()
    assert torch.get_num_threads() == torch_before
    assert [p["num_threads"] for p in threadpool_info()] == pools_before


def test_a_failing_stream_fails_the_call_and_puts_the_threads_back(
    embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    graph = embedder.query_graph()
    assert graph is not None
    calls = 0
    run = type(graph).run

    def failing_first(self: _QueryGraph, batches: list, low_precision: bool = False) -> list[np.ndarray]:  # type: ignore[type-arg]
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("forward failed")
        return run(self, batches, low_precision)

    monkeypatch.setattr(type(graph), "run", failing_first)
    monkeypatch.setattr(embedder, "streams", 2)
    threads_before = torch.get_num_threads()
    with pytest.raises(RuntimeError, match="forward failed"):
        embedder.encode([f"sentence number {i}" for i in range(64 * 12)])  # 12 batches, 6 a stream
    assert calls <= 2  # one call a stream, each with its whole share (one not yet started is cancelled)
    assert torch.get_num_threads() == threads_before
