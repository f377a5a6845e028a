"""The indexer against a real embedded Chroma and the real embedding model: what gets stored, and how
re-indexing, changed and removed documents behave."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from index.dedup import symmetrize
from index.documents import Document
from index.indexer import index_documents
from index.loaders import load_documents
from index.split import split_passages
from index.store import ChromaStore, Version, connect, content_hash
from service.answering.pipeline import Verity
from service.answering.retrieve import HybridRetriever

SEEDS = Path(__file__).resolve().parents[2] / "seeds"
BOILERPLATE = [
    "Follow us on social",
    "Shutterstock_1605957556-scaled",
    "keep readingShow less",
    "QIOSK",
    "Subscribe now",
    "Obtain the NBC Information application",
    "Get full protection of the Iran crisis",
    "Image: Donald Trump and John Bolton",
    "Getty Pictures file",
    "follow him on Twitter",
    "USMCA",
    "decertify",
    "Venezuelan",
]


@pytest.fixture()
def store(tmp_path: Path) -> ChromaStore:
    return ChromaStore(connect(tmp_path / "chroma"), "test")


@pytest.fixture(scope="module")
def seeds() -> list[Document]:
    return load_documents(SEEDS)


def _index(docs: list[Document], store: ChromaStore, verity: Verity, prune: bool = True) -> object:
    return index_documents(docs, store, verity.embedder, verity.analyzer, prune=prune, progress=False)


def test_boilerplate_is_not_stored_and_the_story_is(
    store: ChromaStore, seeds: list[Document], verity: Verity
) -> None:
    _index(seeds, store, verity)
    stored = " ".join(sp.passage.text for sp in store.iter_passages())
    for chrome in BOILERPLATE:
        assert chrome not in stored, chrome
    for sentence in ["U.S. intelligence officials have carefully tracked", "according to Lee.", "Author"[:0]]:
        assert sentence in stored


def test_offsets_and_sentences_match_the_document(
    store: ChromaStore, seeds: list[Document], verity: Verity
) -> None:
    _index(seeds, store, verity)
    texts = {d.id: d.text for d in seeds}
    count = 0
    for sp in store.iter_passages():
        text = texts[sp.passage.document_id]
        assert text[sp.passage.start : sp.passage.end] == sp.passage.text
        for sentence in sp.passage.sentences:
            assert text[sentence.start : sentence.end] == sentence.text
            count += 1
    assert count > 50


def test_reindexing_is_idempotent(store: ChromaStore, seeds: list[Document], verity: Verity) -> None:
    first = _index(seeds, store, verity)
    ids = sorted(sp.id for sp in store.iter_passages())
    again = index_documents(seeds, store, verity.embedder, verity.analyzer, prune=True, progress=False)
    assert again.written == 0 and again.unchanged == len(seeds) and again.passages == 0, (first, again)
    assert sorted(sp.id for sp in store.iter_passages()) == ids


def test_changed_and_removed_documents(store: ChromaStore, seeds: list[Document], verity: Verity) -> None:
    _index(seeds, store, verity)
    changed = replace(seeds[0], text=seeds[0].text + "\n\nA new closing paragraph was added by the editors.")
    summary = index_documents(
        [changed, *seeds[2:]], store, verity.embedder, verity.analyzer, prune=True, progress=False
    )
    assert summary.written == 1 and summary.removed == 1
    ids = {sp.passage.document_id for sp in store.iter_passages()}
    assert seeds[1].id not in ids and store.get_document(seeds[1].id) is None
    mine = [sp for sp in store.iter_passages() if sp.passage.document_id == changed.id]
    assert any("new closing paragraph" in sp.passage.text for sp in mine)
    assert len({sp.id.split(":")[1] for sp in mine}) == 1  # only the new version's passages remain
    stored = store.get_document(changed.id)
    assert stored is not None and stored.document.text == changed.text and stored.passages == len(mine)


def test_near_duplicates_are_recorded_across_documents(
    store: ChromaStore, seeds: list[Document], verity: Verity
) -> None:
    summary = _index(seeds, store, verity)
    passages = {sp.id: sp.passage for sp in store.iter_passages()}
    marked = [p for p in passages.values() if p.duplicate_of]
    assert marked, summary
    for p in marked:
        for other in p.duplicate_of:
            assert passages[other].document_id != p.document_id
    # 001 paraphrases 000: the Bolton/Pompeo paragraph is recorded as a duplicate of its original wording
    bolton = [p for p in marked if "Bolton" in p.text and "drone" in p.text]
    assert {p.document_id[:3] for p in bolton} == {"000", "001"}


def test_a_near_duplicate_written_later_is_linked_both_ways_without_rewriting_the_first(
    store: ChromaStore, seeds: list[Document], verity: Verity
) -> None:
    original = next(d for d in seeds if d.id.startswith("000"))
    _index([original], store, verity, prune=False)
    before = {sp.id: sp.passage.duplicate_of for sp in store.iter_passages()}
    assert not any(before.values())
    # a second outlet carries the story, on a later run: its passages name the first ones
    copy = replace(original, id="syndicated-copy", title="Syndicated: " + original.title)
    _index([copy], store, verity, prune=False)
    stored = {sp.id: sp.passage for sp in store.iter_passages()}
    assert {pid: stored[pid].duplicate_of for pid in before} == before  # the first run's records untouched
    named = {pid: p.duplicate_of for pid, p in stored.items() if p.document_id == copy.id and p.duplicate_of}
    assert named and all(set(links) <= set(before) for links in named.values())
    # the retriever reads each link both ways: the first outlet's passages list the copy's
    retriever = HybridRetriever(store, verity.embedder, verity.settings.retrieval, refresh_seconds=3600)
    passages = retriever.corpus.passages
    for pid, links in named.items():
        for other in links:
            assert pid in passages[other].duplicate_of and other in passages[pid].duplicate_of


# -- groups, the writer thread and batched writes ----------------------------------------------------------
def _article(n: int, extra: str = "") -> Document:
    paragraphs = [
        f"Council {n} met on day {n} in the town of Harbor{n}. It voted on plan {n} after a long debate.",
        f"The plan numbered {n} costs {n * 3} million dollars. Residents of Harbor{n} asked for a delay.",
        f"Engineers said work on plan {n} could start in spring. The mayor of Harbor{n} welcomed the vote.",
    ]
    return Document(id=f"art{n:03d}", title=f"Plan {n}", text="\n\n".join(paragraphs) + extra)


def _snapshot(store: ChromaStore) -> tuple[dict[str, str], dict[str, tuple[str, tuple[str, ...]]]]:
    """The documents' digests and the passages with their near-duplicates as the retriever reads them (a
    link is stored on the newer passage only, so which side holds it depends on the order of writes)."""
    digests = store.document_digests()
    stored = {sp.id: sp.passage for sp in store.iter_passages()}
    symmetrize(stored)
    return digests, {pid: (p.text, tuple(p.duplicate_of)) for pid, p in stored.items()}


def test_groups_are_whole_documents_with_a_small_last_group() -> None:
    from index.indexer import _groups

    def sizes(counts: list[int], size: int = 2048) -> list[int]:
        todo = [(_article(i), "", [object()] * n) for i, n in enumerate(counts)]
        return [sum(len(p) for _, _, p in group) for group in _groups(todo, size)]  # type: ignore[arg-type]

    assert sizes([18] * 556) == [2052, 2052, 2052, 2052, 1296, 504]  # the last one is written alone
    assert sizes([18] * 55) == [522, 468]
    assert sizes([5]) == [5] and sizes([3, 2]) == [5] and sizes([]) == []
    assert sizes([3000, 10, 10]) == [3000, 20]  # a long document is a group of its own


def test_many_groups_store_what_one_group_stores(
    tmp_path: Path, seeds: list[Document], verity: Verity, monkeypatch: pytest.MonkeyPatch
) -> None:
    import index.indexer as indexer

    one = ChromaStore(connect(tmp_path / "one"), "one")
    many = ChromaStore(connect(tmp_path / "many"), "many")
    docs = [*seeds, *(_article(n) for n in range(6))]
    first = index_documents(docs, one, verity.embedder, verity.analyzer, progress=False)
    monkeypatch.setattr(indexer, "_GROUP", 8)  # a group every document or two
    second = index_documents(docs, many, verity.embedder, verity.analyzer, progress=False)
    assert (first.written, first.passages) == (second.written, second.passages) == (len(docs), one.count())
    assert first.duplicates == second.duplicates > 0
    assert _snapshot(one) == _snapshot(many)  # same passages, same near-duplicates across groups
    assert {d.document.id: d.passages for d in one.list_documents()} == {
        d.document.id: d.passages for d in many.list_documents()
    }


def test_the_writer_parses_a_group_while_the_model_embeds_it(
    store: ChromaStore, verity: Verity, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    parsing = threading.Event()
    analyse, encode = verity.analyzer.analyse, verity.embedder.encode

    def spy(texts: list[str]) -> list[str]:
        parsing.set()
        return analyse(texts)

    def embed_once_parsing(texts: list[str], **options: object) -> object:
        assert parsing.wait(timeout=20), "the group's parse waited for its embedding"
        return encode(texts, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(verity.analyzer, "analyse", spy)
    monkeypatch.setattr(verity.embedder, "encode", embed_once_parsing)
    docs = [_article(n) for n in range(3)]  # one group
    summary = index_documents(docs, store, verity.embedder, verity.analyzer, progress=False)
    assert summary.written == 3 and store.document_digests() == {d.id: content_hash(d) for d in docs}


def test_a_group_is_written_once_the_model_has_started_on_the_next(
    store: ChromaStore, verity: Verity, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    import index.indexer as indexer

    monkeypatch.setattr(indexer, "_GROUP", 6)
    events: list[tuple[str, int]] = []
    encode, put = verity.embedder.encode, ChromaStore.put_documents
    embedded = 0

    def spy_encode(texts: list[str], **options: object) -> object:
        nonlocal embedded
        embedded += 1
        time.sleep(0.2)  # the model's Python work before its forwards run (tokenising): the writer waits
        events.append(("embed", embedded))
        return encode(texts, **options)  # type: ignore[arg-type]

    def spy_put(self: ChromaStore, batch: list) -> list[list[str]]:  # type: ignore[type-arg]
        events.append(("write", len([e for e in events if e[0] == "write"]) + 1))
        return put(self, batch)

    monkeypatch.setattr(verity.embedder, "encode", spy_encode)
    monkeypatch.setattr(ChromaStore, "put_documents", spy_put)
    docs = [_article(n) for n in range(12)]
    summary = index_documents(docs, store, verity.embedder, verity.analyzer, progress=False)
    assert summary.written == 12 and store.document_digests() == {d.id: content_hash(d) for d in docs}
    groups = embedded
    assert groups >= 3 and len([e for e in events if e[0] == "write"]) == groups
    for number in range(1, groups):  # the embedded Chroma client holds the GIL through a write
        assert events.index(("embed", number + 1)) < events.index(("write", number)), events


def test_a_sentence_met_again_is_embedded_and_parsed_once(
    store: ChromaStore, verity: Verity, monkeypatch: pytest.MonkeyPatch
) -> None:
    import index.indexer as indexer

    monkeypatch.setattr(indexer, "_GROUP", 4)  # the repeats fall in other groups too
    wire = "The agency said the figures would be revised next month."
    docs = [
        Document(id=f"w{n}", title=f"Report {n}", text=f"Output rose {n} percent in the quarter. {wire}\n\n"
                 f"Analysts had expected a smaller rise. {wire}")
        for n in range(6)
    ]  # fmt: skip
    seen: dict[str, list[str]] = {"embed": [], "parse": []}
    encode, analyse = verity.embedder.encode, verity.analyzer.analyse

    def spy_encode(texts: list[str], **options: object) -> object:
        seen["embed"].extend(texts)
        return encode(texts, **options)  # type: ignore[arg-type]

    def spy_analyse(texts: list[str]) -> list[str]:
        seen["parse"].extend(texts)
        return analyse(texts)

    submit = indexer.ParseWorker.submit

    def spy_submit(worker: object, texts: list[str]) -> object:  # several groups: parsed in a worker
        seen["parse"].extend(texts)
        return submit(worker, texts)  # type: ignore[arg-type]

    monkeypatch.setattr(verity.embedder, "encode", spy_encode)
    monkeypatch.setattr(verity.analyzer, "analyse", spy_analyse)
    monkeypatch.setattr(indexer.ParseWorker, "submit", spy_submit)
    index_documents(docs, store, verity.embedder, verity.analyzer, progress=False)
    sentences = [s.text for d in docs for p in split_passages(d) for s in p.sentences]
    assert sentences.count(wire) == 12
    for texts in seen.values():
        assert sorted(texts) == sorted(set(sentences))  # each distinct sentence once
    passages = {sp.id: sp.passage for sp in store.iter_passages()}
    records = store.sentence_records(passages)
    repeats = [
        records[f"{pid}:{i:02d}"]
        for pid, p in passages.items()
        for i, s in enumerate(p.sentences)
        if s.text == wire
    ]
    assert len(repeats) == 12  # stored with every passage that has it, the same vector and analysis
    assert all(
        np.array_equal(r.vector, repeats[0].vector) and r.analysis == repeats[0].analysis for r in repeats
    )


def test_a_failing_write_stops_indexing_and_leaves_only_whole_documents(
    store: ChromaStore, verity: Verity, monkeypatch: pytest.MonkeyPatch
) -> None:
    import index.indexer as indexer

    docs = [_article(n) for n in range(12)]
    index_documents(docs[:4], store, verity.embedder, verity.analyzer, progress=False)
    before = _snapshot(store)
    changed = [_article(n, "\n\nA late amendment was tabled.") for n in range(4)] + docs[4:]
    monkeypatch.setattr(indexer, "_GROUP", 6)
    real = ChromaStore.put_documents
    calls = 0

    def flaky(self: ChromaStore, batch: list) -> list[list[str]]:  # type: ignore[type-arg]
        nonlocal calls
        calls += 1
        if calls == 2:
            raise ConnectionError("store went away")
        return real(self, batch)

    monkeypatch.setattr(ChromaStore, "put_documents", flaky)
    with pytest.raises(ConnectionError, match="store went away"):
        index_documents(changed, store, verity.embedder, verity.analyzer, progress=False)
    assert calls == 2  # no group is written after the failure
    digests, passages = _snapshot(store)
    assert 0 < len(set(digests.items()) - set(before[0].items())) < len(changed)
    for doc_id, digest in digests.items():  # every recorded document has exactly its passages
        mine = [pid for pid in passages if pid.startswith(f"{doc_id}:{digest}:")]
        stored = store.get_document(doc_id)
        assert stored is not None and len(mine) == stored.passages > 0
    monkeypatch.setattr(ChromaStore, "put_documents", real)
    index_documents(
        changed, store, verity.embedder, verity.analyzer, progress=False
    )  # a rerun completes the rest
    assert store.document_digests() == {d.id: content_hash(d) for d in changed}


def test_a_failing_embedding_stops_the_writer_after_what_it_was_given(
    store: ChromaStore, verity: Verity, monkeypatch: pytest.MonkeyPatch
) -> None:
    import index.indexer as indexer

    monkeypatch.setattr(indexer, "_GROUP", 6)
    encode = verity.embedder.encode
    calls = 0

    def failing(texts: list[str], **options: object) -> object:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise KeyboardInterrupt
        return encode(texts, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(verity.embedder, "encode", failing)
    with pytest.raises(KeyboardInterrupt):
        index_documents(
            [_article(n) for n in range(12)], store, verity.embedder, verity.analyzer, progress=False
        )
    digests, passages = _snapshot(store)
    # the group being written is finished, the one waiting for the writer may be dropped: whole
    # documents of the groups embedded before the failure, and no passage without its record
    assert set(digests) in ({"art000", "art001"}, {"art000", "art001", "art002", "art003"})
    assert {pid.split(":")[0] for pid in passages} == set(digests)


def test_a_failed_record_write_rolls_back_only_uncommitted_documents(
    store: ChromaStore, verity: Verity, monkeypatch: pytest.MonkeyPatch
) -> None:
    import index.store as store_module

    old = [_article(n) for n in range(5)]
    index_documents(old, store, verity.embedder, verity.analyzer, progress=False)
    before = _snapshot(store)
    new = [_article(n, "\n\nThe vote was postponed.") for n in range(5)]
    batch = []
    for d in new:
        passages = split_passages(d, 3)
        texts = [s.text for p in passages for s in p.sentences]
        vectors = verity.embedder.encode(texts)
        batch.append(
            Version(d, content_hash(d), passages, verity.embedder.encode([p.text for p in passages]),
                    vectors, verity.analyzer.analyse(texts))
        )  # fmt: skip
    monkeypatch.setattr(store_module, "_RECORDS", 2)
    upsert = store.documents.upsert
    calls = 0

    def flaky(**kwargs: object) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise ConnectionError("reset by peer")
        upsert(**kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(store.documents, "upsert", flaky)
    with pytest.raises(ConnectionError):
        store.put_documents(batch)
    digests, passages = _snapshot(store)
    committed = {d.id for d in new[:2]}
    assert digests == {d.id: content_hash(d) if d.id in committed else before[0][d.id] for d in new}
    for doc_id, digest in digests.items():  # the new version of the first two, the old one of the rest
        assert {pid.rsplit(":", 2)[1] for pid in passages if pid.startswith(f"{doc_id}:")} == {digest}


def test_the_retriever_sees_an_index_on_the_next_query(
    tmp_path: Path, verity: Verity, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = ChromaStore(connect(tmp_path / "lazy"), "lazy")
    retriever = HybridRetriever(store, verity.embedder, verity.settings.retrieval, refresh_seconds=3600)
    retriever.refresh(force=True)
    rebuilds = 0
    rebuild = retriever._rebuild

    def counted() -> None:
        nonlocal rebuilds
        rebuilds += 1
        rebuild()

    monkeypatch.setattr(retriever, "_rebuild", counted)
    index_documents([_article(7)], store, verity.embedder, verity.analyzer, progress=False)
    assert retriever.retrieve("Harbor7 plan delay") == []  # not invalidated: the next check is far off
    retriever.invalidate()
    assert rebuilds == 0  # invalidating costs nothing by itself
    hits = retriever.retrieve("Harbor7 plan delay")
    assert hits and hits[0].passage.document_id == "art007" and rebuilds == 1
    retriever.retrieve("Harbor7 plan delay")
    assert rebuilds == 1  # once per invalidation


def test_a_run_smaller_than_four_groups_goes_in_quarters() -> None:
    """So that its writes overlap the model's work on the next group, as a large run's do."""
    import index.indexer as indexer

    assert indexer._group_size(100_000) == indexer._GROUP
    assert indexer._group_size(4000) == 1000 and indexer._group_size(1000) == indexer._MIN_GROUP
    assert indexer._group_size(3) == indexer._MIN_GROUP  # one group: a one-document add
