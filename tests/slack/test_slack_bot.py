"""The bot end to end: signed requests into the real app (real models, real Chroma), answers out to a
local fake Slack. Mentions, direct messages, `/ask`, thread follow-ups, retries, bots, errors, and the
Slack answer compared with `/v1/ask` for the same question."""

from __future__ import annotations

import logging
import time
from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient
from slackfake import BOT_ID, BOT_USER, HUMAN, SlackClient, api_view, read_answer

from service.answering.pipeline import Verity
from service.schemas import AskResponse, Turn

QUESTION = "Who urged Trump to kill Soleimani after Iran shot down a U.S. drone?"


@pytest.fixture
def asked(verity: Verity, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, list[Turn]]]:
    """Every (question, history) the pipeline is asked, recorded; `boom` questions raise."""
    calls: list[tuple[str, list[Turn]]] = []
    real = verity.ask

    def spy(question: str, history: list[Turn] | None = None, as_of: date | None = None) -> AskResponse:
        calls.append((question, list(history or [])))
        if "boom" in question:
            raise RuntimeError("the pipeline broke")
        return real(question, history, as_of)

    monkeypatch.setattr(verity, "ask", spy)
    return calls


def _mention(text: str, channel: str = "C0NEWS", **extra: Any) -> dict[str, Any]:
    return {
        "type": "app_mention",
        "channel": channel,
        "user": HUMAN,
        "text": f"<@{BOT_USER}> {text}",
        **extra,
    }


def _dm(text: str, channel: str = "D0READER", **extra: Any) -> dict[str, Any]:
    return {"type": "message", "channel_type": "im", "channel": channel, "user": HUMAN, "text": text, **extra}


def test_a_mention_is_answered_in_its_thread(slack_client: SlackClient, client: TestClient) -> None:
    event = _mention(QUESTION, ts="1700000000.000100")
    response = slack_client.send_event(event)
    assert response.status_code == 200
    (post,) = slack_client.slack.wait_posts("C0NEWS")
    assert post.json is not None
    assert post.json["thread_ts"] == "1700000000.000100"
    assert post.json["unfurl_links"] is False
    shown = read_answer([post.json])
    assert not shown["refused"] and shown["sources"], shown
    assert shown == api_view(client.post("/v1/ask", json={"question": QUESTION}).json())


def test_a_direct_message_is_answered(slack_client: SlackClient, asked: list[tuple[str, list[Turn]]]) -> None:
    slack_client.send_event(_dm("Who urged Trump to kill Soleimani after Iran shot down a U.S. drone?"))
    (post,) = slack_client.slack.wait_posts("D0READER")
    assert post.json is not None and post.json.get("thread_ts") is None
    assert "Bolton" in read_answer([post.json])["answer"]
    assert asked == [("Who urged Trump to kill Soleimani after Iran shot down a U.S. drone?", [])]


def test_ask_command_is_acknowledged_at_once_and_answered_through_response_url(
    slack_client: SlackClient, client: TestClient
) -> None:
    url = slack_client.slack.response_url()
    started = time.monotonic()
    ack = slack_client.send_command(QUESTION, url)
    assert time.monotonic() - started < 3.0  # Slack's limit for the acknowledgement
    assert ack.status_code == 200 and ack.text.startswith(":mag: Looking up: Who urged Trump")
    slack = slack_client.slack
    (reply,) = slack.wait_for(lambda: [c for c in slack.posts() if c.method == "response_url"])
    assert reply.path == url.removeprefix(slack.url)
    assert reply.json is not None and reply.json["response_type"] == "in_channel"
    assert reply.json["blocks"][0]["block_id"] == "question"  # the command's text is not shown by Slack
    assert read_answer([reply.json]) == api_view(client.post("/v1/ask", json={"question": QUESTION}).json())


def test_ask_without_a_question_gets_usage_and_no_answer(
    slack_client: SlackClient, asked: list[tuple[str, list[Turn]]]
) -> None:
    ack = slack_client.send_command("   ", slack_client.slack.response_url())
    assert ack.status_code == 200 and "/ask" in ack.text
    time.sleep(0.5)
    assert slack_client.slack.posts() == [] and asked == []


def test_a_follow_up_in_a_thread_uses_the_thread_as_history(
    slack_client: SlackClient, client: TestClient, asked: list[tuple[str, list[Turn]]]
) -> None:
    slack = slack_client.slack
    first = "Who else died in the drone strike that killed Soleimani?"
    parent = slack.add_message("C0THREAD", f"<@{BOT_USER}> {first}")
    slack_client.send_event(_mention(first, channel="C0THREAD", ts=parent["ts"]))
    (answer,) = slack.wait_posts("C0THREAD")
    assert answer.json is not None and answer.json["thread_ts"] == parent["ts"]
    slack.add_message(
        "C0THREAD", "Interesting &amp; <https://example.com|worth reading>", thread_ts=parent["ts"]
    )
    slack.add_message(
        "C0THREAD", "I am another bot", user="U0OTHERBOT", bot_id="B0OTHER", thread_ts=parent["ts"]
    )
    follow_up = slack.add_message(
        "C0THREAD", f"<@{BOT_USER}> What group did he lead?", thread_ts=parent["ts"]
    )
    slack_client.send_event(
        _mention("What group did he lead?", channel="C0THREAD", ts=follow_up["ts"], thread_ts=parent["ts"])
    )
    posts = slack.wait_posts("C0THREAD", 2)
    assert posts[1].json is not None and posts[1].json["thread_ts"] == parent["ts"]
    replies = [c for c in slack.calls if c.method == "conversations.replies"]
    assert replies and replies[-1].params["ts"] == parent["ts"]
    from_slack = list(asked)  # before the API below is asked the same

    first_answer = client.post("/v1/ask", json={"question": first}).json()["answer"]
    history = [
        Turn(role="user", content=first),
        Turn(role="assistant", content=first_answer),
        Turn(role="user", content="Interesting & worth reading"),
    ]
    assert from_slack == [(first, []), ("What group did he lead?", history)]
    api = client.post(
        "/v1/ask", json={"question": "What group did he lead?", "history": [t.model_dump() for t in history]}
    )
    assert read_answer([posts[1].json]) == api_view(api.json())


def test_retried_and_duplicate_events_are_answered_once(
    slack_client: SlackClient, asked: list[tuple[str, list[Turn]]]
) -> None:
    event = _mention(QUESTION, channel="C0RETRY", ts="1700000001.000200")
    assert slack_client.send_event(dict(event), event_id="Ev0RETRY01").status_code == 200
    slack_client.slack.wait_posts("C0RETRY")
    for retry in ("1", "2"):
        response = slack_client.send_event(
            dict(event),
            event_id="Ev0RETRY01",
            headers={"X-Slack-Retry-Num": retry, "X-Slack-Retry-Reason": "http_timeout"},
        )
        assert response.status_code == 200 and response.headers["x-slack-no-retry"] == "1"
    # a retry whose first delivery went elsewhere, and a duplicate delivery without the header
    response = slack_client.send_event(dict(event), event_id="Ev0RETRY02", headers={"X-Slack-Retry-Num": "1"})
    assert response.status_code == 200 and response.headers["x-slack-no-retry"] == "1"
    assert slack_client.send_event(dict(event), event_id="Ev0RETRY01").headers["x-slack-no-retry"] == "1"
    slack_client.send_event(_dm("In which city was Soleimani killed?", channel="D0MARKER"))
    slack_client.slack.wait_posts("D0MARKER")
    time.sleep(0.5)
    assert len(slack_client.slack.posts("C0RETRY")) == 1
    assert [q for q, _ in asked].count(QUESTION) == 1


def test_own_and_other_bots_messages_and_edits_are_ignored(
    slack_client: SlackClient, asked: list[tuple[str, list[Turn]]]
) -> None:
    slack_client.send_event(_dm(QUESTION, channel="D0BOTS", user=BOT_USER, bot_id=BOT_ID))  # its own answer
    slack_client.send_event(_dm(QUESTION, channel="D0BOTS", user="U0OTHERBOT", bot_id="B0OTHER"))
    slack_client.send_event(_dm(QUESTION, channel="D0BOTS", subtype="bot_message", bot_id="B0OTHER"))
    slack_client.send_event(_mention(QUESTION, channel="C0BOTS", user="U0OTHERBOT", bot_id="B0OTHER"))
    slack_client.send_event(_dm(QUESTION, channel="D0BOTS", subtype="message_changed"))
    channel_message = _dm(QUESTION, channel="C0BOTS", channel_type="channel")  # not a DM, not a mention
    slack_client.send_event(channel_message)
    slack_client.send_event(_dm("In which city was Soleimani killed?", channel="D0MARKER"))
    slack_client.slack.wait_posts("D0MARKER")
    time.sleep(0.5)
    assert slack_client.slack.posts("D0BOTS") == [] and slack_client.slack.posts("C0BOTS") == []
    assert [q for q, _ in asked] == ["In which city was Soleimani killed?"]


def test_an_error_while_answering_posts_an_apology_and_is_logged(
    slack_client: SlackClient, asked: list[tuple[str, list[Turn]]], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="verity.slack")
    slack_client.send_event(_mention("boom: what happened?", channel="C0ERROR", ts="1700000002.000300"))
    (post,) = slack_client.slack.wait_posts("C0ERROR")
    assert post.json is not None and post.json["thread_ts"] == "1700000002.000300"
    assert "Sorry" in post.json["text"]
    logged = [r for r in caplog.records if r.name == "verity.slack" and r.exc_info]
    assert logged and "boom" in logged[0].getMessage() and "the pipeline broke" in str(logged[0].exc_info[1])

    url = slack_client.slack.response_url()
    slack_client.send_command("boom again?", url)
    slack = slack_client.slack
    (reply,) = slack.wait_for(lambda: [c for c in slack.posts() if c.method == "response_url"])
    assert reply.json is not None and "Sorry" in reply.json["text"]


def test_an_empty_mention_gets_a_hint(slack_client: SlackClient, asked: list[tuple[str, list[Turn]]]) -> None:
    slack_client.send_event(_mention("", channel="C0EMPTY"))
    (post,) = slack_client.slack.wait_posts("C0EMPTY")
    assert post.json is not None and "Ask me a question" in post.json["text"] and asked == []


@pytest.mark.parametrize(
    "question",
    [
        "How many rockets did Kataib Hezbollah fire at the Iraqi base in Kirkuk on Dec. 27?",
        "On what date did the deadliest attack kill a U.S. contractor?",  # sources that disagree
        "Why was Soleimani killed in Damascus?",  # a false premise
        "How old was Qassem Soleimani when he was killed?",  # not in the articles
        "Which team won the 2020 NBA championship?",  # out of scope
    ],
)
def test_slack_answers_match_the_api(slack_client: SlackClient, client: TestClient, question: str) -> None:
    channel = "D0COMPARE"
    slack_client.send_event(_dm(question, channel=channel))
    posts = slack_client.slack.wait_posts(channel)
    api = client.post("/v1/ask", json={"question": question}).json()
    shown = read_answer([p.json for p in posts if p.json is not None])
    assert shown == api_view(api)
    assert shown["refused"] == (api["status"] == "refused")
