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

    def __init__(
        self, message: str, *, code: str | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        #: Set when Slack answered 429: the seconds its ``Retry-After`` asks to wait.
        self.retry_after = retry_after


def _timeout(at_most: float | None = None) -> int:
    seconds = settings.SLACK_HTTP_TIMEOUT_SECONDS
    if at_most is not None:
        seconds = min(seconds, at_most)
    # slack_sdk takes whole seconds.
    return max(1, round(seconds))


def web_client(token: str | None, *, timeout: float | None = None) -> WebClient:
    """Return a WebClient for a workspace's bot token, at ``SLACK_API_URL``.

    slack_sdk's own retry handlers are off: a 429 reaches the caller as a SlackError with its
    ``retry_after``, and the caller (an actor) decides when to try again.
    """
    client = WebClient(token=token, base_url=settings.SLACK_API_URL, timeout=_timeout(timeout))
    client.retry_handlers = []
    return client


def _retry_after(response) -> float | None:
    if response is None or response.status_code != 429:
        return None
    headers = {key.lower(): value for key, value in (response.headers or {}).items()}
    raw = headers.get("retry-after")
    value = raw[0] if isinstance(raw, list) else raw
    try:
        return max(0.0, float(str(value)))
    except (TypeError, ValueError):
        return 1.0


def _call(method: str, fn, **kwargs: Any) -> dict[str, Any]:
    try:
        response = fn(**kwargs)
    except SlackApiError as exc:
        code = exc.response.get("error") if exc.response is not None else None
        retry_after = _retry_after(exc.response)
        if retry_after is not None:
            raise SlackError(
                f"Slack rate-limited {method} (retry after {retry_after:g} s)",
                code=code or "ratelimited",
                retry_after=retry_after,
            ) from exc
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
    *,
    response_url: str,
    text: str,
    replace_original: bool = False,
    timeout: float | None = None,
    blocks: list[dict[str, Any]] | None = None,
    public: bool = False,
) -> None:
    """Answer an interaction through its ``response_url``, visible to its user only (unless
    ``public``: in the channel).

    ``response_url`` comes from a request whose Slack signature was checked. ``timeout`` caps
    ``SLACK_HTTP_TIMEOUT_SECONDS`` (a reply sent before Slack's own request is answered).
    """
    try:
        response = WebhookClient(response_url, timeout=_timeout(timeout)).send(
            text=text,
            blocks=blocks or None,
            response_type="in_channel" if public else "ephemeral",
            replace_original=replace_original,
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


def message_post(
    *, token: str, channel: str, text: str, blocks: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """Post a message to a channel or a DM (``chat.postMessage``); Slack's answer (``ts``…)."""
    return _call(
        "chat.postMessage",
        web_client(token).chat_postMessage,
        channel=channel,
        text=text,
        blocks=blocks or None,
        unfurl_links=False,
    )


def dm_open(*, token: str, slack_user_id: str) -> str:
    """Return the id of the bot's DM channel with a user (``conversations.open``)."""
    data = _call("conversations.open", web_client(token).conversations_open, users=slack_user_id)
    return str((data.get("channel") or {}).get("id") or "")


def user_by_email(*, token: str, email: str, timeout: float | None = None) -> str | None:
    """Return the Slack user id with this e-mail in the workspace, or None."""
    try:
        data = _call(
            "users.lookupByEmail",
            web_client(token, timeout=timeout).users_lookupByEmail,
            email=email,
        )
    except SlackError as exc:
        if exc.code == "users_not_found":
            return None
        raise
    return str((data.get("user") or {}).get("id") or "") or None


def view_open(
    *, token: str, trigger_id: str, view: dict[str, Any], timeout: float | None = None
) -> dict[str, Any]:
    """Open a modal (``views.open``); ``trigger_id`` is valid for 3 s after the click."""
    return _call(
        "views.open",
        web_client(token, timeout=timeout).views_open,
        trigger_id=trigger_id,
        view=view,
    )


def view_publish(*, token: str, slack_user_id: str, view: dict[str, Any]) -> dict[str, Any]:
    """Publish a user's App Home tab (``views.publish``)."""
    return _call("views.publish", web_client(token).views_publish, user_id=slack_user_id, view=view)


def unfurl(
    *,
    token: str,
    unfurls: dict[str, Any],
    channel: str | None = None,
    ts: str | None = None,
    source: str | None = None,
    unfurl_id: str | None = None,
) -> dict[str, Any]:
    """Unfold links of a message into cards (``chat.unfurl``): ``{url: {"blocks": [...]}}``.

    The message is named by ``channel`` and ``ts``; a link still in the message box
    (``link_shared`` with ``source="composer"``) by ``unfurl_id`` and ``source`` instead.
    """
    return _call(
        "chat.unfurl",
        web_client(token).chat_unfurl,
        channel=channel,
        ts=ts,
        source=source,
        unfurl_id=unfurl_id,
        unfurls=unfurls,
    )


def oauth_access(
    *, client_id: str, client_secret: str, code: str, redirect_uri: str | None = None
) -> dict[str, Any]:
    """Exchange an install's ``code`` for its tokens (``oauth.v2.access``); Slack's answer."""
    return _call(
        "oauth.v2.access",
        web_client(None).oauth_v2_access,
        client_id=client_id,
        client_secret=client_secret,
        code=code,
        redirect_uri=redirect_uri,
    )
