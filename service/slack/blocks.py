"""An `AskResponse` as Slack messages (Block Kit), and Slack's message text back as plain text.

Why a module of its own: Slack has limits the API does not (3,000 characters in a section's text, 10
elements in a context block, 50 blocks in a message) and its own markup, in which corpus text must not
be read as markup. `render()` keeps to the limits by splitting; `escape()` makes corpus text literal;
`plain_text()` turns what Slack sends (mentions, links, entities) back into the text a person typed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from service.schemas import AskResponse, Citation

MAX_SECTION_CHARS = 3000  # a section block's text object
MAX_CONTEXT_ELEMENTS = 10  # a context block's elements
MAX_BLOCKS = 50  # a message's blocks
MAX_FALLBACK_CHARS = 4000  # a message's `text` (notifications): Slack's advice; it truncates at 40,000
CONTINUED = "(continued)"  # the fallback text of the second and later messages of one answer
ZWSP = "\u200b"

REASONS = {
    "out_of_scope": "the articles do not cover this",
    "insufficient_evidence": "the articles do not say enough to answer",
    "false_premise": "the question assumes something the articles contradict",
}

Block = dict[str, Any]


@dataclass(frozen=True)
class SlackMessage:
    """One `chat.postMessage` (or `response_url`) payload: fallback `text` and the `blocks`."""

    text: str
    blocks: list[Block] = field(default_factory=list)


# -- escaping -----------------------------------------------------------------------------------------
_FORMATTING = re.compile(r"([*_~`])")


def escape(text: str) -> str:
    """Corpus text as literal mrkdwn: `&`, `<`, `>` as entities (so no link, mention or `<!channel>` can be
    formed); `*`, `_`, `~` and backticks fenced by zero-width spaces so they cannot open or close bold,
    italics, strikethrough or code (mrkdwn has no backslash escape)."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _FORMATTING.sub(ZWSP + r"\1" + ZWSP, text)


def unescape(text: str) -> str:
    """The inverse of `escape()`."""
    return text.replace(ZWSP, "").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


_ANGLED = re.compile(r"<([^<>]*)>")


def plain_text(text: str, remove_user: str | None = None) -> str:
    """A Slack message's `text` as typed: the mention of `remove_user` (the bot) removed, other mentions,
    channels and links as their labels, entities decoded, whitespace collapsed."""

    def label(match: re.Match[str]) -> str:
        inner = match.group(1)
        target, _, name = inner.partition("|")
        if target.startswith("@"):
            if remove_user is not None and target[1:] == remove_user:
                return " "
            return f"@{name or target[1:]}"
        if target.startswith("#"):
            return f"#{name or target[1:]}"
        if target.startswith("!"):
            return name or "@" + target[1:].split("^")[0]
        return name or target

    return " ".join(unescape(_ANGLED.sub(label, text)).split())


# -- splitting ----------------------------------------------------------------------------------------
def split_text(text: str, limit: int = MAX_SECTION_CHARS) -> list[str]:
    """`text` in pieces of at most `limit` characters, cut at a space (after a sentence when one ends in
    reach), so `" ".join(pieces) == text` whenever the text has a space within every `limit` characters.
    Escaped text is never cut inside an entity or a zero-width fence: those contain no space."""
    pieces: list[str] = []
    while len(text) > limit:
        window = text[: limit + 1]
        cut = max(window.rfind(". "), window.rfind("] "))
        cut = cut + 1 if cut > limit // 2 else window.rfind(" ")
        if cut <= 0:  # no space at all: a hard cut, stepping back out of an entity
            cut = limit
            amp = text.rfind("&", cut - 5, cut)
            if amp > 0 and ";" not in text[amp:cut]:
                cut = amp
        pieces.append(text[:cut])
        text = text[cut:].removeprefix(" ")
    if text or not pieces:
        pieces.append(text)
    return pieces


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else split_text(text, limit - 1)[0] + "…"


# -- rendering ----------------------------------------------------------------------------------------
def _section(text: str, block_id: str) -> Block:
    return {
        "type": "section",
        "block_id": block_id,
        "text": {"type": "mrkdwn", "text": text, "verbatim": True},
    }


def _context(texts: list[str], block_id: str) -> Block:
    elements = [{"type": "mrkdwn", "text": t, "verbatim": True} for t in texts]
    return {"type": "context", "block_id": block_id, "elements": elements}


def source_text(citation: Citation) -> str:
    """One source as mrkdwn: its number, title and author, then the quoted sentence."""
    byline = f" — {escape(citation.author)}" if citation.author else ""
    dated = f" ({citation.published})" if citation.published else ""
    head = f"*[{citation.id}]* _{escape(citation.title)}_{byline}{dated}"
    return _truncate(f"{head}\n“{escape(citation.text)}”", MAX_SECTION_CHARS)


def render(response: AskResponse, question: str | None = None) -> list[SlackMessage]:
    """The answer (or refusal) with its [n] markers, any disagreement, then its sources, as messages.

    `question` is shown first when the answer does not follow the question in Slack (a slash command).
    Block ids say what each block is: `question`, `refusal`, `conflict-*`, `answer-*`, `sources-*`.
    """
    blocks: list[Block] = []
    if question:
        blocks.append(_context([_truncate(f"*Question:* {escape(question)}", MAX_SECTION_CHARS)], "question"))
    if response.refusal is not None:
        reason = REASONS.get(response.refusal.reason, response.refusal.reason.replace("_", " "))
        blocks.append(_section(f":no_entry_sign: *Not answered* — {reason}.", "refusal"))
        if response.refusal.message != response.answer:
            blocks += [
                _section(piece, f"refusal-{i}")
                for i, piece in enumerate(split_text(escape(response.refusal.message)))
            ]
    for i, conflict in enumerate(response.conflicts):
        lines = [":warning: *The sources disagree* — each side is attributed below:"]
        lines += [f"• {escape(claim)}" for claim in conflict.claims]
        for j, piece in enumerate(split_text("\n".join(lines))):
            blocks.append(_section(piece, f"conflict-{i}-{j}"))
    short = response.short_answer if response.status == "answered" else None
    answer = f"*{escape(short.text)}* — {escape(response.answer)}" if short else escape(response.answer)
    blocks += [_section(piece, f"answer-{i}") for i, piece in enumerate(split_text(answer))]
    if response.citations:
        blocks.append({"type": "divider", "block_id": "sources"})
        sources = [source_text(c) for c in response.citations]
        for i in range(0, len(sources), MAX_CONTEXT_ELEMENTS):
            blocks.append(
                _context(sources[i : i + MAX_CONTEXT_ELEMENTS], f"sources-{i // MAX_CONTEXT_ELEMENTS}")
            )
    chunks = [blocks[i : i + MAX_BLOCKS] for i in range(0, len(blocks), MAX_BLOCKS)]
    first = _truncate(escape(response.answer), MAX_FALLBACK_CHARS)  # also what a thread's history reads
    return [SlackMessage(first if i == 0 else CONTINUED, chunk) for i, chunk in enumerate(chunks)]


def notice(text: str) -> SlackMessage:
    """A short message of Verity's own (an apology, a usage hint), not corpus text."""
    return SlackMessage(text, [_section(text, "notice")])
