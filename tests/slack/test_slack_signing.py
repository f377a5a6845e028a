"""Request signing: Slack's v0 algorithm (its documented example vector), and the route's refusal of
missing, wrong and stale signatures with 401 before anything is processed. Also: the route exists only
when Slack is configured, and before the pipeline is ready the bot says so instead of staying silent.

These tests never start the app's lifespan, so no pipeline is built: nothing here needs the models.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from slack_sdk.signature import Clock, SignatureVerifier
from slackfake import HUMAN, SECRET, FakeSlack, event_body, sign, slack_settings

from service.config import Settings
from service.http.app import create_app

# Slack's documented example (https://api.slack.com/authentication/verifying-requests-from-slack)
EXAMPLE_TIMESTAMP = 1531420618
EXAMPLE_BODY = (
    "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V"
    "&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text="
    "&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
    "&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
)
EXAMPLE_SIGNATURE = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"


class _At(Clock):
    def __init__(self, now: float) -> None:
        self._now = now

    def now(self) -> float:
        return self._now


def test_slacks_documented_example_signature() -> None:
    verifier = SignatureVerifier(SECRET, clock=_At(EXAMPLE_TIMESTAMP + 10))
    assert (
        verifier.generate_signature(timestamp=str(EXAMPLE_TIMESTAMP), body=EXAMPLE_BODY) == EXAMPLE_SIGNATURE
    )
    assert verifier.is_valid(EXAMPLE_BODY, str(EXAMPLE_TIMESTAMP), EXAMPLE_SIGNATURE)
    assert (
        sign(EXAMPLE_BODY, EXAMPLE_TIMESTAMP)["X-Slack-Signature"] == EXAMPLE_SIGNATURE
    )  # the tests' signer
    assert not verifier.is_valid(EXAMPLE_BODY + "x", str(EXAMPLE_TIMESTAMP), EXAMPLE_SIGNATURE)
    # five minutes later the same request is stale
    assert not SignatureVerifier(SECRET, clock=_At(EXAMPLE_TIMESTAMP + 301)).is_valid(
        EXAMPLE_BODY, str(EXAMPLE_TIMESTAMP), EXAMPLE_SIGNATURE
    )


@pytest.fixture
def starting_app(settings: Settings, fake_slack: FakeSlack) -> Iterator[TestClient]:
    """The app with Slack configured, its lifespan not started: the pipeline is never built."""
    yield TestClient(create_app(slack_settings(settings, fake_slack)))


def _dm(text: str = "Who urged Trump to kill Soleimani?") -> str:
    return event_body(
        {"type": "message", "channel_type": "im", "channel": "D0READER", "user": HUMAN, "text": text}
    )


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="missing"),
        pytest.param({"X-Slack-Request-Timestamp": str(int(time.time()))}, id="timestamp-only"),
        pytest.param({"X-Slack-Signature": "v0=" + "0" * 64}, id="signature-only"),
        pytest.param("forged", id="forged"),
        pytest.param("other-secret", id="other-secret"),
        pytest.param("stale", id="stale"),
        pytest.param("example", id="slack-example-replayed"),
    ],
)
def test_bad_signatures_get_401_and_nothing_is_processed(
    starting_app: TestClient, fake_slack: FakeSlack, headers: dict[str, str] | str
) -> None:
    body = _dm()
    if headers == "forged":
        headers = {**sign(body), "X-Slack-Signature": sign(body + " ")["X-Slack-Signature"]}
    elif headers == "other-secret":
        headers = sign(body, secret="0" * 32)
    elif headers == "stale":  # correctly signed, six minutes ago
        headers = sign(body, int(time.time()) - 360)
    elif headers == "example":  # Slack's own example: a valid signature, but from 2018
        body = EXAMPLE_BODY
        headers = {
            "X-Slack-Request-Timestamp": str(EXAMPLE_TIMESTAMP),
            "X-Slack-Signature": EXAMPLE_SIGNATURE,
        }
    assert isinstance(headers, dict)
    response = starting_app.post(
        "/slack/events", content=body, headers={**headers, "Content-Type": "application/json"}
    )
    assert response.status_code == 401
    time.sleep(0.3)  # anything started would have called Slack by now
    assert fake_slack.calls == []


def test_a_valid_signature_is_accepted(starting_app: TestClient, fake_slack: FakeSlack) -> None:
    body = json.dumps({"token": "unused", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
                       "type": "url_verification"})  # fmt: skip
    response = starting_app.post(
        "/slack/events", content=body, headers={**sign(body), "Content-Type": "application/json"}
    )
    assert response.status_code == 200
    assert response.json() == {"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}


def test_before_the_pipeline_is_ready_the_bot_says_so(
    starting_app: TestClient, fake_slack: FakeSlack
) -> None:
    body = _dm()
    response = starting_app.post(
        "/slack/events", content=body, headers={**sign(body), "Content-Type": "application/json"}
    )
    assert response.status_code == 200
    (post,) = fake_slack.wait_posts("D0READER", timeout=30)
    assert post.json is not None and "still starting" in post.json["text"]
    assert "thread_ts" not in post.json or post.json["thread_ts"] is None


def test_the_route_exists_only_when_slack_is_configured(client: TestClient, settings: Settings) -> None:
    body = _dm()
    headers = {**sign(body), "Content-Type": "application/json"}
    assert client.post("/slack/events", content=body, headers=headers).status_code == 404  # not configured
    half = settings.model_copy(update={"slack_bot_token": SecretStr("xoxb-only-the-token")})
    assert (
        TestClient(create_app(half)).post("/slack/events", content=body, headers=headers).status_code == 404
    )
    assert not any(str(getattr(r, "path", "")).startswith("/slack") for r in client.app.routes)  # type: ignore[attr-defined]
