"""The Slack app manifest in the repo asks for what the bot uses: its scopes, events, `/ask`, and the
route Verity serves."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

import yaml

from service.slack.http import PATH

MANIFEST = Path(__file__).resolve().parents[2] / "slack" / "manifest.yml"


def test_manifest_matches_the_bot() -> None:
    manifest = yaml.safe_load(MANIFEST.read_text())
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    assert {"app_mentions:read", "chat:write", "im:history", "commands", "channels:history"} <= scopes
    settings = manifest["settings"]
    assert set(settings["event_subscriptions"]["bot_events"]) == {"app_mention", "message.im"}
    assert urlparse(settings["event_subscriptions"]["request_url"]).path == PATH
    (command,) = manifest["features"]["slash_commands"]
    assert command["command"] == "/ask" and urlparse(command["url"]).path == PATH
    assert settings["socket_mode_enabled"] in (True, False)
    assert manifest["features"]["bot_user"]["display_name"]
    assert manifest["features"]["app_home"]["messages_tab_enabled"] is True  # people can DM the bot
