"""`POST /v1/documents` with `{"url"}` and `{"html"}` items, the URLs served by a real HTTP server on
loopback: each failing URL is reported on its item and the rest is written; the page's date, author and
URL reach `GET /v1/documents` and citations; a rerun finds everything unchanged."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from local_site import PAGES, Site
from pydantic import SecretStr

from index.sources import url_id
from service.answering.pipeline import Verity
from service.config import FetchSettings, Settings
from service.http.app import create_app

KEY = "web-test-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
PREFIX = "web-test-"


@pytest.fixture(scope="module")
def keyed(
    settings: Settings, verity: Verity, wait_healthy: Callable[[TestClient], Any]
) -> Iterator[TestClient]:
    # the pages are served on loopback, which API clients may not make the server fetch by default
    fetch = FetchSettings(timeout=1.0, retries=1, backoff=0.01, max_bytes=100_000, api_public_only=False)
    test_settings = settings.model_copy(update={"api_keys": [SecretStr(KEY)], "fetch": fetch})
    with TestClient(create_app(test_settings, verity=verity)) as client:
        wait_healthy(client)
        yield client


@pytest.fixture
def news(site: Site, verity: Verity) -> Iterator[Site]:
    site.page("/news/sea-wall.html", "harbour-wall.html")
    site.page("/news/ferry-strike.html", "ferry-strike.html")
    site.add("/robots.txt", "User-agent: *\nDisallow: /private/\n", content_type="text/plain")
    site.page("/private/memo.html", "ferry-strike.html")
    site.add("/photo.png", b"\x89PNG\r\n", content_type="image/png")
    site.page("/login.html", "login.html")
    yield site
    for stored in verity.documents():
        if stored.document.id.startswith(PREFIX) or stored.document.id == url_id(
            site.url("/news/sea-wall.html")
        ):
            verity.store.delete_document(stored.document.id)
    verity.retriever.refresh(force=True)


def post(client: TestClient, *items: dict[str, Any]) -> Any:
    return client.post("/v1/documents", json={"documents": list(items)}, headers=AUTH)


def test_urls_and_html_are_written_and_failing_urls_reported(keyed: TestClient, news: Site) -> None:
    wall = news.url("/news/sea-wall.html")
    items = [
        {"url": wall},
        {"url": news.url("/news/gone.html"), "id": PREFIX + "gone"},
        {"url": news.url("/photo.png"), "id": PREFIX + "photo"},
        {"url": news.url("/private/memo.html"), "id": PREFIX + "memo"},
        {"url": news.url("/login.html"), "id": PREFIX + "login"},
        {"id": PREFIX + "ferry", "html": (PAGES / "ferry-strike.html").read_text(), "author": "Sam Poe"},
    ]
    response = post(keyed, *items)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["written"], body["unchanged"], body["failed"]) == (2, 0, 4)
    results = body["documents"]
    assert [(r["id"], r["status"]) for r in results] == [
        (url_id(wall), "written"),
        (PREFIX + "gone", "failed"),
        (PREFIX + "photo", "failed"),
        (PREFIX + "memo", "failed"),
        (PREFIX + "login", "failed"),
        (PREFIX + "ferry", "written"),
    ]
    assert [r["error"]["code"] for r in results[1:5]] == ["not_found", "not_html", "disallowed", "no_text"]
    assert "HTTP 404" in results[1]["error"]["message"] and results[0]["error"] is None
    assert news.asked("/private/memo.html") == 0  # robots.txt is respected

    page = keyed.get(f"/v1/documents/{url_id(wall)}").json()
    assert (page["title"], page["author"], page["published"], page["url"]) == (
        "Harbour council approves new sea wall",
        "Jane Roe",
        "2024-03-05",
        wall,
    )
    assert page["text"].startswith("The city council voted 7-2 on Tuesday")
    ferry = keyed.get(f"/v1/documents/{PREFIX}ferry").json()
    assert (ferry["title"], ferry["author"], ferry["published"]) == (
        "Ferry crews strike over rotas",
        "Sam Poe",
        "2024-03-07",
    )
    listed = {d["id"]: d for d in keyed.get("/v1/documents").json()}
    assert listed[url_id(wall)]["published"] == "2024-03-05" and listed[url_id(wall)]["url"] == wall

    # the date reaches citations (the verifier's evidence is cited like an answer's sentences)
    claim = "Engineers said the new harbour sea wall would cost about $40 million."
    verdict = keyed.post("/v1/verify", json={"claim": claim}).json()  # whatever the verdict, its evidence
    cited = [c for c in verdict["evidence"] if c["document_id"] == url_id(wall)]
    assert cited and all(c["published"] == "2024-03-05" for c in cited), verdict
    assert all(page["text"][c["start"] : c["end"]] == c["text"] for c in cited)

    again = post(keyed, *items).json()  # a rerun: nothing written again, the failures reported again
    assert (again["written"], again["unchanged"], again["failed"]) == (0, 2, 4)


def test_a_request_whose_every_url_fails_is_an_error(keyed: TestClient, news: Site, verity: Verity) -> None:
    count = verity.store.count()
    response = post(keyed, {"url": news.url("/news/gone.html")}, {"url": news.url("/photo.png")})
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "fetch_failed"
    assert "HTTP 404" in error["message"] and "not an HTML page (image/png)" in error["message"]
    assert verity.store.count() == count


BAD_ITEMS = {
    "html without article text": (
        {"id": PREFIX + "x", "html": "<html><body><form></form></body></html>"},
        "no article text",
    ),
    "not an http URL": ({"url": "ftp://example.com/a"}, "documents.0.url: String should match pattern"),
    "html without id": ({"html": "<p>Hello.</p>"}, "documents.0.id: Field required"),
    "text and html": ({"id": PREFIX + "x", "title": "T", "text": "A.", "html": "<p>A.</p>"}, "Extra inputs"),
    "a bad id for a URL": ({"url": "https://example.com/a", "id": "a/b"}, "id must not contain a slash"),
}


@pytest.mark.parametrize("case", BAD_ITEMS.values(), ids=BAD_ITEMS.keys())
def test_bad_html_and_url_items_are_a_clear_422(
    keyed: TestClient, verity: Verity, case: tuple[Any, str]
) -> None:
    item, text = case
    count = verity.store.count()
    response = post(keyed, item)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "invalid_request"
    assert text in response.json()["error"]["message"]
    assert verity.store.count() == count


def test_by_default_api_urls_must_be_public(
    settings: Settings, verity: Verity, news: Site, wait_healthy: Callable[[TestClient], Any]
) -> None:
    assert FetchSettings().api_public_only
    locked = settings.model_copy(update={"api_keys": [SecretStr(KEY)]})
    with TestClient(create_app(locked, verity=verity)) as client:
        wait_healthy(client)
        response = post(client, {"url": news.url("/news/sea-wall.html")})
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "fetch_failed"
    assert "127.0.0.1 is not a public address" in response.json()["error"]["message"]
    assert news.requests == []
