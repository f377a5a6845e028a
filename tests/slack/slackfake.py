"""A local Slack for the Slack tests: a real HTTP server speaking the Web API's protocol for the methods
the bot uses, and helpers to send Verity requests signed as Slack signs them.

Slack's Web API cannot be reached from here, so `FakeSlack` serves `auth.test`, `chat.postMessage`,
`conversations.replies`, `apps.connections.open` and `response_url`s on 127.0.0.1, checks Slack's block
limits the way Slack does (`invalid_blocks`), keeps the messages posted so `conversations.replies`
returns them, and lets a test wait for what it receives. `VERITY_SLACK_API_URL` points the bot at it.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

from fastapi.testclient import TestClient
from pydantic import SecretStr

from service.config import Settings
from service.slack.blocks import unescape

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"  # Slack's documented example signing secret
TEAM, BOT_USER, BOT_ID, HUMAN = "T0VERITY", "U0VERITY", "B0VERITY", "U0HUMAN01"


@dataclass
class Call:
    method: str  # the Web API method, or "response_url"
    path: str
    params: dict[str, Any]  # query string and form fields
    json: dict[str, Any] | None = None


@dataclass
class FakeSlack:
    url: str = ""
    calls: list[Call] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)  # every channel's messages, in order
    ws_url: str = ""  # what apps.connections.open hands out (Socket Mode tests)
    _changed: threading.Condition = field(default_factory=threading.Condition)
    _ts: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/"

    def response_url(self) -> str:
        return f"{self.url}/commands/{TEAM}/{uuid.uuid4().int % 10**12}/{uuid.uuid4().hex}"

    def next_ts(self) -> str:
        return f"{int(time.time())}.{next(self._ts):06d}"

    def add_message(self, channel: str, text: str, user: str = HUMAN, thread_ts: str | None = None,
                    **extra: Any) -> dict[str, Any]:  # fmt: skip
        """A message already in the workspace (what `conversations.replies` will return)."""
        message = {"type": "message", "channel": channel, "user": user, "text": text, "ts": self.next_ts()}
        if thread_ts:
            message["thread_ts"] = thread_ts
        message.update(extra)
        with self._changed:
            self.messages.append(message)
        return message

    def record(self, call: Call) -> None:
        with self._changed:
            self.calls.append(call)
            self._changed.notify_all()

    def posts(self, channel: str | None = None) -> list[Call]:
        with self._changed:
            found = [c for c in self.calls if c.method in ("chat.postMessage", "response_url")]
        return [c for c in found if channel is None or (c.json or {}).get("channel") == channel]

    def wait_for(self, predicate: Callable[[], Any], timeout: float = 120.0) -> Any:
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                value = predicate()
                if value:
                    return value
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out; calls so far: {[c.method for c in self.calls]}")
                self._changed.wait(min(left, 0.5))

    def wait_posts(self, channel: str, count: int = 1, timeout: float = 120.0) -> list[Call]:
        return list(self.wait_for(lambda: len(self.posts(channel)) >= count and self.posts(channel), timeout))


# -- the server -----------------------------------------------------------------------------------------
MAX_BLOCKS, MAX_SECTION, MAX_CONTEXT_ELEMENTS = 50, 3000, 10


def blocks_error(blocks: list[dict[str, Any]]) -> str | None:
    """What Slack would reject in `blocks`, as its error says (`invalid_blocks`)."""
    if len(blocks) > MAX_BLOCKS:
        return "invalid_blocks: more than 50 blocks"
    for block in blocks:
        if block["type"] == "section" and len(block["text"]["text"]) > MAX_SECTION:
            return "invalid_blocks: section text longer than 3000"
        if block["type"] == "context":
            if len(block["elements"]) > MAX_CONTEXT_ELEMENTS:
                return "invalid_blocks: more than 10 context elements"
            if any(len(e["text"]) > MAX_SECTION for e in block["elements"]):
                return "invalid_blocks: context text longer than 3000"
    return None


def handler(slack: FakeSlack) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def do_GET(self) -> None:
            self._handle()

        def do_POST(self) -> None:
            self._handle()

        def _handle(self) -> None:
            parsed = urlparse(self.path)
            raw = self.rfile.read(int(self.headers.get("content-length") or 0)).decode()
            params = {k: v[0] for k, v in parse_qs(parsed.query).items()}
            body: dict[str, Any] | None = None
            if raw and "json" in (self.headers.get("content-type") or ""):
                body = json.loads(raw)
            elif raw:
                params.update({k: v[0] for k, v in parse_qs(raw).items()})
            if parsed.path.startswith("/commands/"):
                slack.record(Call("response_url", parsed.path, params, body))
                return self._reply(200, "ok", "text/html")
            method = parsed.path.removeprefix("/api/")
            token_kind = "Bearer xapp-" if method == "apps.connections.open" else "Bearer xoxb-"
            if not self.headers.get("authorization", "").startswith(token_kind):
                return self._reply(200, {"ok": False, "error": "not_authed"})
            result = self._method(method, params, body or {})
            slack.record(Call(method, parsed.path, params, body))
            self._reply(200, result)

        def _method(self, method: str, params: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
            args = {**params, **body}
            if method == "auth.test":
                return {"ok": True, "url": "https://verity-test.slack.com/", "team": "Verity test",
                        "user": "verity", "team_id": TEAM, "user_id": BOT_USER, "bot_id": BOT_ID,
                        "is_enterprise_install": False}  # fmt: skip
            if method == "apps.connections.open":
                return {"ok": True, "url": slack.ws_url}
            if method == "chat.postMessage":
                if not args.get("channel"):
                    return {"ok": False, "error": "channel_not_found"}
                if not args.get("text") and not args.get("blocks"):
                    return {"ok": False, "error": "no_text"}
                blocks = args.get("blocks") or []
                if isinstance(blocks, str):
                    blocks = json.loads(blocks)
                problem = blocks_error(blocks)
                if problem:
                    return {"ok": False, "error": "invalid_blocks", "errors": [problem]}
                message = slack.add_message(
                    args["channel"], args.get("text", ""), user=BOT_USER, thread_ts=args.get("thread_ts"),
                    bot_id=BOT_ID, blocks=blocks,
                )  # fmt: skip
                return {"ok": True, "channel": args["channel"], "ts": message["ts"], "message": message}
            if method == "conversations.replies":
                ts = args.get("ts")
                thread = [
                    m for m in slack.messages
                    if m["channel"] == args.get("channel") and ts in (m["ts"], m.get("thread_ts"))
                ]  # fmt: skip
                if not thread:
                    return {"ok": False, "error": "thread_not_found"}
                return {"ok": True, "messages": thread, "has_more": False,
                        "response_metadata": {"next_cursor": ""}}  # fmt: skip
            return {"ok": False, "error": "unknown_method"}

        def _reply(self, status: int, body: Any, content_type: str = "application/json") -> None:
            data = (json.dumps(body) if not isinstance(body, str) else body).encode()
            self.send_response(status)
            self.send_header("content-type", content_type)
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


# -- signed requests ------------------------------------------------------------------------------------
def sign(body: str, timestamp: int | None = None, secret: str = SECRET) -> dict[str, str]:
    """Slack's v0 signature headers: HMAC-SHA256 of `v0:{timestamp}:{body}` with the signing secret."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}


def event_body(event: dict[str, Any], event_id: str | None = None) -> str:
    event.setdefault("ts", f"{time.time():.6f}")
    event.setdefault("event_ts", event["ts"])
    return json.dumps({
        "token": "unused", "team_id": TEAM, "api_app_id": "A0VERITY", "type": "event_callback",
        "event_id": event_id or f"Ev{uuid.uuid4().hex[:10].upper()}", "event_time": int(time.time()),
        "event": event,
        "authorizations": [{"team_id": TEAM, "user_id": BOT_USER, "is_bot": True}],
    })  # fmt: skip


def command_body(text: str, response_url: str, channel: str = "C0COMMAND") -> str:
    return urlencode({
        "token": "unused", "team_id": TEAM, "team_domain": "verity-test", "channel_id": channel,
        "channel_name": "general", "user_id": HUMAN, "user_name": "reader", "command": "/ask", "text": text,
        "api_app_id": "A0VERITY", "response_url": response_url, "trigger_id": "1.2.3",
    })  # fmt: skip


@dataclass
class SlackClient:
    """The HTTP app (through the factory, with Slack configured) and the fake Slack it talks to."""

    http: TestClient
    slack: FakeSlack

    def send_event(self, event: dict[str, Any], event_id: str | None = None,
                   headers: dict[str, str] | None = None) -> Any:  # fmt: skip
        body = event_body(event, event_id)
        return self.post(body, "application/json", headers)

    def send_command(self, text: str, response_url: str) -> Any:
        return self.post(command_body(text, response_url), "application/x-www-form-urlencoded")

    def post(self, body: str, content_type: str, headers: dict[str, str] | None = None) -> Any:
        all_headers = {**sign(body), "Content-Type": content_type, **(headers or {})}
        return self.http.post("/slack/events", content=body, headers=all_headers)


def slack_settings(settings: Settings, slack: FakeSlack) -> Settings:
    return settings.model_copy(
        update={
            "slack_bot_token": SecretStr("xoxb-verity-test"),
            "slack_signing_secret": SecretStr(SECRET),
            "slack_api_url": slack.api_url,
        }
    )


# -- reading the bot's messages back ---------------------------------------------------------------------
_SOURCE = re.compile(r"^\*\[(\d+)\]\* _(.*?)_(?: — (.*?))?\n“(.*)”$", re.DOTALL)


def read_answer(payloads: list[dict[str, Any]]) -> dict[str, Any]:
    """What the bot's messages (chat.postMessage or response_url bodies) show, in the API's terms:
    refused or not, the answer text with its [n] markers, the sources, the disagreeing claims."""
    blocks = [b for p in payloads for b in p.get("blocks") or []]
    answer = [unescape(b["text"]["text"]) for b in blocks if b["block_id"].startswith("answer-")]
    sources = []
    for b in blocks:
        if b["block_id"].startswith("sources-"):
            for element in b["elements"]:
                match = _SOURCE.match(unescape(element["text"]))
                assert match, element["text"]
                n, title, author, text = match.groups()
                sources.append({"id": int(n), "title": title, "author": author, "text": text})
    conflict = "\n".join(unescape(b["text"]["text"]) for b in blocks if b["block_id"].startswith("conflict-"))
    return {
        "refused": any(b["block_id"] == "refusal" for b in blocks),
        "answer": " ".join(answer),
        "sources": sources,
        "conflict_claims": [
            line.removeprefix("• ") for line in conflict.splitlines() if line.startswith("• ")
        ],
    }


def api_view(body: dict[str, Any]) -> dict[str, Any]:
    """A /v1/ask response in the terms of `read_answer` (an answer leads with its short answer in bold)."""
    short = body.get("short_answer") if body["status"] == "answered" else None
    return {
        "refused": body["status"] == "refused",
        "answer": f"*{short['text']}* — {body['answer']}" if short else body["answer"],
        "sources": [
            {"id": c["id"], "title": c["title"], "author": c.get("author"), "text": c["text"]}
            for c in body["citations"]
        ],  # fmt: skip
        "conflict_claims": [claim for c in body["conflicts"] for claim in c["claims"]],
    }
