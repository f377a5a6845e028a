"""Block Kit rendering: mrkdwn escaping of corpus text, Slack's text and block limits, refusals,
disagreements, and reading Slack's message text back as plain text."""

from __future__ import annotations

from typing import Any

from slackfake import blocks_error

from service.schemas import AskResponse, Citation, Claim, Conflict, Refusal
from service.slack.blocks import (
    CONTINUED,
    MAX_BLOCKS,
    SlackMessage,
    escape,
    plain_text,
    render,
    split_text,
    unescape,
)


def _citation(
    n: int, text: str = "A sentence.", title: str = "A title", author: str | None = None
) -> Citation:
    return Citation(
        id=n, document_id=f"doc{n}", title=title, text=text, start=0, end=len(text), author=author
    )


def _texts(message: SlackMessage, prefix: str) -> list[str]:
    return [b["text"]["text"] for b in message.blocks if b.get("block_id", "").startswith(prefix)]


def _sources(messages: list[SlackMessage]) -> list[str]:
    return [
        e["text"]
        for m in messages
        for b in m.blocks
        if b["block_id"].startswith("sources-")
        for e in b["elements"]
    ]


def test_mrkdwn_control_characters_in_corpus_text_are_literal() -> None:
    nasty = "Tom & Jerry <!channel> <@U123> <https://evil.example|click> *bold* _it_ ~gone~ `code` > quote"
    escaped = escape(nasty)
    assert "<" not in escaped and ">" not in escaped
    assert "&amp;" in escaped and "&lt;!channel&gt;" in escaped
    for mark in "*_~`":  # every formatting character is fenced, so it cannot open or close formatting
        for i, ch in enumerate(escaped):
            if ch == mark:
                assert escaped[i - 1] == "\u200b" and escaped[i + 1] == "\u200b"
    assert unescape(escaped) == nasty

    response = AskResponse(
        status="answered", answer=f"{nasty} [1]", citations=[_citation(1, nasty, nasty, nasty)]
    )
    (message,) = render(response)
    for block in message.blocks:
        texts = [block["text"]] if "text" in block else block.get("elements", [])
        for t in texts:
            assert "<" not in t["text"] and t["verbatim"] is True  # no auto-linked names or URLs either
    assert "<" not in message.text


def test_answer_then_sources_with_markers_titles_authors_and_quotes() -> None:
    response = AskResponse(
        status="answered",
        answer="Bolton urged it. [1][2] Pompeo agreed. [3]",
        citations=[
            _citation(1, "Bolton urged it.", "Trump's choice", "Jane Doe"),
            _citation(2, "Bolton urged it.", "Another paper"),
            _citation(3, "Pompeo agreed.", "Trump's choice", "Jane Doe"),
        ],
        claims=[Claim(text="Bolton urged it.", citations=[1, 2], verdict="supported")],
    )
    (message,) = render(response)
    kinds = [b["block_id"] for b in message.blocks]
    assert kinds == ["answer-0", "sources", "sources-0"]
    assert _texts(message, "answer") == ["Bolton urged it. [1][2] Pompeo agreed. [3]"]
    assert _sources([message]) == [
        "*[1]* _Trump's choice_ — Jane Doe\n“Bolton urged it.”",
        "*[2]* _Another paper_\n“Bolton urged it.”",
        "*[3]* _Trump's choice_ — Jane Doe\n“Pompeo agreed.”",
    ]
    assert message.text == response.answer
    assert blocks_error(message.blocks) is None


def test_refusal_shows_its_reason_and_the_correction() -> None:
    message_text = (
        "The question assumes something the articles contradict. They report: He was killed in Baghdad. [1]"
    )
    response = AskResponse(
        status="refused",
        answer=message_text,
        citations=[_citation(1, "He was killed in Baghdad.")],
        refusal=Refusal(reason="false_premise", message=message_text),
    )
    (message,) = render(response)
    assert [b["block_id"] for b in message.blocks][:2] == ["refusal", "answer-0"]
    assert "Not answered" in message.blocks[0]["text"]["text"]
    assert "contradict" in message.blocks[0]["text"]["text"]
    assert _texts(message, "answer") == [message_text]
    assert _sources([message]) == ["*[1]* _A title_\n“He was killed in Baghdad.”"]

    out_of_scope = AskResponse(
        status="refused",
        answer="Not covered.",
        refusal=Refusal(reason="out_of_scope", message="Not covered."),
    )
    (message,) = render(out_of_scope)
    assert [b["block_id"] for b in message.blocks] == ["refusal", "answer-0"]
    assert "do not cover" in message.blocks[0]["text"]["text"]


def test_disagreement_is_visible_before_the_answer() -> None:
    response = AskResponse(
        status="answered",
        answer="The sources disagree on this. According to “A”: 5 died. [1] According to “B”: 7 died. [2]",
        citations=[_citation(1, "5 died.", "A"), _citation(2, "7 died.", "B")],
        conflicts=[Conflict(about="How many died?", claims=["A: 5 died.", "B: 7 died."])],
    )
    (message,) = render(response)
    assert [b["block_id"] for b in message.blocks][:2] == ["conflict-0-0", "answer-0"]
    conflict = message.blocks[0]["text"]["text"]
    assert "The sources disagree" in conflict and "• A: 5 died." in conflict and "• B: 7 died." in conflict


def test_long_answers_are_split_within_slack_limits_and_lose_nothing() -> None:
    sentences = [
        f"Sentence number {i} says <something> & *more* about it. [{i % 60 + 1}]" for i in range(2000)
    ]
    answer = " ".join(sentences)
    citations = [_citation(n, f"Quoted sentence {n} " + "x" * (50 * n), f"Title {n}") for n in range(1, 61)]
    citations.append(_citation(61, "word " * 1000, "A very long quote"))  # one quote beyond 3,000 characters
    response = AskResponse(status="answered", answer=answer, citations=citations)
    messages = render(response, question="What <does> it say?")
    assert len(messages) >= 2
    assert all(blocks_error(m.blocks) is None and len(m.blocks) <= MAX_BLOCKS for m in messages)
    assert messages[0].text.endswith("…") and len(messages[0].text) <= 4000
    assert all(m.text == CONTINUED for m in messages[1:])
    pieces = [piece for m in messages for piece in _texts(m, "answer-")]
    assert len(pieces) > 1 and all(len(p) <= 3000 for p in pieces)
    assert unescape(" ".join(pieces)) == answer  # split at spaces, nothing lost or repeated
    assert all(p.rstrip().endswith("]") for p in pieces[:-1])  # and after a sentence's markers
    sources = _sources(messages)
    assert len(sources) == 61 and sources[0].startswith("*[1]*") and sources[-1].startswith("*[61]*")
    assert sources[-1].endswith("…")
    assert messages[0].blocks[0]["block_id"] == "question"


def test_split_text_without_spaces_never_cuts_an_entity() -> None:
    text = escape("<>" * 2000)
    pieces = split_text(text, 3000)
    assert all(len(p) <= 3000 for p in pieces)
    assert "".join(pieces) == text
    assert all(p.endswith(";") for p in pieces)


def test_plain_text_reads_slack_markup_back() -> None:
    raw = "<@U0BOT> what did <@U123|ann> say in <#C1|general> about <https://x.example/a|this> &amp; <!here>?"
    assert plain_text(raw, remove_user="U0BOT") == "what did @ann say in #general about this & @here?"
    assert plain_text("  <@U0BOT>  ", remove_user="U0BOT") == ""
    assert plain_text("see <https://x.example>") == "see https://x.example"


def _every_text(message: SlackMessage) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for block in message.blocks:
        out += [block["text"]] if "text" in block else block.get("elements", [])
    return out


def test_notice_and_question_blocks_are_well_formed() -> None:
    response = AskResponse(status="answered", answer="Yes. [1]", citations=[_citation(1)])
    (message,) = render(response, question="Is *this* <ok>?")
    texts = _every_text(message)
    assert all(t["type"] == "mrkdwn" for t in texts)
    assert unescape(texts[0]["text"]) == "*Question:* Is *this* <ok>?"
