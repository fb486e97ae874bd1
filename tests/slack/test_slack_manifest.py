"""The Slack app manifest (``slack/manifest.yml``) against the code: nothing may drift apart.

Every command and event the Bolt app listens to is in the manifest, every command and event the
manifest declares reaches a listener, and the manifest asks for exactly the scopes "Add to
Slack" asks for.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import yaml
from django.conf import settings

from hub.bots.app import slack_app
from hub.integrations.slack.oauth import BOT_SCOPES

MANIFEST = Path(settings.BASE_DIR) / "slack" / "manifest.yml"


def _listened() -> dict[str, set[str]]:
    """What the hub's Bolt app listens to: its commands, events, and interactive kinds."""
    found: dict[str, set[str]] = {"command": set(), "event": set(), "other": set()}
    for listener in slack_app("manifest-check-secret")._listeners:
        for matcher in listener.matchers:
            func = getattr(matcher, "func", None)
            if func is None:
                continue
            kind = func.__qualname__.split(".")[0]
            names = inspect.getclosurevars(func).nonlocals
            if kind == "command":
                assert isinstance(names["command"], str), "register commands by name"
                found["command"].add(names["command"])
            elif kind == "event":
                event = names.get("event_type") or (names.get("constraints") or {}).get("type")
                assert isinstance(event, str), "register events by name"
                found["event"].add(event)
            elif kind == "message_event":
                found["event"].add("message")
            else:
                found["other"].add(kind)
    return found


def test_the_manifest_names_every_command_event_and_scope_the_app_uses():
    manifest = yaml.safe_load(MANIFEST.read_text())
    base = "https://hub.example.com"
    features, oauth, app_settings = (
        manifest["features"],
        manifest["oauth_config"],
        manifest["settings"],
    )
    commands = {c["command"]: c for c in features["slash_commands"]}
    events = set(app_settings["event_subscriptions"]["bot_events"])
    listened = _listened()

    assert listened["command"] <= set(commands), "a command the app registers is missing"
    assert {"/call", "/deal", "/lead"} <= set(commands)
    for command in commands.values():
        assert command["url"] == f"{base}/slack/events"
        assert command["should_escape"] is True
        assert command["description"] and len(command["description"]) <= 100
        assert command["usage_hint"]
    plain_events = {e for e in listened["event"] if e != "message"}
    assert plain_events <= events, "an event the app listens to is not subscribed"
    if "message" in listened["event"]:
        assert any(e.startswith("message.") for e in events)
        assert features["app_home"]["messages_tab_read_only_enabled"] is False
    assert {"app_home_opened", "link_shared"} <= events
    assert app_settings["event_subscriptions"]["request_url"] == f"{base}/slack/events"
    interactivity = app_settings["interactivity"]
    assert (interactivity["is_enabled"], interactivity["request_url"]) == (
        True,
        f"{base}/slack/events",
    )
    if listened["other"] & {"block_suggestion", "dialog_suggestion"}:
        assert interactivity["message_menu_options_url"] == f"{base}/slack/events"
    if listened["other"] & {"shortcut", "global_shortcut", "message_shortcut"}:
        assert features["shortcuts"], "a shortcut the app listens to is not declared"

    assert oauth["redirect_urls"] == [f"{base}/slack/oauth_redirect"]
    assert oauth["scopes"]["bot"] == list(BOT_SCOPES)
    assert "user" not in oauth["scopes"]
    assert features["unfurl_domains"] == ["hub.example.com"]
    assert features["app_home"]["home_tab_enabled"] is True
    assert features["app_home"]["messages_tab_enabled"] is True
    assert features["bot_user"]["display_name"]
    assert app_settings["org_deploy_enabled"] is False
    assert app_settings["socket_mode_enabled"] is False
    assert app_settings["token_rotation_enabled"] is False


def test_every_command_of_the_manifest_reaches_a_listener():
    manifest = yaml.safe_load(MANIFEST.read_text())
    listened = _listened()
    for command in manifest["features"]["slash_commands"]:
        assert command["command"] in listened["command"], command["command"]
    for event in manifest["settings"]["event_subscriptions"]["bot_events"]:
        assert event in listened["event"], event
