"""A document's publication date when its input gives none: from its URL, else from a dateline.

News answers depend on when an article was written ("this week", "last year", the 149th edition), so
every document should carry `published` (YYYY-MM-DD). The loader's own value wins (a .jsonl field, HTML
metadata read by trafilatura/htmldate); this fills the gap from what scraped text still shows:

* the URL's path: `/2024/03/08/`, `/2024-03-08/`, `/20240308/`, or `/2024/03/` (the first of the month);
* a dateline near the top of the text: "Published 10:03 AM EST Jan. 5, 2023", "January 5, 2023",
  "5 January 2023", "2023-01-05" — the first such date in the first `_HEAD` characters.

Dates in the future of the indexing day are ignored (a match on an event's date, not the article's).
Our own code: htmldate reads HTML, and these inputs are plain text and a URL.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date

from index.documents import Document

_HEAD = 600
_MONTHS = {
    m: i + 1
    for i, names in enumerate(
        [
            "jan january",
            "feb february",
            "mar march",
            "apr april",
            "may",
            "jun june",
            "jul july",
            "aug august",
            "sep sept september",
            "oct october",
            "nov november",
            "dec december",
        ]
    )  # fmt: skip
    for m in names.split()
}
_MONTH = (
    r"(?P<month>Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?"
    r"|Sept?(?:ember)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)"
)
_URL_DAY = re.compile(r"/(?P<y>(?:19|20)\d\d)[/-](?P<m>[01]?\d)[/-](?P<d>[0-3]?\d)(?:/|[-_.]|$)")
_URL_PACKED = re.compile(r"/(?P<y>(?:19|20)\d\d)(?P<m>[01]\d)(?P<d>[0-3]\d)(?:/|[-_.]|$)")
_URL_MONTH = re.compile(r"/(?P<y>(?:19|20)\d\d)/(?P<m>[01]?\d)/")
_TEXT_DATES = [
    re.compile(rf"\b{_MONTH}\.? (?P<d>[0-3]?\d)(?:st|nd|rd|th)?,? (?P<y>(?:19|20)\d\d)\b"),
    re.compile(rf"\b(?P<d>[0-3]?\d) {_MONTH}\.?,? (?P<y>(?:19|20)\d\d)\b"),
    re.compile(r"\b(?P<y>(?:19|20)\d\d)-(?P<m>[01]\d)-(?P<d>[0-3]\d)\b"),
]


def _make(year: str, month: str | int, day: str | int) -> date | None:
    try:
        m = month if isinstance(month, int) else int(month) if month.isdigit() else _MONTHS[month.lower()]
        return date(int(year), m, int(day))
    except (ValueError, KeyError):
        return None


def from_url(url: str | None, today: date | None = None) -> date | None:
    if not url:
        return None
    today = today or date.today()
    path = re.sub(r"^[a-z]+://[^/]+", "", url)
    for pattern in (_URL_DAY, _URL_PACKED):
        m = pattern.search(path)
        if m and (found := _make(m["y"], m["m"], m["d"])) and found <= today:
            return found
    m = _URL_MONTH.search(path)
    if m and (found := _make(m["y"], m["m"], 1)) and found <= today:
        return found
    return None


def from_text(text: str, today: date | None = None) -> date | None:
    today = today or date.today()
    head = text[:_HEAD]
    best: tuple[int, date] | None = None
    for pattern in _TEXT_DATES:
        for m in pattern.finditer(head):
            found = _make(m["y"], m["month"] if "month" in m.groupdict() else m["m"], m["d"])
            if found and found <= today and (best is None or m.start() < best[0]):
                best = (m.start(), found)
    return best[1] if best else None


def parse_date(value: str | None) -> date | None:
    """A stored `published` value (YYYY-MM-DD, or a longer ISO timestamp) as a date."""
    if not value:
        return None
    m = re.match(r"((?:19|20)\d\d)-(\d\d)-(\d\d)", value.strip())
    return _make(m[1], m[2], m[3]) if m else None


def with_published(document: Document, today: date | None = None) -> Document:
    """The document with `published` filled in (normalised to YYYY-MM-DD) when it can be found."""
    given = parse_date(document.published) or (from_text(document.published) if document.published else None)
    found = given or from_url(document.url, today) or from_text(document.text, today)
    if found is None:
        return document
    return (
        replace(document, published=found.isoformat())
        if found.isoformat() != document.published
        else document
    )
