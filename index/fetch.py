"""Fetch web pages and feeds politely: timeouts, a size limit, retries with backoff, robots.txt.

Every request names Verity in its User-Agent. robots.txt is read once per site (RFC 9309: a missing one,
or any 4xx, allows everything; a 5xx or an unreachable one disallows everything until the next run).
Transient failures — connection errors, timeouts, 429 and 5xx answers — are retried with exponential
backoff (a `Retry-After` up to `max_backoff` is honoured); anything else fails at once. A body is read
as a stream and abandoned as soon as it passes `max_bytes`, and a whole attempt is bounded by `timeout`
even when the server trickles bytes.

Each failure is a `FetchError` whose `code` says what went wrong (`not_found`, `http_error`, `timeout`,
`unreachable`, `too_large`, `not_html`, `disallowed`, `invalid_url`, `private_address`), for per-item
reports: one bad URL never stops a run. `public_only` (on for URLs that API clients send) refuses
hosts on loopback, private and link-local networks, redirects included.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from dataclasses import dataclass
from email.message import Message
from types import TracebackType
from urllib.parse import urlsplit
from urllib.robotparser import RobotFileParser

import httpx

from index.loaders import LoadError

HTML_TYPES = ("text/html", "application/xhtml+xml")
FEED_TYPES = (
    "application/rss+xml",
    "application/atom+xml",
    "application/xml",
    "text/xml",
    "application/rdf+xml",
)
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class FetchError(LoadError):
    """A URL could not be fetched as what was asked for; `code` names the reason."""

    def __init__(self, url: str, code: str, message: str, status: int | None = None) -> None:
        super().__init__(f"{url}: {message}", code=code)
        self.url = url
        self.reason = message
        self.status = status  # the HTTP status, for `not_found` and `http_error`


@dataclass(frozen=True)
class FetchOptions:
    """How to fetch (`service/config.py` fills these from VERITY_FETCH_* settings)."""

    user_agent: str = "Verity/0.1 (news question answering; +https://github.com/verity-news/verity)"
    timeout: float = 10.0  # seconds per attempt, connecting and reading included
    max_bytes: int = 5_000_000
    retries: int = 2  # further attempts after the first, for transient failures only
    backoff: float = 0.5  # seconds before the first retry, doubled each time
    max_backoff: float = 10.0
    max_redirects: int = 5
    # refuse hosts that resolve to loopback, private, link-local or reserved addresses (and redirects
    # there): a server fetching URLs that clients send must not reach its own network
    public_only: bool = False


@dataclass(frozen=True)
class Fetched:
    url: str  # after redirects
    content: bytes
    content_type: str  # the media type, lower case, without parameters ("" when the server sent none)
    charset: str | None  # as the server declared it


def _media_type(header: str) -> tuple[str, str | None]:
    message = Message()
    message["content-type"] = header
    charset = message.get_param("charset")
    return message.get_content_type() if header else "", charset if isinstance(charset, str) else None


def looks_like_html(content: bytes) -> bool:
    head = content[:1024].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html")) or b"<html" in head


class Fetcher:
    """One HTTP client for a run: `get(url, kinds)` returns the body or raises `FetchError`."""

    def __init__(self, options: FetchOptions | None = None) -> None:
        self.options = options or FetchOptions()
        self._client = httpx.Client(
            headers={"User-Agent": self.options.user_agent},
            timeout=httpx.Timeout(self.options.timeout),
            follow_redirects=True,
            max_redirects=self.options.max_redirects,
            event_hooks={"request": [self._check_address]} if self.options.public_only else {},
        )
        self._robots: dict[str, RobotFileParser | bool | FetchError] = {}

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def get_html(self, url: str) -> Fetched:
        """A web page: `not_html` unless the server says HTML (or says nothing and it looks like HTML)."""
        fetched = self.get(url)
        is_html = fetched.content_type in HTML_TYPES
        if not is_html and not (
            fetched.content_type in ("", "text/plain") and looks_like_html(fetched.content)
        ):
            shown = fetched.content_type or "no content type"
            raise FetchError(url, "not_html", f"not an HTML page ({shown})")
        return fetched

    def get(self, url: str) -> Fetched:
        """Any body, after the robots.txt check, with retries for transient failures."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise FetchError(url, "invalid_url", "not an http(s) URL")
        if not self.allowed(url):
            raise FetchError(url, "disallowed", "robots.txt disallows fetching it")
        attempt = 0
        while True:
            try:
                return self._attempt(url)
            except _Transient as transient:
                if attempt >= self.options.retries:
                    raise transient.error from None
                delay = self.options.backoff * 2**attempt
                if transient.retry_after is not None:
                    delay = max(delay, transient.retry_after)
                time.sleep(min(delay, self.options.max_backoff))
                attempt += 1

    def allowed(self, url: str) -> bool:
        """What the site's robots.txt says about `url` for Verity's user agent (read once per site);
        `FetchError` when the site does not answer at all."""
        parts = urlsplit(url)
        site = f"{parts.scheme}://{parts.netloc}"
        rules = self._robots.get(site)
        if rules is None:
            rules = self._read_robots(site)
            self._robots[site] = rules
        if isinstance(rules, FetchError):  # no answer at all: the site, not its rules, is the problem
            raise FetchError(url, rules.code, f"{rules.reason} (reading robots.txt)")
        if isinstance(rules, bool):
            return rules
        return rules.can_fetch(self.options.user_agent, url)

    def _read_robots(self, site: str) -> RobotFileParser | bool | FetchError:
        try:
            fetched = self._attempt(f"{site}/robots.txt")
        except _Transient as exc:  # RFC 9309 2.3.1.4: unreachable or a server error: disallow everything
            return False if exc.error.status else exc.error
        except FetchError as exc:  # 2.3.1.3: any 4xx means there are no rules (too large: none we read)
            if exc.code == "private_address":
                return exc
            return exc.code == "too_large" or (exc.status is not None and exc.status < 500)
        parser = RobotFileParser()
        parser.parse(fetched.content.decode("utf-8", errors="replace").splitlines())
        return parser

    def _attempt(self, url: str) -> Fetched:
        started = time.monotonic()
        try:
            with self._client.stream("GET", url) as response:
                status = response.status_code
                if status in _RETRY_STATUSES:
                    raise _Transient(_status_error(url, status), _retry_after(response.headers))
                if status >= 400:
                    raise _status_error(url, status)
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > self.options.max_bytes:
                    raise self._too_large(url)
                chunks, size = [], 0
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > self.options.max_bytes:
                        raise self._too_large(url)
                    if time.monotonic() - started > self.options.timeout:
                        raise _Transient(
                            FetchError(url, "timeout", f"timed out after {self.options.timeout:g}s")
                        )
                    chunks.append(chunk)
                media, charset = _media_type(response.headers.get("content-type", ""))
                return Fetched(str(response.url), b"".join(chunks), media, charset)
        except httpx.TimeoutException:
            raise _Transient(
                FetchError(url, "timeout", f"timed out after {self.options.timeout:g}s")
            ) from None
        except httpx.TooManyRedirects:
            raise FetchError(url, "http_error", "too many redirects") from None
        except httpx.TransportError as exc:
            raise _Transient(FetchError(url, "unreachable", f"cannot be reached ({exc})")) from None

    def _check_address(self, request: httpx.Request) -> None:
        """With `public_only`: every request, each redirect included, must go to a public address."""
        host = request.url.host
        try:
            infos = socket.getaddrinfo(host, request.url.port or 443, proto=socket.IPPROTO_TCP)
        except OSError:
            return  # httpx reports the unresolvable host itself
        for info in infos:
            address = ipaddress.ip_address(info[4][0])
            if not address.is_global or address.is_multicast:
                raise FetchError(str(request.url), "private_address", f"{host} is not a public address")

    def _too_large(self, url: str) -> FetchError:
        return FetchError(url, "too_large", f"larger than the limit of {self.options.max_bytes:,} bytes")


class _Transient(Exception):
    """A failure worth another attempt; `error` is what the caller gets when none is left."""

    def __init__(self, error: FetchError, retry_after: float | None = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.retry_after = retry_after


def _status_error(url: str, status: int) -> FetchError:
    return FetchError(url, "not_found" if status in (404, 410) else "http_error", f"HTTP {status}", status)


def _retry_after(headers: httpx.Headers) -> float | None:
    value = headers.get("retry-after", "")
    return float(value) if value.isdigit() else None
