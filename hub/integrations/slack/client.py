"""The Slack Web API and ``response_url``: the few calls the hub makes, with one error type.

``SLACK_API_URL`` points the real slack_sdk client at another host (the tests' loopback fake).
Nothing outside this module knows HTTP or slack_sdk's exceptions: callers see
:class:`SlackError`.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web import WebClient
from slack_sdk.webhook import WebhookClient


class SlackError(Exception):
    """Slack refused a request or could not be reached; ``str()`` reads well in a sentence.

    ``code`` is Slack's error string (``user_not_found``, ``invalid_auth``…) when it gave one.
    """

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


def _timeout(at_most: float | None = None) -> int:
    seconds = settings.SLACK_HTTP_TIMEOUT_SECONDS
    if at_most is not None:
        seconds = min(seconds, at_most)
    # slack_sdk takes whole seconds.
    return max(1, round(seconds))


def web_client(token: str, *, timeout: float | None = None) -> WebClient:
    """Return a WebClient for a workspace's bot token, at ``SLACK_API_URL``."""
    return WebClient(token=token, base_url=settings.SLACK_API_URL, timeout=_timeout(timeout))


def _call(method: str, fn, **kwargs: Any) -> dict[str, Any]:
    try:
        response = fn(**kwargs)
    except SlackApiError as exc:
        code = exc.response.get("error") if exc.response is not None else None
        raise SlackError(f"Slack refused {method} ({code})", code=code) from exc
    except (SlackClientError, OSError) as exc:
        raise SlackError(f"Slack could not be reached for {method} ({exc})") from exc
    return dict(response.data) if isinstance(response.data, dict) else {}


def user_email(*, token: str, slack_user_id: str, timeout: float | None = None) -> str | None:
    """Return the e-mail of a Slack user (needs ``users:read.email``), or None if Slack has none."""
    data = _call("users.info", web_client(token, timeout=timeout).users_info, user=slack_user_id)
    profile = (data.get("user") or {}).get("profile") or {}
    email = profile.get("email")
    return email.strip() if isinstance(email, str) and email.strip() else None


def ephemeral_post(*, token: str, channel: str, user: str, text: str) -> None:
    """Show ``text`` to one user in a channel (``chat.postEphemeral``)."""
    _call(
        "chat.postEphemeral",
        web_client(token).chat_postEphemeral,
        channel=channel,
        user=user,
        text=text,
    )


def response_post(
    *, response_url: str, text: str, replace_original: bool = False, timeout: float | None = None
) -> None:
    """Answer an interaction through its ``response_url``, visible to its user only.

    ``response_url`` comes from a request whose Slack signature was checked. ``timeout`` caps
    ``SLACK_HTTP_TIMEOUT_SECONDS`` (a reply sent before Slack's own request is answered).
    """
    try:
        response = WebhookClient(response_url, timeout=_timeout(timeout)).send(
            text=text, response_type="ephemeral", replace_original=replace_original
        )
    except (SlackClientError, OSError) as exc:
        raise SlackError(f"Slack could not be reached at the response URL ({exc})") from exc
    if response.status_code != 200:
        raise SlackError(
            f"Slack refused the response ({response.status_code} {response.body!s:.100})",
            code=response.body if isinstance(response.body, str) else None,
        )


def auth_identity(*, token: str) -> dict[str, str]:
    """Return who a bot token is (``auth.test``): ``team_id``, ``team`` and ``user_id``."""
    data = _call("auth.test", web_client(token).auth_test)
    return {key: str(data.get(key) or "") for key in ("team_id", "team", "user_id")}
