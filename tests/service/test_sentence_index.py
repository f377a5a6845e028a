"""Everything about a corpus sentence is computed at index time: answering embeds and parses only the
question, an older index is reported, and short answers and `as_of` keep the response contract."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from datetime import date
from pathlib import Path

import numpy as np
from fastapi.testclient import TestClient

from index.analysis import SCHEMA
from index.documents import Document
from index.store import decode_vector
from service.answering.pipeline import Verity
from service.config import Settings
from service.http.app import create_app
from service.schemas import Turn

EVAL = Path(__file__).resolve().parents[2] / "seeds" / "eval-dev.jsonl"


def test_answering_the_dev_set_embeds_and_parses_no_corpus_sentence(verity: Verity) -> None:
    before = dict(verity.work.counts)
    answered = 0
    for line in EVAL.read_text().splitlines():
        item = json.loads(line)
        if item["kind"] == "claim":
            verity.verify(item["claim"])
            continue
        history = [Turn(**t) for t in item.get("history", [])]
        answered += verity.ask(item["question"], history).status == "answered"
    assert answered >= 10  # the set was really answered, not refused wholesale
    assert verity.work.counts == before, (
        f"corpus sentences were processed while answering: {verity.work.counts}"
    )


def test_the_counter_is_exported_and_counts_sentences_it_had_to_parse(
    client: TestClient, verity: Verity
) -> None:
    metrics = client.get("/metrics").text
    assert 'verity_query_time_sentences_total{work="parse"}' in metrics
    before = verity.work.counts["parse"]
    verity.parser.sentence("A sentence no index has ever stored, parsed now.")
    assert verity.work.counts["parse"] == before + 1


def test_two_requests_reading_the_same_stored_sentence_at_once_parse_nothing(verity: Verity) -> None:
    import threading

    from service.answering.text import Parser

    parser = Parser(verity.analyzer)
    text = "The council approved the budget on Tuesday after a long debate."
    parser.preload({text: verity.analyzer.dumps(verity.analyzer.parse([text])[0])})
    loading, release = threading.Event(), threading.Event()
    loads = verity.analyzer.loads

    def slow_first(data: str) -> object:
        if not loading.is_set():  # the first request is still rebuilding the stored parse ...
            loading.set()
            assert release.wait(timeout=20)
        return loads(data)

    parser.analyzer = type("Slow", (), {"loads": staticmethod(slow_first)})()  # type: ignore[assignment]
    first = threading.Thread(target=parser.sentence, args=(text,))
    first.start()
    assert loading.wait(timeout=20)
    second = parser.sentence(text)  # ... when the second asks for the same sentence
    release.set()
    first.join(timeout=20)
    assert [t.text for t in second][:2] == ["The", "council"]
    assert parser.work.counts == {"embed": 0, "parse": 0}


def test_sentences_are_stored_with_their_vector_and_analysis(verity: Verity) -> None:
    stored = verity.store.sentences.get(limit=5, include=["embeddings", "metadatas", "documents"])
    assert stored["ids"], "no sentence records"
    assert set(stored["documents"] or [None]) == {None}  # no Chroma document: no full-text index to write
    metas = stored["metadatas"] or []
    records = [str(meta["record"]).partition(" ") for meta in metas]
    docs = [verity.analyzer.loads(analysis) for _, _, analysis in records]
    texts = [doc.text for doc in docs]
    expected = verity.embedder.encode_eager(texts)  # float32, as SentenceTransformer.encode computes it
    for (vector_text, _, _), doc, want in zip(records, docs, expected, strict=True):
        vector = decode_vector(vector_text)
        assert all(t.dep_ for t in doc)  # the dependency parse came back, not just tokens
        assert vector.shape == (384,) and float(vector @ want) > 0.9995  # bfloat16 where the CPU has it
    for sid, meta in zip(stored["ids"], metas, strict=True):
        assert sid.startswith(f"{meta['passage_id']}:") and str(meta["passage_id"]).startswith(
            f"{meta['document_id']}:"
        )  # what deletions select by
    passages = verity.retriever.corpus.passages
    for sid, text in zip(stored["ids"], texts, strict=True):  # the text is the passage's sentence
        pid, _, i = sid.rpartition(":")
        assert passages[pid].sentences[int(i)].text == text
    # the collection's own vectors are placeholders: the sentence vectors are in no index Chroma loads
    assert {len(e) for e in stored["embeddings"]} == {1}


def test_a_sentence_collection_of_an_older_layout_is_not_read_and_indexing_replaces_it(
    tmp_path: Path, verity: Verity
) -> None:
    settings = Settings(data_dir=tmp_path, corpus_dir=tmp_path / "none", collection="layout")
    other = Verity(settings, models=verity)
    doc = Document(id="l1", title="Harbor", text="The harbor plan was approved. The mayor signed it.")
    other.index([doc], progress=False)
    passages = other.retriever.corpus.passages
    assert len(other.store.sentence_records(passages)) == 2
    # the layout before this one: the sentence vectors as the collection's own embeddings, no layout mark
    old = other.store.sentences.get(include=["metadatas"])
    other.store.client.delete_collection(other.store.sentences.name)
    legacy = other.store.client.create_collection(other.store.sentences.name)
    legacy.add(
        ids=old["ids"], embeddings=np.ones((len(old["ids"]), 384)),
        metadatas=[{k: v for k, v in m.items() if k != "record"} for m in old["metadatas"] or []],
    )  # fmt: skip
    reopened = Verity(settings, models=verity)
    assert reopened.store.sentence_records(passages) == {}  # computed while answering, and counted
    reopened.store.documents.update(ids=["l1"], metadatas=[{"schema": SCHEMA - 1}])
    assert reopened.index([doc], progress=False).written == 1  # an older schema is rewritten ...
    records = reopened.store.sentence_records(reopened.retriever.corpus.passages)
    assert len(records) == 2 and all(r.vector.shape == (384,) for r in records.values())
    assert len(reopened.store.sentences.get(include=[])["ids"]) == 2  # ... into a new collection
    assert other.store.sentence_records(reopened.retriever.corpus.passages).keys() == records.keys()


def test_sentence_records_are_read_from_the_store_once_per_passage(tmp_path: Path, verity: Verity) -> None:
    settings = Settings(data_dir=tmp_path, corpus_dir=tmp_path / "none", collection="records")
    other = Verity(settings, models=verity)
    doc = Document(
        id="r1", title="Harbor", text="The harbor plan was approved. The mayor signed it on Monday."
    )
    other.index([doc], progress=False)
    corpus = other.retriever.corpus
    reads: list[int] = []
    read = other.store.sentence_records
    other.store.sentence_records = lambda wanted: reads.append(len(wanted)) or read(wanted)  # type: ignore[method-assign]
    ids = list(corpus.passages)
    first = corpus.sentence_records(ids)
    again = corpus.sentence_records(ids)
    assert reads == [len(ids)] and first.keys() == again.keys() and len(first) == 2
    assert all((first[k].vector == again[k].vector).all() for k in first)
    other.index([replace(doc, text="The plan was rejected.")], progress=False)
    assert other.retriever.corpus is not corpus  # a write rebuilds the corpus, and its records with it


def test_an_index_of_an_older_schema_is_reported(tmp_path: Path, verity: Verity) -> None:
    settings = Settings(data_dir=tmp_path, corpus_dir=tmp_path / "none", collection="old")
    other = Verity(settings, models=verity)
    doc = Document(id="a1", title="Harbor", text="The harbor plan was approved on Monday by the council.")
    other.index([doc], progress=False)
    assert other.check_schema() == 0
    other.store.documents.update(ids=["a1"], metadatas=[{"schema": SCHEMA - 1}])
    assert other.check_schema() == 1
    with TestClient(create_app(settings, verity=other)) as client:
        for _ in range(400):
            health = client.get("/healthz")
            if health.json()["status"] != "starting":
                break
            time.sleep(0.05)
        assert health.status_code == 503
        assert health.json()["status"] == "outdated" and "verity index" in health.json()["detail"]
    summary = other.index([doc], progress=False)  # rerunning the indexer rewrites it
    assert summary.written == 1 and other.check_schema() == 0


def test_articles_published_after_as_of_are_not_used_and_dates_are_cited(
    tmp_path: Path, verity: Verity
) -> None:
    other = Verity(
        Settings(data_dir=tmp_path, corpus_dir=tmp_path / "none", collection="dated"), models=verity
    )
    other.index(
        [
            Document(id="old", title="Harbor vote", published="2023-03-01",
                     text="The city council approved the harbor plan in a vote."),
            Document(id="new", title="Harbor vote again", url="https://example.org/2024/05/02/harbor",
                     text="The city council rejected the revised harbor plan in a second vote."),
        ],
        progress=False,
    )  # fmt: skip
    assert other.document("new").document.published == "2024-05-02"  # from its URL
    early = other.ask("What did the city council do with the harbor plan?", as_of=date(2023, 6, 1))
    assert {c.document_id for c in early.citations} <= {"old"}
    later = other.ask("What did the city council do with the harbor plan?", as_of=date(2024, 6, 1))
    assert later.status == "answered" and later.citations
    assert all(
        c.published == {"old": "2023-03-01", "new": "2024-05-02"}[c.document_id] for c in later.citations
    )


def test_a_short_answer_is_an_exact_span_of_its_cited_sentence(client: TestClient) -> None:
    seen = 0
    for line in EVAL.read_text().splitlines():
        item = json.loads(line)
        if item["kind"] != "answer" or item.get("history"):
            continue
        body = client.post("/v1/ask", json={"question": item["question"]}).json()
        short = body.get("short_answer")
        if not short:
            continue
        seen += 1
        doc = client.get(f"/v1/documents/{body['citations'][short['citation'] - 1]['document_id']}").json()
        assert doc["text"][short["start"] : short["end"]] == short["text"]
        cited = body["citations"][short["citation"] - 1]
        assert cited["start"] <= short["start"] and short["end"] <= cited["end"]
    assert seen >= 5


def test_as_of_is_validated_by_the_api(client: TestClient) -> None:
    bad = client.post("/v1/ask", json={"question": "Who won?", "as_of": "yesterday"})
    assert bad.status_code == 422
    good = client.post(
        "/v1/ask", json={"question": "Who ordered the strike on Soleimani?", "as_of": "2030-01-01"}
    )
    assert good.status_code == 200
    for c in good.json()["citations"]:
        assert c["published"] is None or c["published"] <= "2030-01-01"
