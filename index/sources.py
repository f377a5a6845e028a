"""Everything `verity index` and `verity extract` read, with one report per item that failed.

Inputs: files and folders (`index/loaders.py`), RSS/Atom feeds — a file or a URL — whose entries' pages
are fetched and extracted (the feed's own title, date and author win over the page's), and web pages by
URL (a URL argument, or a line of a `--urls` file: a page, or a feed when it is one).

A bad input is not a crash of the run: a page without article text, a URL that fails (404, timeout, not
HTML, too big, disallowed by robots.txt), an empty file or a broken JSONL file becomes a `Failure`, and
everything else is still loaded. Only what makes the request itself wrong — a path that does not exist,
an unsupported file named explicitly, one id read twice from different files — raises `LoadError` up
front. A document read from a URL gets the id `url_id(url)`: a slug of its last path segment and a hash
of the URL, stable across runs so that a rerun finds it unchanged.
"""

from __future__ import annotations

import calendar
import email.utils
import hashlib
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from index.documents import Document, RawDocument
from index.fetch import FEED_TYPES, HTML_TYPES, Fetcher, FetchError, FetchOptions, looks_like_html
from index.loaders import LoadError, check_unique, clean, is_feed, list_files, load_file
from index.webpage import decode_html

_SLUG_RE = re.compile(r"[^A-Za-z0-9]+")
_RSS_AUTHOR_RE = re.compile(r"^\S+@\S+\s+\((.+)\)$")
_PAGE_SUFFIX_RE = re.compile(r"\.(?:s?html?|php\d?|aspx?|jsp)$", re.IGNORECASE)


@dataclass(frozen=True)
class Failure:
    """One input that gave no document: where (file, file:line, URL), why (`code`), and its id if known."""

    where: str
    code: str
    message: str
    id: str | None = None

    def __str__(self) -> str:
        return self.message


@dataclass
class Loaded:
    documents: list[Document] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)

    @property
    def failed_ids(self) -> set[str]:
        return {f.id for f in self.failures if f.id is not None}

    @property
    def prunable(self) -> bool:
        """Whether removing stored documents that were not loaded is safe: every failure names its id
        (a broken JSONL file, an unreadable feed or a URL that failed before it was known to be a page
        or a feed do not, and their articles must not be removed for it)."""
        return all(f.id is not None for f in self.failures)


@dataclass(frozen=True)
class _Entry:
    url: str
    title: str | None
    author: str | None
    published: str | None
    source: str | None


def is_url(text: str) -> bool:
    return text.startswith(("http://", "https://"))


def url_id(url: str) -> str:
    """A readable, stable document id for a URL: "sea-wall-approved-1a2b3c4d"."""
    parts = urlsplit(url)
    last = _PAGE_SUFFIX_RE.sub("", parts.path.rstrip("/").rsplit("/", 1)[-1])
    slug = _SLUG_RE.sub("-", last or parts.netloc).strip("-").lower()[:60].strip("-") or "page"
    return f"{slug}-{hashlib.sha1(url.encode()).hexdigest()[:8]}"


def read_url_list(path: Path) -> list[str]:
    """The URLs of a `--urls` file: one a line; blank lines and `#` comments skipped."""
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise LoadError(f"{path}: cannot read the URL list ({exc})") from None
    urls = [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
    for number, url in enumerate(urls, start=1):
        if not is_url(url):
            raise LoadError(f"{path}: {url!r} is not an http(s) URL (entry {number})")
    return urls


def load_sources(
    inputs: Sequence[str | Path],
    *,
    recursive: bool = False,
    urls: Sequence[str] = (),
    fetch: FetchOptions | None = None,
) -> Loaded:
    """Load every input (paths and URLs), then every URL of `urls`; see the module docstring."""
    files: list[Path] = []
    web = [str(i) for i in inputs if is_url(str(i))] + list(urls)
    for item in inputs:
        if not is_url(str(item)):
            files += list_files(Path(item), recursive)  # LoadError: the request itself is wrong
    loaded, seen = Loaded(), dict[str, str]()
    fetcher: Fetcher | None = None
    try:
        for file in files:
            if is_feed(file):
                fetcher = fetcher or Fetcher(fetch)
                _load_feed_file(file, fetcher, loaded, seen)
            else:
                _load_one_file(file, loaded, seen)
        for url in web:
            fetcher = fetcher or Fetcher(fetch)
            _load_url(url, fetcher, loaded, seen)
    finally:
        if fetcher is not None:
            fetcher.close()
    return loaded


def _load_one_file(path: Path, loaded: Loaded, seen: dict[str, str]) -> None:
    try:
        raws = load_file(path)
    except LoadError as exc:  # the whole file: its id is its stem, unless it is a JSONL of many
        doc_id = None if path.suffix.lower() == ".jsonl" else path.stem
        loaded.failures.append(Failure(str(path), exc.code, str(exc), doc_id))
        return
    for where, raw in raws:
        check_unique(raw.id, where, seen)
        _clean_into(where, raw, loaded)


def _clean_into(where: str, raw: RawDocument, loaded: Loaded) -> None:
    try:
        loaded.documents.append(clean(where, raw))
    except LoadError as exc:
        loaded.failures.append(Failure(where, exc.code, str(exc), raw.id))


def fetch_page(
    url: str,
    fetcher: Fetcher,
    *,
    doc_id: str | None = None,
    title: str | None = None,
    author: str | None = None,
    published: str | None = None,
    source: str | None = None,
) -> RawDocument:
    """A web page as a raw HTML document (`FetchError` when it cannot be had). The metadata given here
    wins over the page's own; the document's URL is the page's after redirects."""
    fetched = fetcher.get_html(url)
    return RawDocument(
        id=doc_id or url_id(url),
        text=decode_html(fetched.content, fetched.charset),
        title=title,
        author=author,
        url=fetched.url,
        published=published,
        source=source,
        format="html",
    )


def _load_url(url: str, fetcher: Fetcher, loaded: Loaded, seen: dict[str, str]) -> None:
    """A URL that is a page or a feed (by its content type, else by its content)."""
    doc_id = url_id(url)
    if doc_id in seen:
        return  # the same URL again
    seen[doc_id] = url
    try:
        fetched = fetcher.get(url)
    except FetchError as exc:  # a page or a feed? Its documents are unknown (no id): nothing is pruned
        loaded.failures.append(Failure(url, exc.code, str(exc)))
        return
    html = fetched.content_type in HTML_TYPES or (
        fetched.content_type not in FEED_TYPES and looks_like_html(fetched.content)
    )
    if not html:
        entries = _feed_entries(fetched.content, url, loaded, fetched.content_type)
        if entries is not None:
            _load_entries(entries, url, fetcher, loaded, seen)
        return
    raw = RawDocument(
        id=doc_id, text=decode_html(fetched.content, fetched.charset), url=fetched.url, format="html"
    )
    _clean_into(url, raw, loaded)


def _load_feed_file(path: Path, fetcher: Fetcher, loaded: Loaded, seen: dict[str, str]) -> None:
    try:
        data = path.read_bytes()
    except OSError as exc:
        loaded.failures.append(Failure(str(path), "unreadable", f"{path}: cannot be read ({exc})"))
        return
    entries = _feed_entries(data, str(path), loaded)
    if entries is not None:
        _load_entries(entries, str(path), fetcher, loaded, seen)


def _load_entries(
    entries: list[_Entry | Failure], feed: str, fetcher: Fetcher, loaded: Loaded, seen: dict[str, str]
) -> None:
    for entry in entries:
        if isinstance(entry, Failure):
            loaded.failures.append(entry)
            continue
        doc_id = url_id(entry.url)
        if doc_id in seen:
            continue  # the same page in two feeds, or listed twice
        seen[doc_id] = f"{feed} ({entry.url})"
        try:
            raw = fetch_page(
                entry.url,
                fetcher,
                doc_id=doc_id,
                title=entry.title,
                author=entry.author,
                published=entry.published,
                source=entry.source,
            )
        except FetchError as exc:
            loaded.failures.append(Failure(entry.url, exc.code, f"{feed}: {exc}", doc_id))
            continue
        _clean_into(entry.url, raw, loaded)


def _feed_entries(
    data: bytes, where: str, loaded: Loaded, content_type: str | None = None
) -> list[_Entry | Failure] | None:
    """The entries of an RSS/Atom feed, or None (with a failure recorded) when it is not one."""
    import feedparser

    parsed = feedparser.parse(data)
    if not parsed.get("version") and not parsed.entries:
        kind = f" ({content_type or 'no content type'})" if content_type is not None else ""
        code = "not_html" if content_type is not None else "not_a_feed"  # a URL, else a feed file
        message = f"{where}: neither an HTML page nor an RSS/Atom feed{kind}"
        loaded.failures.append(Failure(where, code, message))
        return None
    source = parsed.feed.get("title") or None
    out: list[_Entry | Failure] = []
    for number, entry in enumerate(parsed.entries, start=1):
        link = entry.get("link")
        if not isinstance(link, str) or not is_url(link):
            out.append(
                Failure(f"{where}#{number}", "no_link", f"{where}: entry {number} has no http(s) link")
            )
            continue
        out.append(_Entry(link, entry.get("title") or None, _author(entry), _date(entry), source))
    return out


def _author(entry: Any) -> str | None:
    """An entry's author; RSS's "email (Name)" form gives the name."""
    author = entry.get("author")
    if not isinstance(author, str) or not author.strip():
        return None
    named = _RSS_AUTHOR_RE.match(author.strip())
    return named.group(1).strip() if named else author.strip()


def _date(entry: Any) -> str | None:
    """YYYY-MM-DD of an entry's publication (else update) time, on the day the feed says (its own time
    zone); feedparser's UTC normalisation only when the text itself cannot be read."""
    for key in ("published", "updated"):
        text = entry.get(key)
        if isinstance(text, str) and text.strip():
            try:
                return email.utils.parsedate_to_datetime(text).date().isoformat()
            except (TypeError, ValueError):
                pass
            try:
                return datetime.fromisoformat(text.strip().replace("Z", "+00:00")).date().isoformat()
            except ValueError:
                pass
        value = entry.get(f"{key}_parsed")
        if isinstance(value, time.struct_time):
            return time.strftime("%Y-%m-%d", time.gmtime(calendar.timegm(value)))
    return None
