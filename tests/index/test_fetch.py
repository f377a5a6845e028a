"""Fetching against a real HTTP server on loopback: the User-Agent, robots.txt, retries, limits, errors."""

from __future__ import annotations

import pytest
from local_site import Site

from index.fetch import Fetcher, FetchError, FetchOptions

FAST = FetchOptions(timeout=2.0, retries=2, backoff=0.01, max_bytes=100_000)


def fetch_error(fetcher: Fetcher, url: str) -> FetchError:
    with pytest.raises(FetchError) as caught:
        fetcher.get_html(url)
    return caught.value


def test_a_page_is_fetched_with_a_user_agent_naming_verity(site: Site) -> None:
    url = site.page("/news/sea-wall.html", "harbour-wall.html")
    with Fetcher(FAST) as fetcher:
        fetched = fetcher.get_html(url)
    assert fetched.url == url
    assert fetched.content_type == "text/html" and fetched.charset == "utf-8"
    assert b"The city council voted 7-2" in fetched.content
    assert site.requests[0] == ("/robots.txt", FAST.user_agent)  # robots.txt first, once per site
    assert site.requests[1] == ("/news/sea-wall.html", FAST.user_agent)
    assert FAST.user_agent.startswith("Verity/")


def test_404_fails_at_once_without_retries(site: Site) -> None:
    with Fetcher(FAST) as fetcher:
        error = fetch_error(fetcher, site.url("/gone.html"))
    assert (error.code, error.status) == ("not_found", 404)
    assert site.asked("/gone.html") == 1
    assert "gone.html: HTTP 404" in str(error)


def test_transient_failures_are_retried_with_backoff(site: Site) -> None:
    url = site.page("/flaky.html", "ferry-strike.html", fail_first=2)
    with Fetcher(FAST) as fetcher:
        assert b"Ferry crews walked out" in fetcher.get_html(url).content
    assert site.asked("/flaky.html") == 3


def test_a_server_error_that_lasts_is_reported_after_the_retries(site: Site) -> None:
    url = site.page("/down.html", "ferry-strike.html", fail_first=10)
    with Fetcher(FAST) as fetcher:
        error = fetch_error(fetcher, url)
    assert (error.code, error.status) == ("http_error", 503)
    assert site.asked("/down.html") == 1 + FAST.retries


def test_a_slow_page_times_out(site: Site) -> None:
    url = site.page("/slow.html", "ferry-strike.html", delay=1.5)
    with Fetcher(FetchOptions(timeout=0.3, retries=0)) as fetcher:
        error = fetch_error(fetcher, url)
    assert error.code == "timeout"
    assert "timed out after 0.3s" in str(error)


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "no-content-length"])
def test_a_page_over_the_size_limit_is_refused(site: Site, chunked: bool) -> None:
    url = site.add("/big.html", b"<html><body><p>" + b"x" * 5000 + b"</p></body></html>", chunked=chunked)
    with Fetcher(FetchOptions(max_bytes=1000, retries=0)) as fetcher:
        error = fetch_error(fetcher, url)
    assert error.code == "too_large"
    assert "larger than the limit of 1,000 bytes" in str(error)


def test_what_is_not_html_is_refused(site: Site) -> None:
    url = site.add("/photo.png", b"\x89PNG\r\n\x1a\n", content_type="image/png")
    with Fetcher(FAST) as fetcher:
        error = fetch_error(fetcher, url)
        assert error.code == "not_html" and "(image/png)" in str(error)
        # a server that sends no content type: the bytes decide
        untyped = site.add("/untyped", "<!doctype html><html><p>Hello.</p></html>", content_type=None)
        assert fetcher.get_html(untyped).content_type == ""


def test_robots_txt_is_respected(site: Site) -> None:
    site.add("/robots.txt", "User-agent: *\nDisallow: /private/\n\nUser-agent: Verity\nDisallow: /drafts/\n",
             content_type="text/plain")  # fmt: skip
    allowed = site.page("/news/ferry.html", "ferry-strike.html")
    drafts = site.page("/drafts/ferry.html", "ferry-strike.html")
    with Fetcher(FAST) as fetcher:
        assert fetcher.get_html(allowed).content
        error = fetch_error(fetcher, drafts)
    assert error.code == "disallowed"
    assert site.asked("/drafts/ferry.html") == 0  # never requested
    assert site.asked("/robots.txt") == 1


def test_a_failing_robots_txt_disallows_everything(site: Site) -> None:
    site.add("/robots.txt", "oops", status=500, content_type="text/plain")
    url = site.page("/news/ferry.html", "ferry-strike.html")
    with Fetcher(FAST) as fetcher:
        assert fetch_error(fetcher, url).code == "disallowed"
    assert site.asked("/news/ferry.html") == 0


def test_an_unreachable_site_and_a_bad_url(site: Site) -> None:
    with Fetcher(FetchOptions(timeout=1.0, retries=0)) as fetcher:
        # a port nothing listens on: already robots.txt cannot be had
        error = fetch_error(fetcher, "http://127.0.0.1:9/news.html")
        assert error.code == "unreachable" and "(reading robots.txt)" in str(error)
        assert fetch_error(fetcher, "ftp://example.com/file").code == "invalid_url"


def test_public_only_refuses_loopback_and_private_hosts(site: Site) -> None:
    url = site.page("/news/ferry.html", "ferry-strike.html")
    with Fetcher(FetchOptions(retries=0, public_only=True)) as fetcher:
        for target in (
            url,
            url.replace("127.0.0.1", "localhost"),
            "http://10.1.2.3/x",
            "http://169.254.169.254/",
        ):
            error = fetch_error(fetcher, target)
            assert error.code == "private_address", (target, error)
    assert site.requests == []  # nothing was sent, not even for robots.txt
