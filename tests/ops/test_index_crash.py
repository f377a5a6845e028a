"""`verity index` killed (SIGKILL) midway, then run again: the store ends up exactly as a clean run
leaves it — every document's passages present once, under the ids a clean run gives, nothing else.

Content-derived passage ids make writes idempotent, and a document's record (with its content hash) is
written only after its passages, so the rerun redoes the documents the kill interrupted and skips the
ones it finished.
"""

from __future__ import annotations

import json
import random
import re
import subprocess
from collections import Counter
from pathlib import Path

import chromadb
from ops_topology import BIN, ChromaServer, reaped, subprocess_env, wait_for

from index.loaders import load_documents
from index.split import split_passages
from index.store import ChromaStore, connect, content_hash, passage_id

DOCUMENTS = 200
COLLECTION = "ops_crash"  # beside the served app's collection on the same server, never touching it
_PLACES = ["Aldport", "Brenmoor", "Calvera", "Dunmere", "Eskholt", "Farrowby", "Glenhaven", "Hartwell"]
_THINGS = ["bridge", "library", "ferry line", "school", "market hall", "water plant", "clinic", "stadium"]
_PEOPLE = ["Ada Brandt", "Tomas Ruiz", "Ines Kovac", "Omar Haddad", "Lena Fischer", "Ravi Menon"]
_MONTHS = ["January", "March", "May", "July", "September", "November"]


def write_corpus(path: Path) -> Path:
    """A few hundred small, distinct articles (2–3 passages each) in one JSONL file."""
    rng = random.Random(20240611)
    lines = []
    for n in range(DOCUMENTS):
        place, thing, person = rng.choice(_PLACES), rng.choice(_THINGS), rng.choice(_PEOPLE)
        month, year, cost = rng.choice(_MONTHS), rng.randint(1990, 2023), rng.randint(2, 900)
        sentences = [
            f"The council of {place} approved a new {thing} in {month} {year}, report number {n}.",
            f"It will cost {cost} million dollars and open within {rng.randint(2, 9)} years.",
            f"{person}, who chairs committee {n % 37}, said {rng.randint(10, 99)} residents spoke.",
            f"Opponents collected {rng.randint(100, 9000)} signatures against the plan.",
            f"The vote was {rng.randint(5, 9)} to {rng.randint(0, 4)} after {rng.randint(2, 7)} hours.",
            f"Construction firms from {rng.choice(_PLACES)} may bid until {rng.choice(_MONTHS)} {year + 1}.",
            f"A second hearing on case {n * 7 + 3} is planned for the autumn.",
        ][: rng.randint(4, 6)]
        title = f"{place} approves {thing} ({n})"
        lines.append(json.dumps({"id": f"gen_{n:04d}", "title": title, "text": " ".join(sentences)}))
    path.mkdir(parents=True, exist_ok=True)
    (path / "generated.jsonl").write_text("\n".join(lines) + "\n")
    return path


def index_command(corpus: Path, chroma: ChromaServer, tmp: Path, log: Path) -> subprocess.Popen[bytes]:
    env = subprocess_env(
        chroma_url=chroma.url, collection=COLLECTION, data_dir=str(tmp / "data"), log_level="warning"
    )
    with log.open("wb") as out:  # a file, not a pipe: a full pipe would block the indexer
        return subprocess.Popen(
            [str(BIN / "verity"), "index", str(corpus)],
            cwd=tmp,  # no stray .env is read
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )


def test_killed_indexing_reruns_to_exactly_a_clean_index(chroma: ChromaServer, tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "corpus")
    documents = load_documents(corpus)
    assert len(documents) == DOCUMENTS
    expected: dict[str, tuple[str, str]] = {}  # passage id -> (document id, passage text)
    for doc in documents:
        digest = content_hash(doc)
        for passage in split_passages(doc, 3):
            expected[passage_id(doc, digest, passage.position)] = (doc.id, passage.text)
    per_document = Counter(doc_id for doc_id, _ in expected.values())
    assert min(per_document.values()) >= 2

    server = chromadb.HttpClient(host="127.0.0.1", port=chroma.port)

    def written() -> int:
        return int(server.get_collection(f"{COLLECTION}_documents").count())

    first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"
    with reaped(index_command(corpus, chroma, tmp_path, first_log)) as first:
        wait_for(
            lambda: first.poll() is not None or written() >= DOCUMENTS // 5,
            300,
            "the first `verity index` writing documents",
            interval=0.02,
        )
        assert first.poll() is None, f"finished before it could be killed:\n{first_log.read_text()}"
        first.kill()
        first.wait(timeout=10)
    partial = written()
    assert 0 < partial < DOCUMENTS, partial

    with reaped(index_command(corpus, chroma, tmp_path, second_log)) as second:
        second.wait(timeout=300)
    output = second_log.read_text()
    assert second.returncode == 0, output
    summary = re.search(r"(\d+) documents \((\d+) written, (\d+) unchanged", output)
    assert summary, output
    total, rewritten, unchanged = map(int, summary.groups())
    assert total == DOCUMENTS and unchanged == partial and rewritten == DOCUMENTS - unchanged, summary

    store = ChromaStore(connect(url=chroma.url), COLLECTION)
    stored = list(store.iter_passages())
    ids = [sp.id for sp in stored]
    assert len(ids) == len(set(ids)) == len(expected), (len(ids), len(set(ids)), len(expected))
    assert set(ids) == set(expected), sorted(set(ids) ^ set(expected))[:5]
    for sp in stored:
        assert (sp.passage.document_id, sp.passage.text) == expected[sp.id], sp.id
    assert Counter(sp.passage.document_id for sp in stored) == per_document
    assert store.document_digests() == {doc.id: content_hash(doc) for doc in documents}
    assert {d.document.id: d.passages for d in store.list_documents()} == dict(per_document)
