"""Web pages to article text and metadata, through trafilatura.

trafilatura (with htmldate underneath) is the field's standard main-text extractor: it finds the article
among menus, footers, related links and comment threads, and reads the title, author, publication date,
site name and canonical URL from the page's markup. This module gives it text it can trust — bytes are
decoded here, honouring a declared encoding (BOM, HTTP header, `<meta charset>`), else UTF-8, else the
encoding `charset_normalizer` detects — and turns its output into `ExtractedPage`: one paragraph per
line of trafilatura's text, joined by a blank line as the rest of the cleaner expects.

The options are general, chosen on the whole page collection in `../shared/news/html/` (see
`scripts/html_eval.py`), never per site: comments are not the article; tables are kept (they often hold
the story's figures); trafilatura's own `favor_precision` is off, because Verity's cleaning rules run on
its output and remove the short chrome it would drop, while it also drops the story's subheadings.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

_META_CHARSET_RE = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_:.-]+)""", re.IGNORECASE)
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
# extraction options (see the module docstring); `scripts/html_eval.py` measures them
OPTIONS: dict[str, Any] = {
    "include_comments": False,
    "include_tables": True,
    "favor_precision": False,
}

# dates from the page's markup (meta tags, <time>, JSON-LD, the URL), never guessed from free text such
# as a footer's "© 2024", which htmldate's extensive search would turn into 2024-01-01
_DATES = {"extensive_search": False, "original_date": True}


class ExtractionError(ValueError):
    """A page has no main text trafilatura can find (empty, a redirect stub, a form, not an article)."""


@dataclass(frozen=True)
class ExtractedPage:
    """The article of a web page: its text (paragraphs separated by a blank line) and what the page says
    about it. Missing metadata is None."""

    text: str
    title: str | None = None
    author: str | None = None
    published: str | None = None  # YYYY-MM-DD
    site_name: str | None = None
    url: str | None = None  # the page's canonical URL, else the one it was fetched from
    structural: frozenset[str] = frozenset()  # headings, list items, cells, quotes and code lines


def _codec(name: str | bytes | None) -> str | None:
    """A Python codec name for a declared charset, or None when it is unknown."""
    if not name:
        return None
    label = name.decode("ascii", "ignore") if isinstance(name, bytes) else name
    try:
        codec = codecs.lookup(label.strip().strip("\"'")).name
    except LookupError:
        return None
    # browsers read latin-1 labels as windows-1252 (WHATWG encoding standard)
    return "cp1252" if codec in ("latin-1", "iso8859-1", "ascii") else codec


def decode_html(data: bytes, declared: str | None = None) -> str:
    """Decode a page: BOM; UTF-8 when the bytes are valid UTF-8; the charset declared by the server
    (`declared`) or the page; UTF-8 with under 0.1% invalid bytes (replaced); else the detected
    encoding. A declaration the bytes contradict is ignored rather than trusted."""
    for bom, bom_codec in _BOMS:
        if data.startswith(bom):
            return data.decode(bom_codec, errors="replace")
    meta = _META_CHARSET_RE.search(data[:4096])
    # bytes that are valid UTF-8 are UTF-8, whatever a (copied, stale) declaration says: other
    # encodings' non-ASCII text almost never forms valid UTF-8 sequences
    candidates = ["utf-8", _codec(declared), _codec(meta.group(1) if meta else None)]
    for codec in candidates:
        if codec is None:
            continue
        try:
            return data.decode(codec)
        except (UnicodeDecodeError, LookupError):
            continue
    # UTF-8 but for a few stray bytes (a pasted latin-1 character): keep it, rather than re-read the
    # whole page in another encoding
    text = data.decode("utf-8", errors="replace")
    if text.count("\ufffd") <= max(1, len(data) // 1000):
        return text
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    return str(best) if best is not None else data.decode("cp1252", errors="replace")


def extract_html(html: str, url: str | None = None) -> ExtractedPage:
    """The main text and metadata of a page; `url` is where it came from (for relative links and as the
    fallback URL). Raises `ExtractionError` when no main text is found."""
    import trafilatura  # lxml and its models: loaded only when a page is read

    try:
        found = trafilatura.bare_extraction(
            html, url=url, with_metadata=True, date_extraction_params=_DATES, **OPTIONS
        )
    except (ValueError, TypeError) as exc:  # lxml refuses some inputs (e.g. an XML declaration in str)
        raise ExtractionError(f"not parseable as HTML ({exc})") from None
    text = getattr(found, "text", None) if found is not None else None
    if not text or not text.strip():
        raise ExtractionError("no article text found in the page (trafilatura extracted nothing)")
    paragraphs = [line.strip() for line in text.splitlines() if line.strip()]

    def meta(name: str) -> str | None:
        value = getattr(found, name, None)
        return value.strip() or None if isinstance(value, str) else None

    return ExtractedPage(
        text="\n\n".join(paragraphs),
        structural=_structural_lines(getattr(found, "body", None)),
        title=strip_site_name(meta("title"), [meta("sitename"), meta("hostname"), meta("url") or url]),
        author=meta("author"),
        published=meta("date"),
        site_name=meta("sitename"),
        url=meta("url") or url,
    )


_STRUCTURAL_TAGS = ("head", "item", "cell", "quote", "code")
_TITLE_SEPARATOR_RE = re.compile(r"\s+[|–—-]\s+")
_DATE_ONLY_RE = re.compile(r"^[\d./-]+$")


def _letters(text: str) -> str:
    return "".join(c for c in text.casefold() if c.isalnum())


def _site_names(site: str) -> list[str]:
    """ "DW.COM" -> dwcom, dw; "https://www.chefkoch.de/x" -> chefkochde, chefkoch; "Harbour Times"."""
    host = urlsplit(site).netloc or site
    labels = [label for label in host.split(".") if label and label.lower() != "www"]
    return [_letters(".".join(labels)), _letters(labels[-2] if len(labels) >= 2 else host)]


def strip_site_name(title: str | None, sites: list[str | None]) -> str | None:
    """'Headline | Site | 19.01.2020' -> 'Headline': trailing segments that name the site (its name, host
    or URL) or are a bare date go; a title that is only the site name stays."""
    if not title:
        return title
    names = {name for site in sites if site for name in _site_names(site) if len(name) >= 2}
    segments = _TITLE_SEPARATOR_RE.split(title)
    while len(segments) > 1:
        last = _letters(segments[-1])
        is_site = any(n in last or (last in n and 2 * len(last) >= len(n)) for n in names)
        if not (last and is_site) and not _DATE_ONLY_RE.match(segments[-1].strip()):
            break
        segments.pop()
    separators = _TITLE_SEPARATOR_RE.findall(title)
    kept = [*separators[: len(segments) - 1], ""]
    return "".join(seg + sep for seg, sep in zip(segments, kept, strict=True)).strip()


def _structural_lines(body: Any) -> frozenset[str]:
    """The text of the elements trafilatura marked as headings, list items, table cells, quotes or code:
    the article's own structure, short by nature, which the cleaner must not take for site labels."""
    if body is None:
        return frozenset()
    lines: set[str] = set()
    for element in body.iter(*_STRUCTURAL_TAGS):
        for line in "".join(element.itertext()).splitlines():
            if normalised := " ".join(line.split()):
                lines.add(normalised)
    return frozenset(lines)
