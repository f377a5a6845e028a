"""The Slack bot: a slack_bolt `App` whose listeners are one more thin adapter over `Verity.ask()`.

Mentions are answered in the mentioning message's thread, direct messages where they were sent, and
`/ask <question>` is acknowledged at once (Slack allows 3 seconds) while a lazy listener answers through
the command's `response_url`. In a thread, the thread's earlier messages (`conversations.replies`) are
the conversation history. Retried and duplicate deliveries are dropped before any listener runs, and
the bot never answers itself or another bot. Any failure while answering is logged and the asker gets
a short apology, never silence.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltRequest, BoltResponse
from slack_bolt.context.ack import Ack
from slack_bolt.context.respond import Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from service.config import Settings
from service.errors import BadRequest, ConfigError, NotReady
from service.schemas import AskResponse, Turn
from service.slack.blocks import CONTINUED, SlackMessage, escape, notice, plain_text, render, unescape

log = logging.getLogger("verity.slack")

AskFunction = Callable[[str, list[Turn]], AskResponse]

APOLOGY = ":warning: Sorry, something went wrong while answering. It has been logged; please try again."
STARTING = (
    ":hourglass_flowing_sand: Verity is still starting (loading its models and index). Ask again shortly."
)
USAGE = "Ask me a question about the news articles, e.g. `/ask Who urged Trump to retaliate against Iran?`"
MAX_HISTORY_TURNS = 20
MAX_TURN_CHARS = 20_000  # the API's limit on one history turn
_ANSWERED_SUBTYPES = {None, "thread_broadcast", "file_share"}  # message subtypes a person typed


class SeenEvents:
    """Event ids delivered in the last `ttl` seconds: a retry or a duplicate delivery is seen twice.

    In memory, so per process: with several replicas behind one URL, each remembers its own."""

    def __init__(self, ttl: float = 3600.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self._clock = clock
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def first_time(self, key: str) -> bool:
        now = self._clock()
        with self._lock:
            while self._seen:  # insertion order is expiry order
                oldest, at = next(iter(self._seen.items()))
                if now - at < self.ttl:
                    break
                del self._seen[oldest]
            if key in self._seen:
                return False
            self._seen[key] = now
            return True


def build_app(settings: Settings, ask: AskFunction, *, socket_mode: bool = False) -> App:
    """A Bolt app for the workspace of `VERITY_SLACK_BOT_TOKEN`, talking to `VERITY_SLACK_API_URL`.

    Over HTTP every request must carry a valid signature (`VERITY_SLACK_SIGNING_SECRET`); Socket Mode
    needs none (the connection itself is authenticated by the app-level token)."""
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else ""
    secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else ""
    if not token:
        raise ConfigError("VERITY_SLACK_BOT_TOKEN is not set")
    if not socket_mode and not secret:
        raise ConfigError("VERITY_SLACK_SIGNING_SECRET is not set")
    app = App(
        name="verity",
        client=WebClient(token=token, base_url=settings.slack_api_url),
        signing_secret=secret,
        token_verification_enabled=False,  # `auth.test` on the first event, not at startup
        ssl_check_enabled=False,  # Bolt answers ssl_check before verifying; here it follows verification
        logger=logging.getLogger("verity.slack.bolt"),
    )
    register_listeners(app, ask)
    return app


def register_listeners(app: App, ask: AskFunction, seen: SeenEvents | None = None) -> None:
    """Attach Verity's middleware and listeners to a Bolt app (bolt-python's `register_listeners`)."""
    seen = seen or SeenEvents()

    def drop_repeats(
        request: BoltRequest, body: dict[str, Any], next: Callable[[], None]
    ) -> BoltResponse | None:
        if body.get("ssl_check") == "1":  # Slack checking the certificate of a slash command's URL
            return BoltResponse(status=200, body="")
        if body.get("type") == "event_callback":
            # Socket Mode reports a first delivery as retry 0; over HTTP a first delivery has no header.
            retry = request.headers.get("x-slack-retry-num", ["0"])[0]
            event_id = str(body.get("event_id") or "")
            if retry != "0" or (event_id and not seen.first_time(event_id)):
                log.info("dropping a repeated delivery of %s (retry %s)", event_id, retry)
                return BoltResponse(status=200, body="", headers={"x-slack-no-retry": "1"})
        next()
        return None

    app.use(drop_repeats)

    @app.event("app_mention")
    def on_mention(event: dict[str, Any], context: dict[str, Any], client: WebClient) -> None:
        if _from_a_bot(event):
            return
        reply_in = event.get("thread_ts") or event["ts"]
        _answer_event(event, context, client, ask, reply_in)

    @app.event("message")
    def on_message(event: dict[str, Any], context: dict[str, Any], client: WebClient) -> None:
        # Only direct messages: channel messages reach the bot as `app_mention` when it is mentioned.
        if event.get("channel_type") != "im" or _from_a_bot(event):
            return
        _answer_event(event, context, client, ask, event.get("thread_ts"))

    def acknowledge(ack: Ack, command: dict[str, Any]) -> None:
        question = plain_text(command.get("text", ""))
        ack(text=f":mag: Looking up: {escape(question)}" if question else USAGE)

    def answer_command(command: dict[str, Any], respond: Respond) -> None:
        question = plain_text(command.get("text", ""))
        if not question:
            return
        for message in _answer(ask, question, [], show_question=True):
            try:
                respond(text=message.text, blocks=message.blocks, response_type="in_channel",
                        replace_original=False)  # fmt: skip
            except Exception:
                log.exception("could not post the answer to /ask through its response_url")
                respond(text=APOLOGY, response_type="ephemeral", replace_original=False)
                return

    app.command("/ask")(ack=acknowledge, lazy=[answer_command])


def _from_a_bot(event: dict[str, Any]) -> bool:
    """Messages of bots (this one included) and edits, deletions and joins are not questions."""
    return bool(event.get("bot_id")) or event.get("subtype") not in _ANSWERED_SUBTYPES


def _answer_event(
    event: dict[str, Any], context: dict[str, Any], client: WebClient, ask: AskFunction, thread_ts: str | None
) -> None:
    bot_user = context.get("bot_user_id")
    question = plain_text(event.get("text", ""), remove_user=bot_user)
    channel = event["channel"]
    if not question:
        messages = [notice(USAGE)]
    else:
        try:
            history = (
                thread_history(
                    client, channel, event["thread_ts"], event["ts"], bot_user, context.get("bot_id")
                )
                if event.get("thread_ts")
                else []
            )
        except Exception:
            log.exception("could not read the thread %s in %s", event.get("thread_ts"), channel)
            messages = [notice(APOLOGY)]
        else:
            messages = _answer(ask, question, history)
    for message in messages:
        try:
            client.chat_postMessage(
                channel=channel, thread_ts=thread_ts, text=message.text, blocks=message.blocks,
                unfurl_links=False, unfurl_media=False,
            )  # fmt: skip
        except SlackApiError:
            log.exception("could not post the answer in %s", channel)
            if message.text != APOLOGY:
                client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=APOLOGY)
            return


def _answer(
    ask: AskFunction, question: str, history: list[Turn], show_question: bool = False
) -> list[SlackMessage]:
    """The pipeline's answer as Slack messages; a short notice instead when it cannot answer."""
    try:
        response = ask(question, history)
    except NotReady:
        return [notice(STARTING)]
    except BadRequest as exc:  # e.g. a question longer than the API allows
        return [notice(f":warning: {exc.message}")]
    except Exception:
        log.exception("answering %r failed", question)
        return [notice(APOLOGY)]
    return render(response, question=question if show_question else None)


def thread_history(
    client: WebClient, channel: str, thread_ts: str, before_ts: str, bot_user: str | None, bot_id: str | None
) -> list[Turn]:
    """The thread's messages before `before_ts` as turns: this bot's as `assistant`, people's as `user`.

    Other bots' messages are left out; an answer split over several messages is one turn."""
    turns: list[Turn] = []
    cursor: str | None = None
    for _ in range(10):  # at most 10 pages of 200 replies
        page = client.conversations_replies(channel=channel, ts=thread_ts, limit=200, cursor=cursor)
        for m in page.get("messages") or []:
            if float(m["ts"]) >= float(before_ts):
                continue
            ours = (bot_id is not None and m.get("bot_id") == bot_id) or (
                bot_user is not None and m.get("user") == bot_user
            )
            if ours:
                text = unescape(m.get("text", "")).strip()
                if text == CONTINUED or not text:
                    continue
                if turns and turns[-1].role == "assistant":
                    turns[-1] = Turn(role="assistant", content=f"{turns[-1].content} {text}"[:MAX_TURN_CHARS])
                    continue
                turns.append(Turn(role="assistant", content=text[:MAX_TURN_CHARS]))
            elif not _from_a_bot(m):
                text = plain_text(m.get("text", ""), remove_user=bot_user)
                if text:
                    turns.append(Turn(role="user", content=text[:MAX_TURN_CHARS]))
        cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
        if not cursor:
            break
    return turns[-MAX_HISTORY_TURNS:]
