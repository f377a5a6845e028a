"""Turn a scraped news page into the article text that answers cite.

HTML pages are first reduced to their main text by trafilatura (`index/webpage.py`), the field's standard
extractor, which replaced the hand-written HTML parser this module used to have. The rules below stay ours
because no extractor applies them: scraped news text — trafilatura's output, and the plain-text and
Markdown files that never saw HTML — still carries site chrome inside the article: section labels,
"Follow us" lines, image file names, app promos, photo captions and credits, author boxes, teasers of
unrelated articles and live-blog furniture. Whatever survives cleaning can be retrieved and cited, so it
must be the story and only the story.

The rules are shapes, not lists of strings: short lines without sentence punctuation, calls to action,
caption and credit shapes, an author box after the byline, and a cut before the cluster of teasers that
ends in a "keep reading" marker. Article sentences are never rewritten beyond whitespace normalisation
(NBSP to space, runs of spaces collapsed), so a citation is an exact substring of `Document.text`.
Output paragraphs are joined by a blank line. Markdown keeps its own small converter below (headings,
emphasis, links and lists to plain paragraphs): it is a few regular expressions, not a parser.
"""

from __future__ import annotations

import re

from index.documents import Document, RawDocument
from index.webpage import extract_html

_INVISIBLE_RE = re.compile("[\u200b\u200c\u200d\u2060\ufeff]")
_SPACES_RE = re.compile(r"[^\S\n]+")  # any whitespace but newline, NBSP included
# a percent-escaped punctuation mark inside a word, left by scrapers ("North Korea%27s", "don%27t")
_PERCENT_RE = re.compile(r"(?<=[A-Za-z])%(2[0-9A-F]|3[A-F])(?=[A-Za-z]|\s|$)")
_SENTENCE_END_RE = re.compile(r"[.!?…:。！？][\"'”’)\]」』]*$")
_HEADLINE_BAD_END_RE = re.compile(r"[.,;:…][\"'”’)\]]*$")
_STRONG_CHROME_RE = re.compile(
    r"^(?:follow\s+(?:us|me|him|her|them)\b|subscribe\b|sign\s*up\s+(?:for|to|now|today)\b)", re.IGNORECASE
)
_WEAK_CHROME_RE = re.compile(  # only on lines that are not full sentences, or are very short
    r"^(?:sign\s*up\b|newsletters?\b|advertisement\b|sponsored\b|keep\s*reading|show\s*(?:less|more)"
    r"|read\s*more\b|continue\s*reading|related\s*(?:stories|articles?|:)|share\s+(?:this|on)\b"
    r"|click\s+here\b|(?:download|obtain|get|install)\b.{0,60}\b(?:app|application)\b"
    r"|get\s+(?:the\s+)?(?:full|complete|live|latest|more)\s+(?:\w+\s+)?(?:of|on)\b)",
    re.IGNORECASE,
)
_PROMO_VERB_RE = re.compile(
    r"^[“\"']?(?:get|download|obtain|install|follow|subscribe|sign|join|click|tap|read|watch|listen|share|support"
    r"|donate|see)\b",
    re.IGNORECASE,
)
_SOCIAL_RE = re.compile(
    r"\bfollow\s+(?:us|me|him|her|them)\s+(?:on|at)\b|\b(?:twitter|facebook|instagram)\s+@\w", re.IGNORECASE
)
_MARKER_RE = re.compile(r"^(?:keep\s*reading|show\s*(?:less|more))", re.IGNORECASE)
_CAPTION_START_RE = re.compile(
    r"^(?:(?:top\s+|lead\s+|featured\s+)?(?:image|photo|photograph|picture|video)(?:\s+credits?)?\s*:"
    r"|(?:photo\s+|image\s+)?credits?\s*:|(?:photo|photograph|image)\s+(?:by|courtesy)\b)",
    re.IGNORECASE,
)
_CAPTION_LABEL_RE = re.compile(r"^(?:image|photo|photograph|picture)\s*:", re.IGNORECASE)
_CREDIT_END_RE = re.compile(
    r"(?:(?:/|\bvia\s)[^/]{0,60}\b(?:images?|pictures?|photos?|photography|file)"
    r"|\([^()]*\b(?:photo|photograph|image)\s+(?:by|courtesy|credit)\b[^()]*\))\s*$",
    re.IGNORECASE,
)
_CAPITALISED = r"[A-Z][\w.&'-]*(?:\s+[A-Z][\w.&'-]*){0,3}"
_AGENCY_END_RE = re.compile(  # "... / Reuters", "via REUTERS", "REUTERS/Jane Roe"
    rf"(?:\s/\s*{_CAPITALISED}|\b[Vv]ia\s+[A-Z]{{2,}}\b[\w.&'-]*|\b[A-Z]{{2,}}/{_CAPITALISED})\s*$"
)
_BYLINE_RE = re.compile(r"^(?:(?:author|written\s+by|words\s+by)\s*:?|[Bb]y:?)\s+(.+)$", re.IGNORECASE)
_NAME_RE = re.compile(r"^[A-Z][\w'’.-]*(?:\s+(?:[A-Z][\w'’.-]*|and|de|del|da|van|von|der|la|le|bin))*$")
_BIO_RE = re.compile(
    r"\b(?:is|was)\s+(?:a|an|the)\b|\bfollow\b|twitter|@\w|\b(?:editor|contributor|correspondent|reporter"
    r"|writer|journalist|columnist)\b",
    re.IGNORECASE,
)
_DATELINE_RE = re.compile(r"^[A-Z][A-Z .,'-]{2,40}\s+[—–-]+\s+")
_MAX_TEASER_SENTENCE_LINES = 3
_WEAK_ENDINGS = frozenset({"the", "and", "for", "with", "from", "that", "this", "into", "over", "than"})


def clean_document(raw: RawDocument) -> Document:
    """Drop chrome, captions, promos, the author box and trailing teasers; find the title and the author.

    An HTML page goes through trafilatura first (`index/webpage.py`), which also supplies the title,
    author, date, site name and canonical URL that the caller did not; raises `ExtractionError` when the
    page has no main text.
    """
    title, text = _normalise(raw.title or "") or None, raw.text
    structural: frozenset[str] = frozenset()
    page_title: str | None = None
    author, published, url, source = raw.author, raw.published, raw.url, raw.source
    if raw.format == "html":
        page = extract_html(text, url=raw.url)
        text, page_title = page.text, page.title
        title = title or page_title
        author, published = author or page.author, published or page.published
        url, source = url or page.url, source or page.site_name
        structural = page.structural
    elif raw.format == "markdown":
        found, text = _markdown_to_text(text)
        title = title or found
    paragraphs = _paragraphs(text)
    author, author_at, paragraphs = _take_author(paragraphs, author)
    if page_title and title and not _same(page_title, title):  # a feed's title: the page's headline goes
        paragraphs = _take_title(paragraphs, page_title)[1]
    headline, paragraphs = _take_title(paragraphs, title)
    paragraphs = _cut_teasers(paragraphs)
    body = _drop_chrome(paragraphs, author, author_at, structural)
    return Document(
        id=raw.id,
        title=title or headline or _fallback_title(body, raw.id),
        text="\n\n".join(body),
        author=author,
        url=url,
        published=published,
        source=source,
    )


def _normalise(line: str) -> str:
    words = _SPACES_RE.sub(" ", line).strip().split(" ")
    return " ".join(w if "/" in w else _PERCENT_RE.sub(lambda m: chr(int(m[1], 16)), w) for w in words)


def _paragraphs(text: str) -> list[list[str]]:
    text = _INVISIBLE_RE.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    out = []
    for block in re.split(r"\n[^\S\n]*\n", text):
        lines = [n for n in (_normalise(line) for line in block.split("\n")) if n]
        if lines:
            out.append([" ".join(lines)] if _is_wrapped(lines) else lines)
    return out


def _words(line: str) -> int:
    return len(line.split())


def _is_sentence(line: str) -> bool:
    return bool(_SENTENCE_END_RE.search(line))


def _is_caption(line: str) -> bool:
    return bool(_CAPTION_START_RE.match(line) or _CREDIT_END_RE.search(line) or _AGENCY_END_RE.search(line))


def _is_promo(line: str) -> bool:
    """A known chrome shape, or a call to action: an imperative line without sentence punctuation."""
    if _STRONG_CHROME_RE.match(line) or (_words(line) <= 40 and _SOCIAL_RE.search(line)):
        return True
    if _WEAK_CHROME_RE.match(line) and (_words(line) <= 8 or not _is_sentence(line)):
        return True
    return bool(_PROMO_VERB_RE.match(line)) and _words(line) <= 15 and not _is_sentence(line)


def _is_noise(line: str) -> bool:
    short_label = _words(line) <= 6 and not _is_sentence(line)
    return short_label or _is_promo(line) or _is_caption(line)


def _is_headline(line: str) -> bool:
    return 3 <= _words(line) <= 20 and not _HEADLINE_BAD_END_RE.search(line)


def _same(a: str, b: str) -> bool:
    return _normalise(a).casefold() == _normalise(b).casefold()


def _take_author(paragraphs: list[list[str]], given: str | None) -> tuple[str | None, int, list[list[str]]]:
    """Remove byline lines ("Author: X", "By X"); the first one names the author unless one was given."""
    author, at, out = given, -1, []
    for index, lines in enumerate(paragraphs):
        kept = []
        for line in lines:
            match = _BYLINE_RE.match(line)
            name = re.split(r"\s*(?:,|\||\s[-–—]\s)\s*", match.group(1))[0].strip() if match else ""
            by_form = match is not None and match.group(0)[:2].lower() == "by"
            if (
                match
                and _words(line) <= 10
                and not _is_sentence(line)
                and _NAME_RE.match(name)
                and (_words(name) >= 2 or not by_form)
            ):
                author = author or name
                at = index if at < 0 else at
            else:
                kept.append(line)
        out.append(kept)
    return author, at, out


def _take_title(paragraphs: list[list[str]], given: str | None) -> tuple[str | None, list[list[str]]]:
    """Find the headline among the lines before the first sentence; remove it (or a copy of `given`)."""
    for p_index, lines in enumerate(paragraphs):
        for l_index, line in enumerate(lines):
            if _is_promo(line) or _is_caption(line) or _words(line) <= 2:
                continue
            is_match = _same(line, given) if given else _is_headline(line)
            if is_match:
                rest = lines[:l_index] + lines[l_index + 1 :]
                return line, paragraphs[:p_index] + [rest] + paragraphs[p_index + 1 :]
            if not (given and _is_headline(line)):
                return None, paragraphs
    return None, paragraphs


def _is_marker(line: str) -> bool:
    return _words(line) <= 6 and bool(_MARKER_RE.match(line))


def _between_articles(line: str) -> bool:
    """Chrome, captions, labels and headline-shaped lines: what sits between one article and the next."""
    return _is_noise(line) or (not _is_sentence(line) and _words(line) <= 25)


def _cut_teasers(paragraphs: list[list[str]]) -> list[list[str]]:
    """Drop the teasers of other articles that follow the story.

    The first "keep reading" / "show less" marker closes the first teaser. Walking back from it over any
    chrome right before it and then at most a few teaser sentences, the chrome cluster that opened the
    teaser (captions, section labels, its headline) is where the story ended: everything from there to the
    end of the page goes. Without such a cluster, the cut is at the marker; a cut that would leave no story
    sentence is not made.
    """
    lines = [(p, i, line) for p, block in enumerate(paragraphs) for i, line in enumerate(block)]
    marker = next((n for n, (_, _, line) in enumerate(lines) if _is_marker(line)), None)
    if marker is None:
        return paragraphs
    n = marker - 1
    while n >= 0 and _between_articles(lines[n][2]):  # "read more" and the like, right before the marker
        n -= 1
    cut, prose = n + 1, 0
    while n >= 0 and prose < _MAX_TEASER_SENTENCE_LINES and not _between_articles(lines[n][2]):
        n, prose = n - 1, prose + 1
    if n >= 0 and _between_articles(lines[n][2]):
        while n >= 0 and _between_articles(lines[n][2]):
            n -= 1
        cut = n + 1
    if not any(not _between_articles(line) for _, _, line in lines[:cut]):
        return paragraphs  # the marker sits before any story sentence: not a teaser block
    p, i, _ = lines[cut]
    return paragraphs[:p] + ([paragraphs[p][:i]] if i else [])


def _is_wrapped(lines: list[str]) -> bool:
    """A hard-wrapped prose paragraph: long unfinished lines, then a line that ends the sentence."""
    return (
        len(lines) > 1
        and all(_words(line) >= 8 and not _is_sentence(line) for line in lines[:-1])
        and not any(_is_promo(line) or _is_caption(line) for line in lines)
        and _is_sentence(lines[-1])
    )


def _drop_chrome(
    paragraphs: list[list[str]], author: str | None, author_at: int, structural: frozenset[str] = frozenset()
) -> list[str]:
    """The body lines: no chrome, promos, captions (nor the line after an "Image:" label), nor author box.

    `structural` lines (headings, list items… that the HTML extractor found inside the article) are the
    story's own short lines: only the promo and caption rules apply to them, not the short-label one.
    """
    body: list[str] = []
    exempt: list[bool] = []  # kept only as a structural line
    tail = min(author_at if author_at >= 0 else len(paragraphs), len(paragraphs) - 2)
    for p_index, lines in enumerate(paragraphs):
        after_label = False
        for line in lines:
            caption_of_label, after_label = after_label, bool(_CAPTION_LABEL_RE.match(line))
            author_box = (
                author is not None
                and p_index >= tail
                and line.casefold().startswith(author.casefold())
                and bool(_BIO_RE.search(line))
            )
            noise = _is_promo(line) or _is_caption(line) if line in structural else _is_noise(line)
            if not (caption_of_label or author_box or noise):
                body.append(line)
                exempt.append(line in structural and _is_noise(line))
    while exempt and exempt[-1]:  # headings and links after the story's last sentence: related links
        body.pop()
        exempt.pop()
    if structural:
        body = _cut_related(body)
    return body


def _cut_related(body: list[str]) -> list[str]:
    """A short line ending in a colon ("Read also:", "More on this topic:") followed, to the end, only by
    lines that are not sentences (headlines of other articles): the links after the story go."""
    n = len(body) - 1
    while n > 0 and not _is_sentence(body[n]):
        n -= 1
    if 0 < n < len(body) - 1 and body[n].endswith(":") and _words(body[n]) <= 8:
        return body[:n]
    return body


def _fallback_title(body: list[str], doc_id: str) -> str:
    """No headline: the start of the first paragraph, without its dateline, cut at a word near 80 chars."""
    if not body:
        return doc_id
    words = _DATELINE_RE.sub("", body[0]).split()
    kept: list[str] = []
    for word in words:
        if kept and len(" ".join([*kept, word])) > 80:
            break
        kept.append(word)
    if len(kept) == len(words):
        return " ".join(kept).rstrip(".")
    while len(kept) > 1 and (len(kept[-1]) <= 2 or kept[-1].lower() in _WEAK_ENDINGS):
        kept.pop()
    return " ".join(kept).rstrip(".,;:—–-") + "…"


def _markdown_inline(text: str) -> str:
    text = re.sub(r"!\[[^\]]*\]\([^)]*\)", "", text)
    text = re.sub(r"\[([^\]]+)\](?:\([^)]*\)|\[[^\]]*\])", r"\1", text)
    text = re.sub(r"<(https?://[^>\s]+)>", r"\1", text)
    text = re.sub(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1", r"\2", text)
    text = re.sub(r"(?<![\w*])\*(?=\S)(.+?)(?<=\S)\*(?![\w*])", r"\1", text)
    text = re.sub(r"(?<![\w_])_(?=\S)(.+?)(?<=\S)_(?![\w_])", r"\1", text)
    return re.sub(r"`([^`]+)`|~~(.+?)~~", lambda m: m.group(1) or m.group(2), text)


def _markdown_to_text(markdown: str) -> tuple[str | None, str]:
    """Plain paragraphs from Markdown (soft-wrapped lines joined); a leading "# Heading" is the title."""
    title: str | None = None
    blocks: list[str] = []
    current: list[str] = []

    def flush() -> None:
        text = _markdown_inline(" ".join(current)).strip()
        if text:
            blocks.append(text)
        current.clear()

    for line in markdown.splitlines():
        stripped = line.strip()
        heading = re.match(r"^(#{1,6})\s+(.*?)(?:\s+#+)?$", stripped)
        if heading or (re.fullmatch(r"=+", stripped) and len(current) == 1):
            text = _markdown_inline(heading.group(2) if heading else current.pop())
            level_one = heading is None or len(heading.group(1)) == 1
            flush()
            if title is None and not blocks and level_one:
                title = text
            else:
                blocks.append(text)
        elif not stripped or stripped.startswith("```") or re.fullmatch(r"([-*_])( ?\1){2,}", stripped):
            flush()
        elif re.match(r"^\[[^\]]+\]:\s*\S+", stripped):
            continue
        elif item := re.match(r"^(?:[-*+]|\d+[.)])\s+(.*)$", stripped):
            flush()
            current.append(item.group(1))
        else:
            current.append(re.sub(r"^(?:>\s?)+", "", stripped))
    flush()
    return title, "\n\n".join(blocks)
