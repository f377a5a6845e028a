"""Sentence splitting with character offsets, and grouping sentences into passages.

Our own because citations must index the cleaned text exactly (`text[start:end] == sentence`), and news
prose is full of abbreviations ("U.S.", "Gen.", "Dec. 3", "H.R. McMaster") that a naive split on periods
cuts; the generic splitters in llama-index re-join text and lose the offsets.
"""

from __future__ import annotations

import re

from index.documents import Document, Passage, Sentence

_ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "st", "jr", "sr", "gen", "lt", "col", "sgt", "capt", "maj", "adm", "cmdr",
    "sen", "rep", "gov", "pres", "prof", "rev", "gens", "sens", "reps", "no", "vs", "etc", "inc", "corp",
    "ltd", "co", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
    "mt", "ft", "u.s", "u.k", "u.n", "e.g", "i.e", "a.m", "p.m", "d.c",
}  # fmt: skip

# A candidate boundary: terminal punctuation, optional closing quotes/brackets, whitespace.
_BOUNDARY = re.compile(r"[.!?]+[\"'\u201d\u2019)\]]*\s+")
_NEXT_STARTS_SENTENCE = re.compile(r"[\"'\u201c\u2018(\[]?[A-Z0-9]")


def _is_abbreviation(text: str, dot: int) -> bool:
    """True when the period at `dot` ends an abbreviation or an initial rather than a sentence."""
    start = dot
    while start > 0 and (text[start - 1].isalpha() or text[start - 1] == "."):
        start -= 1
    word = text[start:dot].lower()
    return (
        word in _ABBREVIATIONS
        or (len(word) == 1 and word.isalpha())
        or re.fullmatch(r"(\w\.)+\w", word) is not None
    )


def split_sentences(text: str, offset: int = 0) -> list[Sentence]:
    """Split one paragraph into sentences; offsets are relative to `offset`."""
    sentences: list[Sentence] = []
    start = 0
    for m in _BOUNDARY.finditer(text):
        end = m.end()
        punct_at = m.start()
        if text[punct_at] == "." and _is_abbreviation(text, punct_at):
            continue
        if not _NEXT_STARTS_SENTENCE.match(text, end):
            continue
        body = text[start:end].rstrip()
        if body:
            sentences.append(Sentence(body, offset + start, offset + start + len(body)))
        start = end
    tail = text[start:].rstrip()
    if tail.strip():
        lead = len(tail) - len(tail.lstrip())
        sentences.append(Sentence(tail.lstrip(), offset + start + lead, offset + start + len(tail)))
    return sentences


def document_sentences(document: Document) -> list[list[Sentence]]:
    """Sentences of a document, grouped by paragraph, with offsets into `document.text`."""
    paragraphs: list[list[Sentence]] = []
    for m in re.finditer(r"[^\n]+(?:\n(?!\n)[^\n]+)*", document.text):
        raw = m.group(0)
        lead = len(raw) - len(raw.lstrip())
        sentences = split_sentences(raw.strip(), m.start() + lead)
        if sentences:
            paragraphs.append(sentences)
    return paragraphs


def split_passages(document: Document, sentences_per_passage: int = 3) -> list[Passage]:
    """A passage is up to `sentences_per_passage` consecutive sentences of one paragraph."""
    passages: list[Passage] = []
    for number, paragraph in enumerate(document_sentences(document)):
        for i in range(0, len(paragraph), sentences_per_passage):
            chunk = paragraph[i : i + sentences_per_passage]
            text = document.text[chunk[0].start : chunk[-1].end]
            passages.append(
                Passage(
                    document.id,
                    document.title,
                    len(passages),
                    chunk,
                    text,
                    document.author,
                    number,
                    published=document.published,
                )
            )
    return passages
