"""Posting a workspace's alerts to Slack, one at a time and in order.

The alerts of one installation are posted in id order (the log's order, so per deal too). A
worker *claims* the oldest alert waiting, in a short transaction holding the installation's row
lock (a worker finding it locked leaves: another one is claiming), and only while no alert of
the installation is ``sending``: it marks the alert ``sending`` with a lease
(``next_attempt_at``, :data:`SENDING_LEASE` ahead), commits, posts, then records the outcome. A
worker that dies between the claim and the outcome leaves a ``sending`` alert whose lease runs
out; the next worker takes it again, so an alert may at worst be posted twice, never skipped.

What Slack answers decides what comes next:

- a 429: the alert waits its ``Retry-After`` (not counted as an attempt), and so do the alerts
  after it (their order holds); the caller is told when to come back;
- a channel the bot cannot post to (removed, archived, not found): the alert fails, the
  installation records why (the console shows it), and the next alert goes on;
- a member without a Slack user in the workspace: the DM is skipped, saying why;
- anything else: tried again later (backoff) up to ``HUB_SLACK_ALERT_MAX_ATTEMPTS`` times.

The message's wording is the caller's (``render``): the worker passes the bots' wording in, as an
integration does not import the Slack app.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from hub.domain.authentication.models import User
from hub.domain.authentication.selectors import company_member_is_active
from hub.integrations.slack.alerts import ALERTS, alert_is_on
from hub.integrations.slack.client import SlackError, dm_open, message_post, user_by_email
from hub.integrations.slack.models import AlertStatus, SlackAlert, SlackInstallation, SlackUserLink
from hub.integrations.slack.services import (
    SlackLinkError,
    slack_bot_token,
    slack_installation_is_on,
    slack_user_link_add,
)

logger = logging.getLogger(__name__)

Render = Callable[[SlackAlert], tuple[str, list[dict[str, Any]]]]

#: How long a claimed alert may stay ``sending`` before it counts as left by a dead worker.
SENDING_LEASE = timedelta(minutes=2)
#: At most this many alerts, and about this long, per run: the next run (enqueued at once) goes
#: on after other workspaces' runs, and a run ends well within its actor's time limit.
BATCH = 50
BUDGET_SECONDS = 60.0
BACKOFF_FIRST_SECONDS = 10.0
BACKOFF_MAX_SECONDS = 15 * 60.0
# The bot cannot post there: not retried, reported on the installation.
CHANNEL_GONE = frozenset(
    {"channel_not_found", "not_in_channel", "is_archived", "channel_is_archived", "invalid_channel"}
)
# The member cannot be written to in this workspace: the DM is skipped.
MEMBER_GONE = frozenset(
    {"users_not_found", "user_not_found", "user_disabled", "cannot_dm_bot", "user_is_bot"}
)
# Trying again changes nothing until a person does something (a new token, a scope).
REFUSED = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "token_revoked",
        "token_expired",
        "account_inactive",
        "missing_scope",
        "not_allowed_token_type",
        "no_permission",
        "restricted_action",
        "ekm_access_denied",
        "team_access_not_granted",
        "invalid_blocks",
        "invalid_blocks_format",
        "msg_too_long",
        "no_text",
    }
)
_CHANNEL_WORDS = {
    "not_in_channel": "the bot is not a member of channel {channel}: invite the app there "
    "(/invite @app), then retry the failed alerts, or choose another channel",
    "channel_not_found": "Slack has no channel {channel} the bot can see (a private channel "
    "needs the app invited): choose another channel or invite the app",
    "invalid_channel": "{channel} is not a channel Slack knows: choose another alerts channel",
    "is_archived": "channel {channel} is archived: choose another alerts channel",
    "channel_is_archived": "channel {channel} is archived: choose another alerts channel",
}


@dataclass
class Delivery:
    """What one run did, and when the installation's queue may move again (None: nothing waits
    on a time; 0: more to post now)."""

    sent: int = 0
    failed: int = 0
    skipped: int = 0
    retry_in: float | None = None
    busy: bool = False  # another worker is posting this installation's alerts


def slack_alerts_deliver(
    installation_id: int, *, render: Render, now: datetime | None = None, limit: int = BATCH
) -> Delivery:
    """Post the installation's alerts that are due, oldest first, until one must wait."""
    result = Delivery()
    deadline = time.monotonic() + BUDGET_SECONDS
    for _ in range(limit):
        if time.monotonic() > deadline:
            break
        at = now or timezone.now()
        alert = _claim(installation_id, now=at, result=result)
        if alert is None:
            return result
        _post(alert, render=render, now=at, result=result)
        if result.retry_in is not None:
            return result
    result.retry_in = 0.0
    return result


def _claim(installation_id: int, *, now: datetime, result: Delivery) -> SlackAlert | None:
    with transaction.atomic():
        installation = (
            SlackInstallation.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("company")
            .filter(pk=installation_id)
            .first()
        )
        if installation is None:
            result.busy = SlackInstallation.objects.filter(pk=installation_id).exists()
            return None
        queue = SlackAlert.objects.filter(
            installation=installation, status__in=(AlertStatus.PENDING, AlertStatus.SENDING)
        )
        if not slack_installation_is_on(installation):
            _skip_all(queue.filter(status=AlertStatus.PENDING), result)
            return None
        if queue.filter(status=AlertStatus.SENDING, next_attempt_at__gt=now).exists():
            result.busy = True
            return None
        for alert in queue.order_by("pk")[:BATCH]:
            next_at = alert.next_attempt_at
            if alert.status == AlertStatus.PENDING and next_at is not None and next_at > now:
                result.retry_in = (next_at - now).total_seconds()
                return None
            if alert.status == AlertStatus.SENDING and _out_of_attempts(alert):
                reason = f"The worker stopped {alert.attempts} times while posting it."
                _finish(alert, AlertStatus.FAILED, reason, result)
                continue
            alert.status = AlertStatus.SENDING
            alert.attempts += 1
            alert.next_attempt_at = now + SENDING_LEASE
            alert.save(update_fields=["status", "attempts", "next_attempt_at"])
            alert.installation = installation
            return alert
    return None


def _skip_all(queue, result: Delivery) -> None:
    reason = "The workspace or its company was switched off before it was posted."
    for kind in queue.values_list("kind", flat=True):
        ALERTS.labels(kind=kind, outcome=AlertStatus.SKIPPED).inc()
    result.skipped += queue.update(
        status=AlertStatus.SKIPPED, last_error=reason, next_attempt_at=None
    )


def _out_of_attempts(alert: SlackAlert) -> bool:
    return alert.attempts >= settings.HUB_SLACK_ALERT_MAX_ATTEMPTS


def _post(alert: SlackAlert, *, render: Render, now: datetime, result: Delivery) -> None:
    installation = alert.installation
    if not alert_is_on(installation, alert.kind):
        _finish(alert, AlertStatus.SKIPPED, "Alerts of this kind were switched off.", result)
        return
    if alert.user_id is None:
        if not installation.alerts_channel_id:
            _finish(alert, AlertStatus.SKIPPED, "The workspace has no alerts channel now.", result)
            return
        # The channel chosen now: changed since (the old one lost?), the alert goes there.
        alert.channel_id = installation.alerts_channel_id
    try:
        token = slack_bot_token(installation)
        channel = alert.channel_id if alert.user_id is None else _dm_channel(alert, token, result)
        if channel is None:
            return
        text, blocks = render(alert)
        answer = message_post(token=token, channel=channel, text=text, blocks=blocks)
    except SlackLinkError as exc:
        _channel_failed(alert, str(exc), result)
    except SlackError as exc:
        _refused(alert, exc, now=now, result=result)
    except Exception as exc:
        # The wording or the database failed: tried again like a Slack outage, then given up.
        logger.exception("slack alert %s: could not be posted", alert.pk)
        _again_later(alert, f"Error: {exc}", now=now, result=result)
    else:
        _sent(alert, str(answer.get("ts") or ""), now=now, result=result)


def _dm_channel(alert: SlackAlert, token: str, result: Delivery) -> str | None:
    """The DM channel with the alert's member, or None (the alert skipped, saying why)."""
    installation = alert.installation
    user = alert.user
    if user is None or not company_member_is_active(
        company_id=installation.company_id, user_id=user.pk
    ):
        _finish(alert, AlertStatus.SKIPPED, "Not an active member of the company now.", result)
        return None
    slack_user_id = _slack_user_id(installation, user, token)
    if slack_user_id is None:
        reason = (
            f"No Slack user of this workspace has the member's e-mail ({user.email or 'none'})."
        )
        _finish(alert, AlertStatus.SKIPPED, reason[:255], result)
        return None
    return dm_open(token=token, slack_user_id=slack_user_id)


def _slack_user_id(installation: SlackInstallation, user: User, token: str) -> str | None:
    """The member's Slack user: the link stored, else found by e-mail (and the link stored)."""
    linked = (
        SlackUserLink.objects.filter(installation=installation, user=user)
        .order_by("-updated_at")
        .values_list("slack_user_id", flat=True)
        .first()
    )
    if linked:
        return linked
    if not user.email:
        return None
    found = user_by_email(token=token, email=user.email)
    if found:
        try:
            with transaction.atomic():
                slack_user_link_add(
                    installation=installation, slack_user_id=found, user=user, email=user.email
                )
        except (ValidationError, IntegrityError):
            pass  # linked to someone else, or by a concurrent worker: the DM goes anyway
    return found


def _refused(alert: SlackAlert, exc: SlackError, *, now: datetime, result: Delivery) -> None:
    if exc.retry_after is not None:
        wait = max(1.0, exc.retry_after)
        alert.status = AlertStatus.PENDING
        alert.attempts = max(0, alert.attempts - 1)  # a 429 is not the alert's fault
        alert.next_attempt_at = now + timedelta(seconds=wait)
        alert.last_error = str(exc)[:255]
        alert.save(update_fields=["status", "attempts", "next_attempt_at", "last_error"])
        ALERTS.labels(kind=alert.kind, outcome="ratelimited").inc()
        result.retry_in = wait
    elif exc.code in MEMBER_GONE and alert.user_id is not None:
        _finish(
            alert, AlertStatus.SKIPPED, f"Slack: the member cannot be sent a DM ({exc}).", result
        )
    elif exc.code in CHANNEL_GONE and alert.user_id is None:
        words = _CHANNEL_WORDS[exc.code].format(channel=alert.channel_id)
        _channel_failed(alert, words[0].upper() + words[1:] + ".", result)
    elif exc.code in CHANNEL_GONE or exc.code in MEMBER_GONE or exc.code in REFUSED:
        _channel_failed(alert, str(exc), result)
    else:
        _again_later(alert, str(exc), now=now, result=result)


def _again_later(alert: SlackAlert, reason: str, *, now: datetime, result: Delivery) -> None:
    if _out_of_attempts(alert):
        _channel_failed(alert, f"Gave up after {alert.attempts} attempts: {reason}", result)
        return
    delay = min(BACKOFF_FIRST_SECONDS * 2 ** max(0, alert.attempts - 1), BACKOFF_MAX_SECONDS)
    alert.status = AlertStatus.PENDING
    alert.next_attempt_at = now + timedelta(seconds=delay)
    alert.last_error = reason[:255]
    alert.save(update_fields=["status", "next_attempt_at", "last_error"])
    ALERTS.labels(kind=alert.kind, outcome="retried").inc()
    result.retry_in = delay


def _channel_failed(alert: SlackAlert, reason: str, result: Delivery) -> None:
    """Fail the alert; a channel alert also tells the installation (the console shows it)."""
    _finish(alert, AlertStatus.FAILED, reason, result)
    if alert.user_id is None:
        SlackInstallation.objects.filter(pk=alert.installation_id).update(
            alerts_channel_error=reason[:255]
        )


def _finish(alert: SlackAlert, status: str, reason: str, result: Delivery) -> None:
    alert.status = status
    alert.last_error = reason[:255]
    alert.next_attempt_at = None
    alert.save(update_fields=["status", "channel_id", "last_error", "next_attempt_at"])
    ALERTS.labels(kind=alert.kind, outcome=status).inc()
    if status == AlertStatus.FAILED:
        result.failed += 1
    else:
        result.skipped += 1


def _sent(alert: SlackAlert, ts: str, *, now: datetime, result: Delivery) -> None:
    alert.status = AlertStatus.SENT
    alert.message_ts = ts[:32]
    alert.sent_at = now
    alert.next_attempt_at = None
    alert.last_error = ""
    alert.save(
        update_fields=[
            "status",
            "channel_id",
            "message_ts",
            "sent_at",
            "next_attempt_at",
            "last_error",
        ]
    )
    ALERTS.labels(kind=alert.kind, outcome=AlertStatus.SENT).inc()
    result.sent += 1
    if alert.user_id is None:
        # The channel works again: what the console showed is over.
        SlackInstallation.objects.filter(
            pk=alert.installation_id, alerts_channel_id=alert.channel_id
        ).exclude(alerts_channel_error="").update(alerts_channel_error="")
