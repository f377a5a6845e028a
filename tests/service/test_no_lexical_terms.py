"""A corpus whose passages hold no lexical (BM25) term at all must still be answered from, not a 500.

Found by the schemathesis contract run (seed 13, 100 examples, open reads): its stateful phase deleted
the seed articles and left only generated ones such as "It is. It was." (stopwords and one-letter
words only). bm25s then indexes an empty vocabulary and fails (`max() arg is an empty sequence` on
rebuild, a division by zero when scoring), so `POST /v1/ask`, `POST /v1/verify` and
`DELETE /v1/documents/{id}` answered 500. The retriever now falls back on dense retrieval alone.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from service.answering.pipeline import Verity
from service.config import Settings
from service.http.app import create_app

KEY = "lexical-test-key"


@pytest.fixture(scope="module")
def empty_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """The real app over a store of its own that starts empty (an empty corpus folder)."""
    root = tmp_path_factory.mktemp("no-lexical-terms")
    (root / "corpus").mkdir()
    settings = Settings(data_dir=root / "data", corpus_dir=root / "corpus", api_keys=[SecretStr(KEY)])
    with TestClient(create_app(settings, verity=Verity(settings)), raise_server_exceptions=False) as client:
        deadline = time.monotonic() + 120
        while client.get("/healthz").status_code != 200:
            assert time.monotonic() < deadline, "the app did not become ready"
            time.sleep(0.1)
        yield client


def test_an_article_of_stopwords_only_is_answered_from(empty_client: TestClient) -> None:
    auth = {"Authorization": f"Bearer {KEY}"}
    article = {"id": "stopwords", "title": "T", "text": "It is. It was."}
    written = empty_client.post("/v1/documents", headers=auth, json={"documents": [article]})
    assert written.status_code == 200, written.text
    assert written.json()["documents"][0]["passages"] == 1
    ask = empty_client.post("/v1/ask", json={"question": "What was it?"})
    verify = empty_client.post("/v1/verify", json={"claim": "It was."})
    deleted = empty_client.delete("/v1/documents/stopwords", headers=auth)
    assert (ask.status_code, verify.status_code, deleted.status_code) == (200, 200, 204), (
        ask.text,
        verify.text,
        deleted.text,
    )
