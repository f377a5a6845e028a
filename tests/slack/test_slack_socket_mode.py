"""Socket Mode (`verity slack`): the bot over a real WebSocket, as Slack runs it.

A local WebSocket server plays Slack's Socket Mode endpoint (`apps.connections.open` on the fake Web API
hands out its URL): it says hello, delivers envelopes (an event, the same event retried, a slash command)
and collects the bot's acknowledgements. Answers go to the fake Web API as over HTTP. (slack_sdk's
built-in client speaks TLS only on port 443; on any other port, as here, it speaks plain WebSocket.)
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest
from pydantic import SecretStr
from slackfake import FakeSlack, command_body, event_body, read_answer, slack_settings
from websockets.exceptions import ConnectionClosed
from websockets.sync.server import ServerConnection, serve

from service import cli
from service.answering.pipeline import Verity
from service.config import Settings
from service.slack.socket_mode import socket_mode_handler


class SocketModeServer:
    """Slack's side of one Socket Mode connection: hello, then `envelopes`, collecting the acks."""

    def __init__(self, envelopes: list[dict[str, Any]]) -> None:
        self.envelopes = envelopes
        self.acks: dict[str, dict[str, Any]] = {}
        self.changed = threading.Condition()

    def __call__(self, ws: ServerConnection) -> None:
        ws.send(
            json.dumps({"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A0VERITY"}})
        )
        for envelope in self.envelopes:
            ws.send(json.dumps(envelope))
        try:
            for message in ws:
                ack = json.loads(message)
                with self.changed:
                    self.acks[ack["envelope_id"]] = ack
                    self.changed.notify_all()
        except ConnectionClosed:  # the bot closing without a close frame, as slack_sdk does
            pass

    def wait_acks(self, count: int, timeout: float = 60.0) -> dict[str, dict[str, Any]]:
        deadline = time.monotonic() + timeout
        with self.changed:
            while len(self.acks) < count:
                assert time.monotonic() < deadline, f"acks so far: {self.acks}"
                self.changed.wait(0.2)
            return dict(self.acks)


QUESTION = "Who urged Trump to kill Soleimani after Iran shot down a U.S. drone?"


@pytest.fixture
def socket_slack(fake_slack: FakeSlack) -> Iterator[SocketModeServer]:
    event = json.loads(event_body({"type": "message", "channel_type": "im", "channel": "D0SOCKET",
                                   "user": "U0HUMAN01", "text": QUESTION},
                                  event_id="Ev0SOCKET1"))  # fmt: skip
    command = dict(
        parse_qsl(
            command_body(
                QUESTION,
                fake_slack.response_url(),
            )
        )
    )
    envelopes = [
        {"envelope_id": "env-1", "type": "events_api", "accepts_response_payload": False, "retry_attempt": 0,
         "retry_reason": "", "payload": event},
        {"envelope_id": "env-2", "type": "events_api", "accepts_response_payload": False, "retry_attempt": 1,
         "retry_reason": "timeout", "payload": event},
        {"envelope_id": "env-3", "type": "slash_commands", "accepts_response_payload": True,
         "payload": command},
    ]  # fmt: skip
    slack = SocketModeServer(envelopes)
    with serve(slack, "127.0.0.1", 0) as server:
        port = server.socket.getsockname()[1]
        fake_slack.ws_url = f"wss://127.0.0.1:{port}/link/?ticket=verity-test"
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        yield slack
        server.shutdown()


def test_socket_mode_answers_events_and_commands_once(
    settings: Settings,
    verity: Verity,
    fake_slack: FakeSlack,
    socket_slack: SocketModeServer,
) -> None:
    slack = socket_slack
    socket_settings = slack_settings(settings, fake_slack).model_copy(
        update={"slack_signing_secret": None, "slack_app_token": SecretStr("xapp-1-verity-test")}
    )
    handler = socket_mode_handler(socket_settings, verity)
    handler.connect()  # type: ignore[no-untyped-call]
    try:
        acks = slack.wait_acks(3)
        assert acks["env-1"] == {"envelope_id": "env-1"} and acks["env-2"] == {"envelope_id": "env-2"}
        assert acks["env-3"]["payload"]["text"].startswith(":mag: Looking up:")
        (post,) = fake_slack.wait_posts("D0SOCKET")
        reply = fake_slack.wait_for(lambda: [c for c in fake_slack.posts() if c.method == "response_url"])[0]
        assert "Bolton" in read_answer([post.json])["answer"]
        assert read_answer([reply.json]) == read_answer([post.json])
        time.sleep(0.5)
        assert len(fake_slack.posts("D0SOCKET")) == 1  # the retried envelope was acknowledged, not answered
    finally:
        handler.close()  # type: ignore[no-untyped-call]


def test_verity_slack_needs_both_tokens(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)  # no .env
    for name in ("VERITY_SLACK_BOT_TOKEN", "VERITY_SLACK_APP_TOKEN", "VERITY_SLACK_SIGNING_SECRET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("VERITY_SLACK_BOT_TOKEN", "xoxb-only-this")
    assert cli.main(["slack"]) == cli.EXIT_USAGE
    assert "VERITY_SLACK_APP_TOKEN" in capsys.readouterr().err
