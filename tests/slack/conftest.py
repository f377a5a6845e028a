"""Fixtures of the Slack tests: a local fake Slack server and the app wired to it (see `slackfake`)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from http.server import ThreadingHTTPServer

import pytest
from fastapi.testclient import TestClient
from slackfake import FakeSlack, SlackClient, handler, slack_settings

from service.answering.pipeline import Verity
from service.config import Settings
from service.http.app import create_app


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    slack = FakeSlack()
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler(slack))
    slack.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield slack
    server.shutdown()
    server.server_close()


@pytest.fixture
def slack_client(
    settings: Settings, verity: Verity, fake_slack: FakeSlack, wait_healthy: Callable[[TestClient], object]
) -> Iterator[SlackClient]:
    """A ready app (the session's real `Verity`) with `POST /slack/events`, talking to `fake_slack`."""
    with TestClient(create_app(slack_settings(settings, fake_slack), verity=verity)) as http:
        wait_healthy(http)
        yield SlackClient(http, fake_slack)
