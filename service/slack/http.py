"""`POST /slack/events`: Slack's Events API and the `/ask` slash command, in Verity's FastAPI app.

Mounted by `create_app` only when `VERITY_SLACK_BOT_TOKEN` and `VERITY_SLACK_SIGNING_SECRET` are set.
A request whose signature is missing, wrong or stale (older than 5 minutes) gets a 401 before its body is
even parsed; the Bolt app, which checks the signature again, then gets the request on a worker thread
(Bolt is synchronous). Listeners run after the acknowledgement, on Bolt's own threads, so Slack gets its
acknowledgement within its 3 seconds however long the answer takes.
"""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import FastAPI, Request, Response
from slack_bolt import App
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from slack_sdk.signature import SignatureVerifier
from starlette.concurrency import run_in_threadpool

from service.config import Settings
from service.errors import NotReady
from service.http.deps import AppState
from service.http.handlers import error_response
from service.schemas import AskResponse, Turn
from service.slack.bot import AskFunction, build_app

PATH = "/slack/events"


def ask_when_ready(state: AppState) -> AskFunction:
    """`Verity.ask` once the lifespan has built it; `NotReady` until then."""

    def ask(question: str, history: list[Turn]) -> AskResponse:
        if state.verity is None:
            raise NotReady(state.error or "Verity is starting")
        return state.verity.ask(question, history)

    return ask


def mount_slack(app: FastAPI, settings: Settings, state: AppState) -> App:
    """Add `POST /slack/events` to `app`, answering with the pipeline in `state`."""
    bolt = build_app(settings, ask_when_ready(state))
    verifier = SignatureVerifier(
        settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else ""
    )

    async def slack_events(request: Request) -> Response:
        body = await request.body()
        if not _signed(verifier, body, request.headers):
            return error_response(401, "invalid_signature", "missing, wrong or stale Slack request signature")
        try:
            bolt_request = to_bolt_request(request, body)
        except ValueError:  # signed, so from Slack, but not JSON or a form as its content type says
            return error_response(400, "bad_request", "the request body does not match its content type")
        bolt_response = await run_in_threadpool(bolt.dispatch, bolt_request)
        return to_starlette_response(bolt_response)

    app.add_api_route(PATH, slack_events, methods=["POST"], include_in_schema=False)
    app.state.slack = bolt
    return bolt


def _signed(verifier: SignatureVerifier, body: bytes, headers: Mapping[str, str]) -> bool:
    try:
        return verifier.is_valid_request(body, headers)
    except (ValueError, TypeError):  # a timestamp that is not a number
        return False
