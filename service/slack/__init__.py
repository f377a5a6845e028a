"""The Slack adapter: Block Kit rendering (`blocks`), the Bolt app and its listeners (`bot`), the
`POST /slack/events` route (`http`) and Socket Mode (`socket_mode`, the `verity slack` command).

Nothing here is imported unless Slack is configured, so slack_bolt is never loaded otherwise.
"""

from __future__ import annotations

from service.config import Settings


def http_enabled(settings: Settings) -> bool:
    """Whether `POST /slack/events` is served: the bot token and the signing secret are both set."""
    return bool(
        settings.slack_bot_token
        and settings.slack_bot_token.get_secret_value()
        and settings.slack_signing_secret
        and settings.slack_signing_secret.get_secret_value()
    )
