"""Socket Mode (`verity slack`): the same Bolt app, reached over a WebSocket that Verity opens to Slack,
for workspaces where Slack cannot reach a public URL. Needs `VERITY_SLACK_APP_TOKEN` (xapp-…)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from slack_bolt.adapter.socket_mode import SocketModeHandler

from service.config import Settings
from service.errors import ConfigError
from service.slack.bot import build_app

if TYPE_CHECKING:
    from service.answering.pipeline import Verity


def socket_mode_handler(settings: Settings, verity: Verity) -> SocketModeHandler:
    """A handler ready to `connect()` (returns) or `start()` (blocks until the process ends)."""
    if not settings.slack_app_token or not settings.slack_app_token.get_secret_value():
        raise ConfigError("VERITY_SLACK_APP_TOKEN is not set")
    app = build_app(settings, verity.ask, socket_mode=True)
    return SocketModeHandler(app, settings.slack_app_token.get_secret_value())
