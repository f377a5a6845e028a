"""Feeds, URL lists and folders through `load_sources`, against a real HTTP server on loopback: each bad
input is one reported failure and the rest is loaded."""

from __future__ import annotations

from pathlib import Path

import pytest
from local_site import PAGES, Site

from index.fetch import FetchOptions
from index.loaders import LoadError
from index.sources import load_sources, read_url_list, url_id

FAST = FetchOptions(timeout=2.0, retries=1, backoff=0.01, max_bytes=200_000)


def serve_news(site: Site) -> None:
    site.page("/news/sea-wall.html", "harbour-wall.html")
    site.page("/news/ferry-strike.html", "ferry-strike.html")


def test_url_ids_are_readable_and_stable() -> None:
    assert url_id("https://harbour.example/news/sea-wall.html") == url_id(
        "https://harbour.example/news/sea-wall.html"
    )
    assert url_id("https://harbour.example/news/sea-wall.html").startswith("sea-wall-")
    assert url_id("https://harbour.example/").startswith("harbour-example-")
    assert url_id("https://a.example/x?id=1") != url_id("https://a.example/x?id=2")


def test_a_feed_file_fetches_its_entries_and_keeps_the_feed_metadata(site: Site, tmp_path: Path) -> None:
    serve_news(site)
    feed = tmp_path / "local.rss"
    feed.write_text((PAGES / "feed.rss").read_text().replace("{base}", site.base))
    loaded = load_sources([feed], fetch=FAST)

    wall, ferry = loaded.documents
    assert wall.id == url_id(site.url("/news/sea-wall.html"))
    # the feed's title, date (its own day, -05:00) and author win over the page's
    assert (wall.title, wall.published, wall.author) == (
        "Council says yes to the sea wall",
        "2024-03-04",
        "Jane Roe",
    )
    assert (wall.url, wall.source) == (site.url("/news/sea-wall.html"), "Harbour Times: Local")
    assert wall.text.startswith("The city council voted 7-2 on Tuesday")
    assert "Get the Harbour Times app" not in wall.text and "Most read" not in wall.text
    assert ferry.published == "2024-03-07" and ferry.author is None

    (failure,) = loaded.failures  # the third entry's page is gone; the other two are not lost
    assert (failure.code, failure.id) == ("not_found", url_id(site.url("/news/gone.html")))
    assert "local.rss" in failure.message and "HTTP 404" in failure.message
    assert loaded.prunable and loaded.failed_ids == {failure.id}


def test_a_feed_url_is_read_as_a_feed(site: Site) -> None:
    serve_news(site)
    feed = site.add("/feed.atom", (PAGES / "feed.atom").read_text(), content_type="application/atom+xml")
    loaded = load_sources([feed], fetch=FAST)
    assert loaded.failures == []
    (ferry,) = loaded.documents
    assert (ferry.title, ferry.author, ferry.published) == (
        "Ferry strike: buses replace boats",
        "Sam Poe",
        "2024-03-06",
    )
    assert "Buses will run every twenty minutes" in ferry.text


def test_a_url_list_reports_each_failing_url_and_loads_the_rest(site: Site, tmp_path: Path) -> None:
    serve_news(site)
    site.add("/robots.txt", "User-agent: *\nDisallow: /private/\n", content_type="text/plain")
    site.page("/private/memo.html", "ferry-strike.html")
    site.add("/photo.png", b"\x89PNG\r\n", content_type="image/png")
    site.page("/login.html", "login.html")
    site.add("/huge.html", "<html><body><p>" + "word " * 60_000 + "</p></body></html>")
    site.page("/slow.html", "ferry-strike.html", delay=3)
    urls = tmp_path / "urls.txt"
    good = site.url("/news/sea-wall.html")
    bad = ["/missing.html", "/private/memo.html", "/photo.png", "/login.html", "/huge.html", "/slow.html"]
    listed = ["# harbour news", good, "", *(site.url(path) for path in bad), good]
    urls.write_text("\n".join(listed) + "\n")

    loaded = load_sources(
        [], urls=read_url_list(urls), fetch=FetchOptions(timeout=1.0, retries=0, max_bytes=200_000)
    )
    (document,) = loaded.documents  # listed twice, loaded once
    assert (document.id, document.url, document.published) == (url_id(good), good, "2024-03-05")
    assert [(f.where.removeprefix(site.base), f.code) for f in loaded.failures] == [
        ("/missing.html", "not_found"),
        ("/private/memo.html", "disallowed"),
        ("/photo.png", "not_html"),
        ("/login.html", "no_text"),
        ("/huge.html", "too_large"),
        ("/slow.html", "timeout"),
    ]
    assert site.asked("/private/memo.html") == 0
    assert site.asked("/missing.html") == 1  # each URL once
    # a URL that could not be fetched might have been a feed: its articles are unknown, nothing is pruned
    assert not loaded.prunable and loaded.failures[0].id is None
    # a page that was fetched but has no article text is known: its stored version is kept
    assert loaded.failed_ids == {url_id(site.url("/login.html"))}


def test_a_url_list_with_something_else_than_urls_is_refused(tmp_path: Path) -> None:
    urls = tmp_path / "urls.txt"
    urls.write_text("https://a.example/1\nnews/story.html\n")
    with pytest.raises(LoadError, match=r"urls\.txt: 'news/story\.html' is not an http\(s\) URL"):
        read_url_list(urls)


def test_folders_recursively_with_per_file_failures(tmp_path: Path) -> None:
    (tmp_path / "2024" / "march").mkdir(parents=True)
    (tmp_path / "2024" / "march" / "sea-wall.html").write_bytes((PAGES / "harbour-wall.html").read_bytes())
    (tmp_path / "2024" / "login.htm").write_bytes((PAGES / "login.html").read_bytes())
    (tmp_path / "notes.txt").write_text("The ferry timetable changes on Monday, the operator said.\n")
    (tmp_path / "empty.md").write_text("\n")
    (tmp_path / "broken.jsonl").write_text('{"id": "a", "text": "A."}\n{"id": \n')
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "HEAD.txt").write_text("ref: main\n")

    flat = load_sources([tmp_path])
    assert [d.id for d in flat.documents] == ["notes"]

    loaded = load_sources([tmp_path], recursive=True)
    assert [d.id for d in loaded.documents] == ["sea-wall", "notes"]
    assert [(Path(f.where).name, f.code, f.id) for f in loaded.failures] == [
        ("login.htm", "no_text", "login"),
        ("broken.jsonl", "unreadable", None),
        ("empty.md", "empty", "empty"),
    ]
    assert not loaded.prunable  # the broken JSONL's articles are unknown: nothing may be removed


def test_a_missing_path_is_an_error_for_the_whole_request(tmp_path: Path) -> None:
    with pytest.raises(LoadError, match="nowhere: no such file or folder"):
        load_sources([tmp_path / "nowhere"])
