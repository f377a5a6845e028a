"""Writes over HTTP (`POST /v1/documents`, `DELETE /v1/documents/{id}`) and API keys: a posted article is
answerable at once with exact citations, writes need a key (and are off without configured keys), reads
can be made to need one, and a store failure midway through a replace leaves the previous version intact
and answerable. Every article written here is deleted again, so the session's seed index is unchanged."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from service.answering.pipeline import Verity
from service.config import Settings
from service.http.app import create_app

KEY, OTHER_KEY = "test-key-one", "test-key-two"
AUTH = {"Authorization": f"Bearer {KEY}"}
PREFIX = "writes-test-"

LANTERN_V1 = (
    "The Kettering Lantern Festival drew 4,200 visitors on Saturday, organisers said. "
    "The festival was founded in 1987 by the potter Miriam Osei. "
    "This year the main prize went to a lantern shaped like a heron, made by students of Barton College."
)
LANTERN_V2 = (
    "The Kettering Lantern Festival drew 9,700 visitors on Saturday, a record, organisers said. "
    "The festival was founded in 1987 by the potter Miriam Osei. "
    "This year the main prize went to a lantern shaped like a whale, made by pupils of Hanwell School."
)
VISITORS = "How many visitors did the Kettering Lantern Festival draw?"


def article(doc_id: str, text: str = LANTERN_V1, **extra: Any) -> dict[str, Any]:
    return {"id": PREFIX + doc_id, "title": "Kettering lantern festival draws crowds", "text": text, **extra}


def post(client: TestClient, *documents: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
    return client.post(
        "/v1/documents", json={"documents": list(documents)}, headers=AUTH if headers is None else headers
    )


def assert_error(response: Any, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code, error
    assert isinstance(error["message"], str) and error["message"]
    return str(error["message"])


def cited_texts(client: TestClient, body: dict[str, Any]) -> list[str]:
    """Each citation's text, checked to be the exact span of its document's current text."""
    texts = []
    for citation in body["citations"]:
        document = client.get(f"/v1/documents/{citation['document_id']}")
        assert document.status_code == 200, document.text
        assert document.json()["text"][citation["start"] : citation["end"]] == citation["text"], citation
        texts.append(citation["text"])
    return texts


def _remove_test_documents(verity: Verity) -> None:
    for stored in verity.documents():
        if stored.document.id.startswith(PREFIX):
            verity.store.delete_document(stored.document.id)
    verity.retriever.refresh(force=True)


@pytest.fixture(scope="module")
def keyed(
    settings: Settings, verity: Verity, wait_healthy: Callable[[TestClient], Any]
) -> Iterator[TestClient]:
    keyed_settings = settings.model_copy(update={"api_keys": [SecretStr(KEY), SecretStr(OTHER_KEY)]})
    with TestClient(create_app(keyed_settings, verity=verity)) as client:
        wait_healthy(client)
        yield client


@pytest.fixture(autouse=True)
def _clean_store(verity: Verity) -> Iterator[None]:
    yield
    _remove_test_documents(verity)


# -- auth -----------------------------------------------------------------------------------------------
def test_writes_are_disabled_without_configured_keys(client: TestClient) -> None:
    """The session app has no VERITY_API_KEYS: writes are refused, with or without a key, never open —
    a 401 without one (authentication is required), a 403 with one (none can work); both say why."""
    for headers, status, code in (({}, 401, "unauthorized"), (AUTH, 403, "forbidden")):
        message = assert_error(post(client, article("closed"), headers=headers), status, code)
        assert "VERITY_API_KEYS" in message
        assert_error(client.delete(f"/v1/documents/{PREFIX}closed", headers=headers), status, code)
    assert_error(client.get(f"/v1/documents/{PREFIX}closed"), 404, "not_found")


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        ({}, 401, "unauthorized"),
        ({"Authorization": f"Basic {KEY}"}, 401, "unauthorized"),
        ({"Authorization": "Bearer"}, 401, "unauthorized"),
        ({"Authorization": "Bearer not-the-key"}, 403, "forbidden"),
        ({"Authorization": f"Bearer {KEY}x"}, 403, "forbidden"),
    ],
    ids=["no header", "basic scheme", "empty bearer", "wrong key", "key with a suffix"],
)
def test_writes_need_a_valid_key(keyed: TestClient, headers: dict[str, str], status: int, code: str) -> None:
    response = post(keyed, article("denied"), headers=headers)
    message = assert_error(response, status, code)
    if status == 401:
        assert response.headers["www-authenticate"] == "Bearer"
        assert "Authorization: Bearer" in message
    assert_error(keyed.delete(f"/v1/documents/{PREFIX}denied", headers=headers), status, code)
    assert_error(keyed.get(f"/v1/documents/{PREFIX}denied"), 404, "not_found")


def test_auth_comes_before_validation(keyed: TestClient) -> None:
    """Without a key, even a malformed body gets the 401, so nothing about the route leaks."""
    assert_error(keyed.post("/v1/documents", json={"nonsense": 1}), 401, "unauthorized")


def test_reads_can_require_a_key(
    settings: Settings, verity: Verity, wait_healthy: Callable[[TestClient], Any]
) -> None:
    locked = settings.model_copy(update={"api_keys": [SecretStr(KEY)], "auth_reads": True})
    with TestClient(create_app(locked, verity=verity)) as client:
        wait_healthy(client)  # /healthz stays open for probes
        requests = [
            ("GET", "/v1/documents", None),
            ("GET", f"/v1/documents/{verity.documents()[0].document.id}", None),
            ("POST", "/v1/verify", {"claim": "Soleimani was killed in Baghdad."}),
            ("POST", "/v1/ask", {"question": "In which city was Soleimani killed?"}),
            ("POST", "/v1/chat/completions", {"messages": [{"role": "user", "content": "Who?"}]}),
            ("GET", "/v1/models", None),
        ]
        for method, path, body in requests:
            assert_error(client.request(method, path, json=body), 401, "unauthorized")
            wrong = {"Authorization": "Bearer wrong"}
            assert_error(client.request(method, path, json=body, headers=wrong), 403, "forbidden")
        for method, path, body in requests[:3]:
            response = client.request(method, path, json=body, headers=AUTH)
            assert response.status_code == 200, (path, response.text)
        assert client.get("/metrics").status_code == 200


def test_reads_are_open_by_default(keyed: TestClient) -> None:
    assert keyed.get("/v1/documents").status_code == 200
    assert keyed.get("/v1/documents", headers={"Authorization": "Bearer wrong"}).status_code == 200


def test_keys_come_from_a_comma_separated_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VERITY_API_KEYS", " k1, k2 ,,")
    assert [k.get_secret_value() for k in Settings().api_keys] == ["k1", "k2"]
    monkeypatch.setenv("VERITY_API_KEYS", '["k3"]')
    assert [k.get_secret_value() for k in Settings().api_keys] == ["k3"]
    monkeypatch.delenv("VERITY_API_KEYS")
    assert Settings().api_keys == []
    assert "k1" not in repr(Settings(api_keys=["k1"]))  # type: ignore[list-item]


# -- writes ---------------------------------------------------------------------------------------------
META = {
    "url": "https://example.org/lantern",
    "published": "2024-06-01",
    "source": "Kettering Courier",
    "author": "Ada Lowe",
}


def test_posted_article_is_answerable_with_exact_citations(keyed: TestClient) -> None:
    response = post(keyed, article("lantern", **META))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["written"] == 1 and body["unchanged"] == 0
    [result] = body["documents"]
    assert result["id"] == PREFIX + "lantern" and result["status"] == "written" and result["passages"] >= 1

    document = keyed.get(f"/v1/documents/{PREFIX}lantern").json()
    assert document["text"] == LANTERN_V1 and document["passages"] == result["passages"]
    assert {key: document[key] for key in META} == META
    assert PREFIX + "lantern" in [d["id"] for d in keyed.get("/v1/documents").json()]

    answer = keyed.post("/v1/ask", json={"question": VISITORS}).json()
    assert answer["status"] == "answered", answer
    assert any("4,200 visitors" in text for text in cited_texts(keyed, answer))

    again = post(keyed, article("lantern", **META), headers={"Authorization": f"Bearer {OTHER_KEY}"})
    assert again.status_code == 200, again.text
    assert again.json()["documents"][0]["status"] == "unchanged" and again.json()["unchanged"] == 1


def test_replacing_an_article_answers_from_the_new_version(keyed: TestClient, verity: Verity) -> None:
    assert post(keyed, article("lantern")).status_code == 200
    replaced = post(
        keyed, article("lantern", LANTERN_V2), article("second", LANTERN_V1.replace("Kettering", "Corby"))
    )
    assert replaced.status_code == 200, replaced.text
    assert [d["status"] for d in replaced.json()["documents"]] == ["written", "written"]
    assert keyed.get(f"/v1/documents/{PREFIX}lantern").json()["text"] == LANTERN_V2
    answer = keyed.post("/v1/ask", json={"question": VISITORS}).json()
    texts = cited_texts(keyed, answer)
    assert any("9,700 visitors" in t for t in texts) and not any("4,200" in t for t in texts), texts
    stored = verity.store.get_document(PREFIX + "lantern")  # the old passages are gone
    assert stored is not None
    passages = [p for p in verity.store.iter_passages() if p.passage.document_id == PREFIX + "lantern"]
    assert len(passages) == stored.passages and all(f":{stored.digest}:" in p.id for p in passages)


def test_delete_removes_the_article_from_answers(keyed: TestClient, verity: Verity) -> None:
    assert post(keyed, article("lantern")).status_code == 200
    count = verity.store.count()
    response = keyed.delete(f"/v1/documents/{PREFIX}lantern", headers=AUTH)
    assert response.status_code == 204 and response.content == b""
    assert verity.store.count() < count
    assert_error(keyed.get(f"/v1/documents/{PREFIX}lantern"), 404, "not_found")
    answer = keyed.post("/v1/ask", json={"question": VISITORS}).json()
    assert all(c["document_id"] != PREFIX + "lantern" for c in answer["citations"])
    message = assert_error(keyed.delete(f"/v1/documents/{PREFIX}lantern", headers=AUTH), 404, "not_found")
    assert PREFIX + "lantern" in message


BAD_DOCUMENTS: dict[str, tuple[Any, str]] = {
    "slash in id": ({"documents": [article("a/b")]}, "id must not contain a slash"),
    "control character in id": ({"documents": [article("a\x07b")]}, "id must not contain control characters"),
    "empty id": ({"documents": [{**article("x"), "id": ""}]}, "documents.0.id"),
    "blank id": ({"documents": [{**article("x"), "id": "   "}]}, "id must not be empty"),
    "id with spaces around": ({"documents": [{**article("x"), "id": " a "}]}, "whitespace"),
    "dot-dot id": ({"documents": [{**article("x"), "id": ".."}]}, "'.' or '..'"),
    "id too long": ({"documents": [{**article("x"), "id": "a" * 201}]}, "at most 200 characters"),
    "empty text": ({"documents": [article("x", "")]}, "documents.0.text"),
    "blank text": ({"documents": [article("x", " \n ")]}, "text must not be empty"),
    "control character in text": ({"documents": [article("x", "A\x00B.")]}, "text must not contain control"),
    "missing title": (
        {"documents": [{"id": PREFIX + "x", "text": LANTERN_V1}]},
        "documents.0.title: Field required",
    ),
    "extra field": ({"documents": [article("x", colour="red")]}, "Extra inputs are not permitted"),
    "duplicate ids": ({"documents": [article("x"), article("x")]}, "appears more than once"),
    "no documents": ({"documents": []}, "documents: List should have at least 1 item"),
    "too many documents": ({"documents": [article(str(i)) for i in range(101)]}, "at most 100 items"),
    "a bare article": (article("x"), "documents: Field required"),
    "only chrome": (
        {"documents": [article("x", "Follow us on Twitter\nSubscribe now")]},
        "no article text is left",
    ),
}


@pytest.mark.parametrize("case", BAD_DOCUMENTS.values(), ids=BAD_DOCUMENTS.keys())
def test_bad_documents_are_a_clear_422(keyed: TestClient, verity: Verity, case: tuple[Any, str]) -> None:
    body, text = case
    count = verity.store.count()
    message = assert_error(keyed.post("/v1/documents", json=body, headers=AUTH), 422, "invalid_request")
    assert text in message
    assert verity.store.count() == count


# -- atomicity ------------------------------------------------------------------------------------------
def _fail_after(calls: int, real: Callable[..., Any]) -> Callable[..., Any]:
    """`real`, raising a storage error (the server went away) on every call after the first `calls`."""
    made = 0

    def upsert(*args: Any, **kwargs: Any) -> Any:
        nonlocal made
        made += 1
        if made > calls:
            raise ConnectionError("storage failed: connection reset by peer")
        return real(*args, **kwargs)

    return upsert


def _assert_v1_intact(keyed: TestClient, verity: Verity) -> None:
    assert keyed.get(f"/v1/documents/{PREFIX}lantern").json()["text"] == LANTERN_V1
    stored = verity.store.get_document(PREFIX + "lantern")
    assert stored is not None
    passages = [p for p in verity.store.iter_passages() if p.passage.document_id == PREFIX + "lantern"]
    assert passages and all(f":{stored.digest}:" in p.id for p in passages), [p.id for p in passages]
    answer = keyed.post("/v1/ask", json={"question": VISITORS}).json()
    assert answer["status"] == "answered", answer
    texts = cited_texts(keyed, answer)  # offsets still index the text GET returns
    assert any("4,200 visitors" in t for t in texts) and not any("9,700" in t for t in texts), texts


def test_failure_before_the_new_passages_leaves_the_old_version(
    keyed: TestClient, verity: Verity, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two articles in one request, written in one batch; the store fails at their passages: the old
    version stays answerable, and nothing of either new article is left behind."""
    assert post(keyed, article("lantern")).status_code == 200
    monkeypatch.setattr(verity.store.passages, "upsert", _fail_after(0, verity.store.passages.upsert))
    response = post(
        keyed, article("other", LANTERN_V1.replace("Kettering", "Corby")), article("lantern", LANTERN_V2)
    )
    message = assert_error(response, 503, "store_unavailable")
    assert "previous version" in message
    monkeypatch.undo()
    _assert_v1_intact(keyed, verity)
    assert keyed.get(f"/v1/documents/{PREFIX}other").status_code == 404
    retry = post(
        keyed, article("other", LANTERN_V1.replace("Kettering", "Corby")), article("lantern", LANTERN_V2)
    )
    assert [d["status"] for d in retry.json()["documents"]] == ["written", "written"]


def test_failure_after_the_new_passages_leaves_the_old_version(
    keyed: TestClient, verity: Verity, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The new passages are written, then the store fails before the article's record switches over:
    the half-written version is removed again and never cited against the old text."""
    assert post(keyed, article("lantern")).status_code == 200
    monkeypatch.setattr(verity.store.documents, "upsert", _fail_after(0, verity.store.documents.upsert))
    assert_error(post(keyed, article("lantern", LANTERN_V2)), 503, "store_unavailable")
    monkeypatch.undo()
    _assert_v1_intact(keyed, verity)
    retry = post(keyed, article("lantern", LANTERN_V2))
    assert retry.status_code == 200 and retry.json()["documents"][0]["status"] == "written"
    answer = keyed.post("/v1/ask", json={"question": VISITORS}).json()
    assert any("9,700 visitors" in t for t in cited_texts(keyed, answer))


def test_failed_new_article_leaves_nothing_behind(
    keyed: TestClient, verity: Verity, monkeypatch: pytest.MonkeyPatch
) -> None:
    count = verity.store.count()
    monkeypatch.setattr(verity.store.documents, "upsert", _fail_after(0, verity.store.documents.upsert))
    assert_error(post(keyed, article("lantern")), 503, "store_unavailable")
    monkeypatch.undo()
    assert verity.store.count() == count
    assert_error(keyed.get(f"/v1/documents/{PREFIX}lantern"), 404, "not_found")
